import { mutation } from "./_generated/server";

/**
 * Patches the timestamp of the one row that `setup:setupMessages` gave rand 0.
 * Every call writes the same document, so concurrent calls conflict on
 * purpose: this measures optimistic-concurrency retries.
 */
export default mutation({
  args: {},
  handler: async (ctx) => {
    const row = await ctx.db
      .query("messages")
      .withIndex("by_channel_rand", (q) =>
        q.eq("channel", "global").eq("rand", 0),
      )
      .first();
    if (row === null) {
      throw new Error(
        "update: no message with rand 0 in channel global; run setup:setupMessages first",
      );
    }
    await ctx.db.patch(row._id, { timestamp: Date.now() });
  },
});
