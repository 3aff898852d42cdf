// Writes: the mutation scenarios and the inserts that ObserveInsert watches.
import { v } from "convex/values";
import { mutation } from "./_generated/server";
import { insertMessages, insertMessagesArgs, randomRand } from "./common";

/** One message in channel global of `messages`. */
export const insertMessage = mutation({
  args: {},
  handler: (ctx) =>
    insertMessages(ctx.db, {
      channel: "global",
      timestamp: Date.now(),
      rand: randomRand(),
      ballastCount: 0,
      count: 1,
      table: "messages",
    }),
});

/** One message in channel global of `messages_with_search` (also updates its search index). */
export const insertMessageWithSearch = mutation({
  args: {},
  handler: (ctx) =>
    insertMessages(ctx.db, {
      channel: "global",
      timestamp: Date.now(),
      rand: randomRand(),
      ballastCount: 0,
      count: 1,
      table: "messages_with_search",
    }),
});

/** A heavy write: 100 messages with 4000 numbers of ballast each, in channel large. */
export const insertLargeMessage = mutation({
  args: {},
  handler: (ctx) =>
    insertMessages(ctx.db, {
      channel: "large",
      timestamp: Date.now(),
      rand: randomRand(),
      ballastCount: 4000,
      count: 100,
      table: "messages_with_search",
    }),
});

/** `count` messages exactly as the caller describes them. */
export const insertMessageWithArgs = mutation({
  args: insertMessagesArgs,
  handler: (ctx, args) => insertMessages(ctx.db, args),
});

/** `n` rounds of `insertMessageWithArgs` in one transaction. */
export const insertMessagesWithArgs = mutation({
  args: { ...insertMessagesArgs, n: v.number() },
  handler: async (ctx, { n, ...args }) => {
    for (let i = 0; i < n; i++) {
      await insertMessages(ctx.db, args);
    }
  },
});
