"use node";
// Runs in Convex's Node.js runtime, not its isolate: measures that runtime's
// start-up and the round trip from a Node action to a mutation.
import { randomInt } from "node:crypto";
import { api } from "../_generated/api";
import { action } from "../_generated/server";
import { RAND_MAX } from "../common";

export default action({
  args: {},
  handler: async (ctx) => {
    // node:crypto exists only in the Node runtime, so this step proves the
    // action really ran there.
    const rand = randomInt(RAND_MAX);
    await ctx.runMutation(api.insert.insertMessageWithArgs, {
      channel: "global",
      timestamp: Date.now(),
      rand,
      ballastCount: 0,
      count: 1,
      table: "messages_with_search",
    });
  },
});
