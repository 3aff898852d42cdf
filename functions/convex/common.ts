// Helpers shared by the benchmark functions: random values shaped like the
// ones Convex's own load generator writes, and the message insert loop.
import { v } from "convex/values";
import type { Infer } from "convex/values";
import type { DatabaseWriter } from "./_generated/server";

/** `rand` fields are integers in [0, RAND_MAX). */
export const RAND_MAX = 1_000_000_000;
/** Dimensions of `openclaurd.embedding` (the size of OpenAI's ada-002 vectors). */
export const EMBEDDING_SIZE = 1536;

export function randomRand(): number {
  return Math.floor(Math.random() * RAND_MAX);
}

// A fixed vocabulary keeps message bodies real words, so full-text search has
// something to tokenize, without a dependency for random words.
const WORDS = [
  "apple", "river", "stone", "cloud", "forest", "candle", "mirror", "garden",
  "bridge", "engine", "window", "planet", "silver", "harbor", "lantern",
  "meadow", "thunder", "violet", "pepper", "canyon", "island", "marble",
  "orchard", "pencil", "rocket", "saddle", "tunnel", "velvet", "whistle",
  "anchor", "basket", "cactus", "dragon", "falcon", "glacier", "hammer",
  "igloo", "jungle", "kettle", "ladder", "magnet", "needle", "oyster",
  "parrot", "quartz", "ribbon", "shadow", "tiger", "umbrella", "valley",
  "walnut", "yogurt", "zebra", "acorn", "blossom", "copper", "desert",
  "ember", "feather", "granite", "horizon", "ivory", "jasmine", "kayak",
  "lemon", "mango", "nectar", "olive", "pumpkin", "quiver", "raven",
  "sparrow", "tulip", "urchin", "vapor", "willow", "yarrow", "zephyr",
  "beacon", "cobalt", "dune", "fjord", "grove", "hazel", "indigo", "juniper",
  "kernel", "lagoon", "mosaic", "nebula", "onyx", "prairie", "quill",
  "reef", "summit", "timber", "utopia", "vortex", "wren", "yonder", "zinc",
];

export function randomWords(count: number): string {
  const picked: string[] = [];
  for (let i = 0; i < count; i++) {
    picked.push(WORDS[Math.floor(Math.random() * WORDS.length)]);
  }
  return picked.join(" ");
}

export function randomEmbedding(): number[] {
  return Array.from({ length: EMBEDDING_SIZE }, () => Math.random());
}

/** The two tables that hold messages; they differ only in their indexes. */
export const messageTable = v.union(
  v.literal("messages"),
  v.literal("messages_with_search"),
);
export type MessageTable = Infer<typeof messageTable>;

/** What a query scenario sends so that each call misses the query cache. */
export const cacheBreakerArgs = { cacheBreaker: v.number() };

export const insertMessagesArgs = {
  channel: v.string(),
  timestamp: v.number(),
  rand: v.number(),
  ballastCount: v.number(),
  count: v.number(),
  table: messageTable,
};

/**
 * Inserts `count` one-word messages, each carrying a ballast array of
 * `ballastCount` numbers to make the documents as large as a scenario wants.
 */
export async function insertMessages(
  db: DatabaseWriter,
  args: {
    channel: string;
    timestamp: number;
    rand: number;
    ballastCount: number;
    count: number;
    table: MessageTable;
  },
): Promise<void> {
  const ballastArray = Array.from({ length: args.ballastCount }, (_, i) => i);
  for (let i = 0; i < args.count; i++) {
    await db.insert(args.table, {
      channel: args.channel,
      timestamp: args.timestamp,
      rand: args.rand,
      body: randomWords(1),
      ballastArray,
    });
  }
}
