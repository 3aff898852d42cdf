// Seeding, run once before the scenarios start.
import { v } from "convex/values";
import { mutation } from "./_generated/server";
import { randomEmbedding, randomRand, randomWords } from "./common";

/** Inserts `rows` messages into `messages`. The first gets rand 0: `update` targets it. */
export const setupMessages = mutation({
  args: { rows: v.number(), channel: v.string() },
  handler: async (ctx, { rows, channel }) => {
    for (let i = 0; i < rows; i++) {
      await ctx.db.insert("messages", {
        channel,
        timestamp: 0,
        rand: i === 0 ? 0 : randomRand(),
        body: randomWords(1),
        ballastArray: [],
      });
    }
  },
});

/** Inserts `rows` rows with a random embedding into `openclaurd`. */
export const setupVectors = mutation({
  args: { rows: v.number() },
  handler: async (ctx, { rows }) => {
    for (let i = 0; i < rows; i++) {
      await ctx.db.insert("openclaurd", {
        user: randomWords(1),
        timestamp: 0,
        text: randomWords(10),
        rand: randomRand(),
        embedding: randomEmbedding(),
      });
    }
  },
});
