import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { allRows, newBackend } from "./backend";

async function insertWithSearch(t: ReturnType<typeof newBackend>, count: number) {
  for (let i = 0; i < count; i++) {
    await t.mutation(api.insert.insertMessageWithSearch, {});
  }
}

describe("search:default", () => {
  test("finds a just-inserted body, as the Search scenario asks for it", async () => {
    const t = newBackend();
    await insertWithSearch(t, 20);
    const [target] = await allRows(t, "messages_with_search");
    const hits = await t.query(api.search.default, {
      channel: "global",
      body: `nonexistentWord ${target.body} anotherNonexistentWord`,
      limit: 10,
    });
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0].body).toBe(target.body);
    expect(hits.map((h: { _id: string }) => h._id)).toContain(target._id);
  });

  test("filters by channel and honours limit", async () => {
    const t = newBackend();
    for (const channel of ["a", "a", "a", "b"]) {
      await t.mutation(api.insert.insertMessageWithArgs, {
        channel,
        timestamp: 0,
        rand: 1,
        ballastCount: 0,
        count: 1,
        table: "messages_with_search",
      });
    }
    await t.run(async (ctx) => {
      for (const row of await ctx.db.query("messages_with_search").collect()) {
        await ctx.db.patch(row._id, { body: "zanzibar" });
      }
    });
    const inB = await t.query(api.search.default, {
      channel: "b",
      body: "zanzibar",
      limit: 10,
    });
    expect(inB).toHaveLength(1);
    const inA = await t.query(api.search.default, {
      channel: "a",
      body: "zanzibar",
      limit: 2,
    });
    expect(inA).toHaveLength(2);
  });
});

describe("random rows of messages_with_search", () => {
  test("findRandomSearchDocument: null on an empty table, else a row", async () => {
    const t = newBackend();
    expect(
      await t.query(api.search.findRandomSearchDocument, { cacheBreaker: 1 }),
    ).toBeNull();
    await insertWithSearch(t, 5);
    const ids = new Set((await allRows(t, "messages_with_search")).map((r) => r._id));
    for (let i = 0; i < 10; i++) {
      const row = await t.query(api.search.findRandomSearchDocument, {
        cacheBreaker: i,
      });
      expect(ids.has(row._id)).toBe(true);
    }
  });

  test("deleteMessageWithSearch removes one row; no-op when empty", async () => {
    const t = newBackend();
    await t.mutation(api.search.deleteMessageWithSearch, {});
    await insertWithSearch(t, 3);
    await t.mutation(api.search.deleteMessageWithSearch, {});
    expect(await allRows(t, "messages_with_search")).toHaveLength(2);
  });

  test("replaceMessageWithSearch rewrites one row in place", async () => {
    const t = newBackend();
    await t.mutation(api.insert.insertMessageWithArgs, {
      channel: "elsewhere",
      timestamp: 77,
      rand: 5,
      ballastCount: 2,
      count: 1,
      table: "messages_with_search",
    });
    const [before] = await allRows(t, "messages_with_search");
    await t.mutation(api.search.replaceMessageWithSearch, {});
    const after = await allRows(t, "messages_with_search");
    expect(after).toHaveLength(1);
    expect(after[0]._id).toBe(before._id);
    expect(after[0]).toMatchObject({
      channel: "global",
      timestamp: 77,
      ballastArray: [],
    });
  });
});
