// Full-text search on `messages_with_search`, and the writes that churn it.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import type { QueryCtx } from "./_generated/server";
import { cacheBreakerArgs, randomRand, randomWords } from "./common";

/** The best `limit` matches of `body` among the messages of `channel`. */
export default query({
  args: { channel: v.string(), body: v.string(), limit: v.number() },
  handler: (ctx, { channel, body, limit }) =>
    ctx.db
      .query("messages_with_search")
      .withSearchIndex("search_body", (q) =>
        q.search("body", body).eq("channel", channel),
      )
      .take(limit),
});

/**
 * A random row: the first at or after a random point of the `by_rand` index,
 * wrapping to the start when the point falls past the last row.
 */
async function randomSearchDocument(ctx: QueryCtx) {
  const target = randomRand();
  const atOrAfter = await ctx.db
    .query("messages_with_search")
    .withIndex("by_rand", (q) => q.gte("rand", target))
    .first();
  return (
    atOrAfter ??
    (await ctx.db.query("messages_with_search").withIndex("by_rand").first())
  );
}

export const findRandomSearchDocument = query({
  args: cacheBreakerArgs,
  handler: (ctx) => randomSearchDocument(ctx),
});

/** Deletes a random row (no-op on an empty table). */
export const deleteMessageWithSearch = mutation({
  args: {},
  handler: async (ctx) => {
    const row = await randomSearchDocument(ctx);
    if (row !== null) {
      await ctx.db.delete(row._id);
    }
  },
});

/** Replaces a random row with a new body and rand (no-op on an empty table). */
export const replaceMessageWithSearch = mutation({
  args: {},
  handler: async (ctx) => {
    const row = await randomSearchDocument(ctx);
    if (row !== null) {
      await ctx.db.replace(row._id, {
        channel: "global",
        timestamp: row.timestamp,
        rand: randomRand(),
        body: randomWords(1),
        ballastArray: [],
      });
    }
  },
});
