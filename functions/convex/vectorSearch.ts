import { v } from "convex/values";
import { action } from "./_generated/server";

/**
 * The `limit` rows nearest to `vector` among those of the given users, as
 * `[{ _id, _score }]`. Vector search runs only in actions.
 */
export default action({
  args: {
    vector: v.array(v.float64()),
    limit: v.number(),
    users: v.array(v.string()),
  },
  handler: (ctx, { vector, limit, users }) =>
    ctx.vectorSearch("openclaurd", "embedding", {
      vector,
      limit,
      filter: (q) => q.or(...users.map((user) => q.eq("user", user))),
    }),
});
