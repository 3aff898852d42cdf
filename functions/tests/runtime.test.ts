// Scheduler, logging, the Node action and the component.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { TableNames } from "../convex/_generated/dataModel";
import { allRows, newBackend } from "./backend";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("schedule:scheduleMessage", () => {
  test("the scheduler runs the scheduled insert", async () => {
    vi.useFakeTimers();
    const t = newBackend();
    await t.mutation(api.schedule.scheduleMessage, {});
    expect(await allRows(t, "messages_with_search")).toHaveLength(0);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const rows = await allRows(t, "messages_with_search");
    expect(rows).toHaveLength(1);
    expect(rows[0].channel).toBe("global");
  });
});

describe("log", () => {
  test("logs 256 lines of 512 characters", async () => {
    const t = newBackend();
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    await t.action(api.log.default, {});
    expect(lines).toHaveLength(256);
    expect(new Set(lines.map((l) => l.length))).toEqual(new Set([512]));
    expect(new Set(lines).size).toBe(256);
  });
});

describe("actions/insert", () => {
  test("inserts one message through a mutation", async () => {
    const t = newBackend();
    await t.action(api.actions.insert.default, {});
    const rows = await allRows(t, "messages_with_search");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "global", ballastArray: [] });
  });
});

describe("components", () => {
  test("the counter counts, resets, and lives in the component's tables", async () => {
    const t = newBackend();
    expect(
      await t.query(api.components.componentQuery, { cacheBreaker: 1 }),
    ).toBe(0);
    expect(await t.mutation(api.components.componentMutation, {})).toBe(1);
    expect(await t.mutation(api.components.componentMutation, {})).toBe(2);
    expect(
      await t.query(api.components.componentQuery, { cacheBreaker: 2 }),
    ).toBe(2);

    // Isolated: the app's own tables saw none of it.
    for (const table of ["messages", "messages_with_search", "openclaurd"] as const) {
      expect(await allRows(t, table)).toHaveLength(0);
    }
    // The component's `counters` table is not the app's: from the app, a
    // table of that name holds nothing.
    const appCounters = await t.run((ctx) =>
      ctx.db.query("counters" as TableNames).collect(),
    );
    expect(appCounters).toEqual([]);
    // ...and a separate backend has its own counter.
    const other = newBackend();
    expect(
      await other.query(api.components.componentQuery, { cacheBreaker: 3 }),
    ).toBe(0);

    expect(await t.action(api.components.componentAction, {})).toBe(0);
    expect(
      await t.query(api.components.componentQuery, { cacheBreaker: 4 }),
    ).toBe(0);
  });
});
