// The official npm `convex` clients against the testbed binary.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

import { startTestbed, stats } from "./testbed.mjs";

const api = anyApi;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

/** A logger that records what the client says, verbose lines included. */
function recordingLogger() {
  const lines = [];
  const record = (level) => (...args) => lines.push({ level, text: args.join(" ") });
  return {
    lines,
    logVerbose: record("debug"),
    log: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
}

let testbed;
before(async () => {
  testbed = await startTestbed();
});
after(async () => {
  const { code } = await testbed.stop();
  assert.equal(code, 0, "the testbed exits 0 on SIGTERM");
});

describe("ConvexHttpClient", () => {
  test("query, mutation, action, admin auth and errors", async () => {
    const client = new ConvexHttpClient(testbed.url);
    client.setAdminAuth(testbed.adminKey);
    assert.equal(
      await client.mutation(api.setup.setupMessages, { rows: 30, channel: "global" }),
      null,
    );
    const page = await client.query(api.query_index.queryMessages, { cacheBreaker: 0 });
    assert.equal(page.length, 10);
    assert.equal(page[0].rand, 0);
    assert.equal(typeof page[0]._id, "string");
    assert.equal(typeof page[0]._creationTime, "number");
    const byId = await client.query(api.query_index.queryMessagesById, { id: page[1]._id });
    assert.deepEqual(byId, page[1]);
    assert.equal(await client.mutation(api.update.default, {}), null);
    assert.equal(await client.action(api.log.default, {}), null);

    await assert.rejects(
      client.mutation(api.setup.setupMessages, { rows: "lots", channel: "global" }),
      /Path: \.rows/,
    );
    await assert.rejects(
      client.query(api.nothing.here, {}),
      /Could not find public function for 'nothing:here'/,
    );
    const intruder = new ConvexHttpClient(testbed.url);
    intruder.setAdminAuth("testbed|wrong");
    await assert.rejects(intruder.query(api.query_index.queryMessages, { cacheBreaker: 0 }), /admin key/);
  });
});

describe("ConvexClient over WebSocket", () => {
  test("query, mutation, action, subscription observing an insert, errors", async () => {
    const logger = recordingLogger();
    const client = new ConvexClient(testbed.url, { webSocketConstructor: WebSocket, logger });
    client.setAdminAuth(testbed.adminKey);
    try {
      await withTimeout(
        client.mutation(api.setup.setupMessages, { rows: 5, channel: "global" }),
        5000,
        "setup",
      );
      const page = await withTimeout(
        client.query(api.query_index.queryMessages, { cacheBreaker: 0 }),
        5000,
        "query",
      );
      assert.equal(page.length, 10);
      assert.equal(await withTimeout(client.action(api.log.default, {}), 5000, "action"), null);

      const updates = [];
      let notify = () => {};
      const unsubscribe = client.onUpdate(
        api.query_index.queryMessagesWithArgs,
        { channel: "node", rand: 0, limit: 50, table: "messages" },
        (value) => {
          updates.push(value);
          notify();
        },
      );
      const nextUpdate = (count) =>
        withTimeout(
          new Promise((resolve) => {
            notify = () => updates.length >= count && resolve(updates[count - 1]);
            notify();
          }),
          5000,
          `subscription update ${count}`,
        );
      assert.deepEqual(await nextUpdate(1), []);
      const before = await stats(testbed.url);
      // The client resolves a mutation only once a Transition at or past its
      // commit timestamp arrived, so the subscription already shows it.
      await withTimeout(
        client.mutation(api.insert.insertMessageWithArgs, {
          channel: "node",
          timestamp: 1,
          rand: 9,
          ballastCount: 2,
          count: 1,
          table: "messages",
        }),
        5000,
        "insert",
      );
      const seen = await nextUpdate(2);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].channel, "node");
      assert.deepEqual(seen[0].ballastArray.length, 2);
      const after = await stats(testbed.url);
      assert.equal(after.commits - before.commits, 1);
      unsubscribe();

      await assert.rejects(client.query(api.missing.fn, {}), /Could not find public function for 'missing:fn'/);
      await assert.rejects(
        client.mutation(api.insert.insertMessageWithArgs, { channel: 5 }),
        /ArgumentValidationError/,
      );

      // The transit time the client derives from clientClockSkew and
      // serverTs is sane (a wrong sign or unit shows up as hours).
      const transits = logger.lines
        .map(({ text }) => /received .* transition in (-?\d+)ms/.exec(text))
        .filter(Boolean)
        .map((match) => Number(match[1]));
      assert.ok(transits.length >= 3, `transitions observed: ${transits.length}`);
      for (const ms of transits) {
        assert.ok(ms > -1000 && ms < 5000, `transition transit time ${ms} ms`);
      }
      // Only the two failures provoked above may be logged (the client logs
      // failed functions as `[CONVEX ...]` lines).
      const complaints = logger.lines.filter(
        ({ level, text }) => level !== "debug" && !text.includes("[CONVEX "),
      );
      assert.deepEqual(complaints, []);
    } finally {
      await client.close();
    }
  });

  test("a wrong admin key is refused", async () => {
    const logger = recordingLogger();
    const client = new ConvexClient(testbed.url, { webSocketConstructor: WebSocket, logger });
    client.setAdminAuth("testbed|wrong");
    try {
      await withTimeout(
        new Promise((resolve) => {
          const poll = setInterval(() => {
            if (logger.lines.some(({ text }) => /admin key was invalid/.test(text))) {
              clearInterval(poll);
              resolve();
            }
          }, 20);
        }),
        5000,
        "auth error reported",
      );
    } finally {
      await client.close();
    }
  });
});
