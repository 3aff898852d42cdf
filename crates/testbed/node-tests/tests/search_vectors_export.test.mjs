// Issue-3 functions through the official npm `convex` client (the client
// Convex's own scenario runner uses): search, vector search, a read-only
// mutation, the scheduler, components, and an export watched by
// subscription.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

import { startTestbed } from "./testbed.mjs";

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

/** Subscribes and returns `waitFor(predicate)` over the stream of values. */
function watch(client, fn, args) {
  const values = [];
  let check = () => {};
  const unsubscribe = client.onUpdate(fn, args, (value) => {
    values.push(value);
    check();
  });
  const waitFor = (predicate, what) =>
    withTimeout(
      new Promise((resolve) => {
        check = () => {
          const found = values.find(predicate);
          if (found !== undefined) resolve(found);
        };
        check();
      }),
      5000,
      what,
    );
  return { values, waitFor, unsubscribe };
}

let testbed;
let client;
before(async () => {
  testbed = await startTestbed();
  client = new ConvexClient(testbed.url, { webSocketConstructor: WebSocket });
  client.setAdminAuth(testbed.adminKey);
});
after(async () => {
  await client.close();
  const { code } = await testbed.stop();
  assert.equal(code, 0);
});

test("a read-only mutation resolves", async () => {
  // The table is empty, so this mutation writes nothing.
  assert.equal(
    await withTimeout(client.mutation(api.search.deleteMessageWithSearch, {}), 5000, "no-op mutation"),
    null,
  );
});

test("search finds a document by its body; vector search by its embedding", async () => {
  await client.mutation(api.insert.insertMessageWithArgs, {
    channel: "npm",
    timestamp: 0,
    rand: 1,
    ballastCount: 0,
    count: 20,
    table: "messages_with_search",
  });
  const doc = await client.query(api.search.findRandomSearchDocument, { cacheBreaker: 1 });
  const hits = await client.query(api.search.default, { channel: doc.channel, body: doc.body, limit: 5 });
  assert.equal(hits[0].body, doc.body);

  await client.mutation(api.setup.setupVectors, { rows: 20 });
  const row = await client.query(api.openclaurd.findRandomOpenclaurd, { cacheBreaker: 2 });
  const nearest = await client.action(api.vectorSearch.default, {
    vector: row.embedding,
    limit: 3,
    users: [row.user],
  });
  assert.equal(nearest[0]._id, row._id);
  assert.ok(nearest[0]._score > 0.99, `score ${nearest[0]._score}`);
});

test("a scheduled insert reaches a subscription; the component counter counts", async () => {
  const sub = watch(client, api.search.default, { channel: "global", body: "x", limit: 1 });
  const rows = watch(client, api.query_index.queryMessagesWithArgs, {
    channel: "global",
    rand: 0,
    limit: 1000,
    table: "messages_with_search",
  });
  await rows.waitFor((v) => Array.isArray(v), "first page");
  const before = rows.values.at(-1).length;
  await client.mutation(api.schedule.scheduleMessage, {});
  await rows.waitFor((v) => v.length === before + 1, "scheduled insert visible");
  sub.unsubscribe();
  rows.unsubscribe();

  assert.equal(await client.mutation(api.components.componentMutation, {}), 1);
  assert.equal(await client.mutation(api.components.componentMutation, {}), 2);
  assert.equal(await client.query(api.components.componentQuery, { cacheBreaker: 3 }), 2);
  assert.equal(await client.action(api.components.componentAction, {}), 0);
  assert.equal(await client.query(api.http.siteUrl, {}), testbed.siteUrl);
});

test("an export moves through its states for a subscriber and downloads as a zip", async () => {
  // The system function lives in module `_system/frontend/latestExport`.
  const exports = watch(client, anyApi._system.frontend.latestExport.default, {});
  const response = await fetch(`${testbed.url}/api/export/request/zip`, {
    method: "POST",
    headers: { Authorization: `Convex ${testbed.adminKey}` },
  });
  assert.equal(response.status, 200);
  const done = await exports.waitFor((v) => v?.state === "completed", "export completed");
  const states = [...new Set(exports.values.filter((v) => v).map((v) => v.state))];
  assert.deepEqual(states, ["requested", "in_progress", "completed"]);
  assert.equal(typeof done.start_ts, "bigint");
  const zip = await fetch(`${testbed.url}/api/export/zip/${done.start_ts}`, {
    headers: { Authorization: `Convex ${testbed.adminKey}` },
  });
  assert.equal(zip.status, 200);
  const bytes = new Uint8Array(await zip.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 2)], [0x50, 0x4b], "a zip starts with PK");
  const text = new TextDecoder("latin1").decode(bytes);
  for (const table of ["messages/documents.jsonl", "messages_with_search/documents.jsonl", "openclaurd/documents.jsonl"]) {
    assert.ok(text.includes(table), `${table} in the archive`);
  }
  exports.unsubscribe();
});
