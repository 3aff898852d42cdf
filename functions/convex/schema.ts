import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { EMBEDDING_SIZE } from "./common";

const message = {
  channel: v.string(),
  timestamp: v.number(),
  body: v.string(),
  rand: v.number(),
  ballastArray: v.array(v.number()),
};

export default defineSchema({
  // Plain messages: only an index, so writes pay for no search index.
  messages: defineTable(message).index("by_channel_rand", ["channel", "rand"]),

  // The same documents, also full-text searchable by body.
  messages_with_search: defineTable(message)
    .index("by_channel_rand", ["channel", "rand"])
    .index("by_rand", ["rand"])
    .searchIndex("search_body", {
      searchField: "body",
      filterFields: ["channel"],
    }),

  // Rows with an embedding for the vector search scenarios.
  openclaurd: defineTable({
    user: v.string(),
    timestamp: v.number(),
    text: v.string(),
    rand: v.number(),
    embedding: v.array(v.float64()),
  })
    .index("by_rand", ["rand"])
    .vectorIndex("embedding", {
      vectorField: "embedding",
      dimensions: EMBEDDING_SIZE,
      filterFields: ["user"],
    })
    .searchIndex("search_text", {
      searchField: "text",
      filterFields: ["user"],
    }),
});
