// Rows with embeddings: the writes and reads around the vector scenarios.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import {
  cacheBreakerArgs,
  randomEmbedding,
  randomRand,
  randomWords,
} from "./common";

/** Inserts a row whose user is one of `users` distinct values. */
async function insertRow(ctx: MutationCtx, users: number) {
  await ctx.db.insert("openclaurd", {
    user: `user ${Math.floor(Math.random() * users)}`,
    timestamp: Date.now(),
    text: randomWords(10),
    rand: randomRand(),
    embedding: randomEmbedding(),
  });
}

/** Few users: each vector index filter value covers many rows. */
export const insertOpenclaurdLowCardinality = mutation({
  args: {},
  handler: (ctx) => insertRow(ctx, 5),
});

/** Many users: each filter value covers few rows. */
export const insertOpenclaurdHighCardinality = mutation({
  args: {},
  handler: (ctx) => insertRow(ctx, 100),
});

/** A random row via `by_rand`, wrapping to the start past the last row. */
async function randomRow(ctx: QueryCtx) {
  const target = randomRand();
  const atOrAfter = await ctx.db
    .query("openclaurd")
    .withIndex("by_rand", (q) => q.gte("rand", target))
    .first();
  return (
    atOrAfter ??
    (await ctx.db.query("openclaurd").withIndex("by_rand").first())
  );
}

export const findRandomOpenclaurd = query({
  args: cacheBreakerArgs,
  handler: (ctx) => randomRow(ctx),
});

export const queryOpenclaurdById = query({
  args: { id: v.id("openclaurd") },
  handler: (ctx, { id }) => ctx.db.get(id),
});

/** Deletes a random row (no-op on an empty table). */
export const deleteOpenclaurd = mutation({
  args: {},
  handler: async (ctx) => {
    const row = await randomRow(ctx);
    if (row !== null) {
      await ctx.db.delete(row._id);
    }
  },
});
