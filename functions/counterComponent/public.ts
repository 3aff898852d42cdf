// The counter component's API: one counter, stored in its own table.
import { mutation, query } from "./_generated/server";

export const load = query({
  args: {},
  handler: async (ctx): Promise<number> => {
    const counter = await ctx.db.query("counters").first();
    return counter?.count ?? 0;
  },
});

export const increment = mutation({
  args: {},
  handler: async (ctx): Promise<number> => {
    const counter = await ctx.db.query("counters").first();
    if (counter === null) {
      await ctx.db.insert("counters", { count: 1 });
      return 1;
    }
    await ctx.db.patch(counter._id, { count: counter.count + 1 });
    return counter.count + 1;
  },
});

export const reset = mutation({
  args: {},
  handler: async (ctx) => {
    for (const counter of await ctx.db.query("counters").collect()) {
      await ctx.db.delete(counter._id);
    }
  },
});
