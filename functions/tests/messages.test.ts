import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { allRows, newBackend } from "./backend";

const RAND_MAX = 1_000_000_000;

describe("setup:setupMessages", () => {
  test("inserts `rows` messages in the channel, the first with rand 0", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupMessages, { rows: 25, channel: "global" });
    const rows = await allRows(t, "messages");
    expect(rows).toHaveLength(25);
    expect(rows[0].rand).toBe(0);
    for (const row of rows) {
      expect(row.channel).toBe("global");
      expect(row.body).toMatch(/^[a-z]+$/);
      expect(Number.isInteger(row.rand)).toBe(true);
      expect(row.rand).toBeGreaterThanOrEqual(0);
      expect(row.rand).toBeLessThan(RAND_MAX);
    }
  });
});

describe("setup:setupVectors", () => {
  test("inserts `rows` rows with 1536-d embeddings", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupVectors, { rows: 3 });
    const rows = await allRows(t, "openclaurd");
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.embedding).toHaveLength(1536);
      expect(row.text.split(" ")).toHaveLength(10);
    }
  });
});

describe("insert", () => {
  test("insertMessage adds one message to channel global of messages", async () => {
    const t = newBackend();
    await t.mutation(api.insert.insertMessage, {});
    const rows = await allRows(t, "messages");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "global", ballastArray: [] });
    expect(await allRows(t, "messages_with_search")).toHaveLength(0);
  });

  test("insertMessageWithSearch adds one message to messages_with_search", async () => {
    const t = newBackend();
    await t.mutation(api.insert.insertMessageWithSearch, {});
    expect(await allRows(t, "messages_with_search")).toHaveLength(1);
    expect(await allRows(t, "messages")).toHaveLength(0);
  });

  test("insertLargeMessage adds 100 messages with 4000 numbers of ballast", async () => {
    const t = newBackend();
    await t.mutation(api.insert.insertLargeMessage, {});
    const rows = await allRows(t, "messages_with_search");
    expect(rows).toHaveLength(100);
    expect(rows[0].ballastArray).toHaveLength(4000);
    expect(rows[0].channel).toBe("large");
  });

  test("insertMessageWithArgs inserts `count` messages as described", async () => {
    const t = newBackend();
    const args = {
      channel: "c7",
      timestamp: 1234,
      rand: 42,
      ballastCount: 3,
      count: 4,
      table: "messages" as const,
    };
    await t.mutation(api.insert.insertMessageWithArgs, args);
    const rows = await allRows(t, "messages");
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row).toMatchObject({
        channel: "c7",
        timestamp: 1234,
        rand: 42,
        ballastArray: [0, 1, 2],
      });
    }
  });

  test("insertMessagesWithArgs inserts n times `count` messages", async () => {
    const t = newBackend();
    await t.mutation(api.insert.insertMessagesWithArgs, {
      channel: "c",
      timestamp: 1,
      rand: 1,
      ballastCount: 0,
      count: 2,
      table: "messages_with_search",
      n: 3,
    });
    expect(await allRows(t, "messages_with_search")).toHaveLength(6);
  });

  test("rejects a table that holds no messages", async () => {
    const t = newBackend();
    await expect(
      t.mutation(api.insert.insertMessageWithArgs, {
        channel: "c",
        timestamp: 1,
        rand: 1,
        ballastCount: 0,
        count: 1,
        table: "openclaurd",
      }),
    ).rejects.toThrow(/Validator error.*openclaurd/);
  });
});

describe("query_index", () => {
  async function seeded() {
    const t = newBackend();
    for (const [channel, rand] of [
      ["global", 5],
      ["global", 10],
      ["global", 20],
      ["other", 15],
    ] as const) {
      for (const table of ["messages", "messages_with_search"] as const) {
        await t.mutation(api.insert.insertMessageWithArgs, {
          channel,
          timestamp: 0,
          rand,
          ballastCount: 0,
          count: 1,
          table,
        });
      }
    }
    return t;
  }

  test("queryMessages: channel global, rand >= cacheBreaker, in rand order", async () => {
    const t = await seeded();
    const rows = await t.query(api.query_index.queryMessages, {
      cacheBreaker: 6,
    });
    expect(rows.map((r: { rand: number }) => r.rand)).toEqual([10, 20]);
  });

  test("queryMessages returns at most 10 rows", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupMessages, { rows: 15, channel: "global" });
    const rows = await t.query(api.query_index.queryMessages, {
      cacheBreaker: 0,
    });
    expect(rows).toHaveLength(10);
  });

  test("queryMessagesWithSearch reads messages_with_search", async () => {
    const t = await seeded();
    await t.mutation(api.insert.insertMessageWithArgs, {
      channel: "global",
      timestamp: 0,
      rand: 30,
      ballastCount: 0,
      count: 1,
      table: "messages_with_search",
    });
    const rows = await t.query(api.query_index.queryMessagesWithSearch, {
      cacheBreaker: 11,
    });
    expect(rows.map((r: { rand: number }) => r.rand)).toEqual([20, 30]);
  });

  test("queryMessagesWithArgs honours channel, rand, limit and table", async () => {
    const t = await seeded();
    const rows = await t.query(api.query_index.queryMessagesWithArgs, {
      channel: "global",
      rand: 0,
      limit: 2,
      table: "messages_with_search",
    });
    expect(rows.map((r: { rand: number }) => r.rand)).toEqual([5, 10]);
    const other = await t.query(api.query_index.queryMessagesWithArgs, {
      channel: "other",
      rand: 0,
      limit: 10,
      table: "messages",
    });
    expect(other.map((r: { rand: number }) => r.rand)).toEqual([15]);
  });

  test("queryMessagesById returns the document, then null once deleted", async () => {
    const t = await seeded();
    const [row] = await allRows(t, "messages_with_search");
    const found = await t.query(api.query_index.queryMessagesById, {
      id: row._id,
    });
    expect(found).toEqual(row);
    await t.run((ctx) => ctx.db.delete(row._id));
    expect(
      await t.query(api.query_index.queryMessagesById, { id: row._id }),
    ).toBeNull();
  });
});

describe("update", () => {
  test("patches the timestamp of the rand-0 row of channel global only", async () => {
    const t = newBackend();
    await t.mutation(api.setup.setupMessages, { rows: 5, channel: "global" });
    const before = await allRows(t, "messages");
    await t.mutation(api.update.default, {});
    const after = await allRows(t, "messages");
    for (const row of after) {
      const old = before.find((b) => b._id === row._id)!;
      if (row.rand === 0) {
        expect(row.timestamp).toBeGreaterThan(0);
        expect({ ...row, timestamp: 0 }).toEqual(old);
      } else {
        expect(row).toEqual(old);
      }
    }
  });

  test("fails with a clear message when setup has not run", async () => {
    const t = newBackend();
    await expect(t.mutation(api.update.default, {})).rejects.toThrow(
      /setup:setupMessages/,
    );
  });
});
