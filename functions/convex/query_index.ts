// Indexed reads: the query scenarios and the subscriptions of ObserveInsert.
import { v } from "convex/values";
import { query } from "./_generated/server";
import type { QueryCtx } from "./_generated/server";
import { cacheBreakerArgs, messageTable } from "./common";
import type { MessageTable } from "./common";

/**
 * The first `limit` messages of `channel` whose rand is >= `rand`. A random
 * `rand` lands each call on a different index range, so calls miss the cache.
 */
function firstMessagesFrom(
  ctx: QueryCtx,
  table: MessageTable,
  channel: string,
  rand: number,
  limit: number,
) {
  return ctx.db
    .query(table)
    .withIndex("by_channel_rand", (q) =>
      q.eq("channel", channel).gte("rand", rand),
    )
    .take(limit);
}

export const queryMessages = query({
  args: cacheBreakerArgs,
  handler: (ctx, { cacheBreaker }) =>
    firstMessagesFrom(ctx, "messages", "global", cacheBreaker, 10),
});

export const queryMessagesWithSearch = query({
  args: cacheBreakerArgs,
  handler: (ctx, { cacheBreaker }) =>
    firstMessagesFrom(ctx, "messages_with_search", "global", cacheBreaker, 10),
});

export const queryMessagesWithArgs = query({
  args: {
    channel: v.string(),
    rand: v.number(),
    limit: v.number(),
    table: messageTable,
  },
  handler: (ctx, { channel, rand, limit, table }) =>
    firstMessagesFrom(ctx, table, channel, rand, limit),
});

/** One message by id, or null once it was deleted. */
export const queryMessagesById = query({
  args: { id: v.union(v.id("messages"), v.id("messages_with_search")) },
  handler: (ctx, { id }) => ctx.db.get(id),
});
