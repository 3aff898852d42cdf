// Calls into the counter component (../counterComponent): measures the cost
// of crossing a component boundary.
import { components } from "./_generated/api";
import { action, mutation, query } from "./_generated/server";
import { cacheBreakerArgs } from "./common";

/** The component's counter. */
export const componentQuery = query({
  args: cacheBreakerArgs,
  handler: (ctx): Promise<number> =>
    ctx.runQuery(components.counter.public.load, {}),
});

/** Increments the counter; returns the new count. */
export const componentMutation = mutation({
  args: {},
  handler: (ctx): Promise<number> =>
    ctx.runMutation(components.counter.public.increment, {}),
});

/** Resets the counter from an action; returns the count afterwards (0). */
export const componentAction = action({
  args: {},
  handler: async (ctx): Promise<number> => {
    await ctx.runMutation(components.counter.public.reset, {});
    return await ctx.runQuery(components.counter.public.load, {});
  },
});
