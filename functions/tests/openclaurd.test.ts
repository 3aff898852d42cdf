import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { allRows, newBackend } from "./backend";

describe("openclaurd", () => {
  test("low cardinality inserts use at most 5 users", async () => {
    const t = newBackend();
    for (let i = 0; i < 30; i++) {
      await t.mutation(api.openclaurd.insertOpenclaurdLowCardinality, {});
    }
    const rows = await allRows(t, "openclaurd");
    expect(rows).toHaveLength(30);
    const users = new Set(rows.map((r) => r.user));
    expect(users.size).toBeLessThanOrEqual(5);
    for (const user of users) {
      expect(user).toMatch(/^user [0-4]$/);
    }
    expect(rows[0].embedding).toHaveLength(1536);
  });

  test("high cardinality inserts draw users from 100", async () => {
    const t = newBackend();
    for (let i = 0; i < 30; i++) {
      await t.mutation(api.openclaurd.insertOpenclaurdHighCardinality, {});
    }
    const rows = await allRows(t, "openclaurd");
    for (const row of rows) {
      expect(row.user).toMatch(/^user ([0-9]|[1-9][0-9])$/);
    }
    // 30 draws among 100 users give more than 5 distinct ones (all but surely).
    expect(new Set(rows.map((r) => r.user)).size).toBeGreaterThan(5);
  });

  test("findRandomOpenclaurd, queryOpenclaurdById, deleteOpenclaurd", async () => {
    const t = newBackend();
    expect(
      await t.query(api.openclaurd.findRandomOpenclaurd, { cacheBreaker: 0 }),
    ).toBeNull();
    await t.mutation(api.setup.setupVectors, { rows: 2 });
    const random = await t.query(api.openclaurd.findRandomOpenclaurd, {
      cacheBreaker: 0,
    });
    expect(random).not.toBeNull();
    expect(
      await t.query(api.openclaurd.queryOpenclaurdById, { id: random._id }),
    ).toEqual(random);
    await t.mutation(api.openclaurd.deleteOpenclaurd, {});
    expect(await allRows(t, "openclaurd")).toHaveLength(1);
  });
});

describe("vectorSearch", () => {
  test("finds a row by its own embedding, filtered by its user", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupVectors, { rows: 10 });
    const rows = await allRows(t, "openclaurd");
    const target = rows[3];
    const hits = await t.action(api.vectorSearch.default, {
      vector: target.embedding,
      limit: 3,
      users: [target.user],
    });
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.length).toBeLessThanOrEqual(3);
    expect(Object.keys(hits[0]).sort()).toEqual(["_id", "_score"]);
    expect(hits[0]._id).toBe(target._id);
    expect(hits[0]._score).toBeGreaterThan(0.99);
    for (const hit of hits) {
      const row = rows.find((r) => r._id === hit._id)!;
      expect(row.user).toBe(target.user);
    }
  });

  test("a user with no rows gets no hits", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupVectors, { rows: 3 });
    const [row] = await allRows(t, "openclaurd");
    const hits = await t.action(api.vectorSearch.default, {
      vector: row.embedding,
      limit: 5,
      users: ["nobody at all"],
    });
    expect(hits).toEqual([]);
  });
});
