/**
 * Issue 12 §1: one miner-chosen string must not poison the event pipeline. Real parts throughout:
 * the embedded regtest node, the pool on a TCP port, the collector on a Unix datagram socket, a real
 * PostgreSQL server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startPostgres } from "../support/servers.ts";
import { RawClient } from "../support/stratum.ts";
import { waitFor } from "../support/wait.ts";
import { exampleEvent } from "../events/fixtures.ts";
import { makeEvent } from "../storage/fixtures.ts";
import { DgramReader } from "../../src/pipeline/events/dgram-reader.ts";

const ADDRESS = REGTEST_ADDRESSES.p2wpkh;
const POISON = [`${ADDRESS}.rig\u0000x`, `${ADDRESS}.rig\ud800`, `${ADDRESS}.rig\u001b[2J`];

test("the Stratum boundary refuses a username with a control character or lone surrogate, sanitises the user agent, and clips the worker by code point", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-poison-"));
  const socketPath = join(dir, "events.sock");
  const reader = new DgramReader({ socketPath, iteratorBuffer: 1000 });
  await reader.start();
  const pool = await startTestPool({ overrides: { events: { enabled: true, socket_path: socketPath } } });
  t.after(async () => {
    await pool.close();
    await reader.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const username of POISON) {
    const c = await RawClient.connect(pool.port);
    const r = await c.request("mining.authorize", [username, "x"]);
    assert.ok(r.error, `refused: ${JSON.stringify(username)}`);
    assert.match(String(r.error[1]), /username contains (a control character|an unpaired surrogate) \(U\+/);
    c.socket.destroy();
  }
  // 127 "a" + an emoji: a UTF-16 clip at 128 would cut the pair; by code point it drops the emoji whole.
  const c = await RawClient.connect(pool.port);
  await c.request("mining.subscribe", ["evil\u0000miner\u001b]0;x\u0007/1.0\ud800"]);
  const worker = "a".repeat(127) + "\u{1F600}";
  assert.equal((await c.request("mining.authorize", [`${ADDRESS}.${worker}`, "x"])).error, null);
  const events = reader.messages();
  let connected: MiningEvent<"miner_connected"> | null = null;
  for await (const m of events) {
    assert.ok(m.ok, `every event the pool sends is valid: ${m.ok ? "" : m.error}`);
    if (m.event.event === "miner_connected") {
      connected = m.event as MiningEvent<"miner_connected">;
      break;
    }
  }
  c.socket.destroy();
  assert.ok(connected);
  assert.equal(connected.data.worker, "a".repeat(127));
  assert.equal(connected.data.user_agent, "evil\uFFFDminer\uFFFD]0;x\uFFFD/1.0\uFFFD");
});

test("the event schema refuses control characters and lone surrogates in text, impossible timestamps and rewards; a block_found is repaired, never refused", () => {
  const share = exampleEvent("share_submitted");
  for (const worker of ["rig\u0000x", "rig\ud800", "rig\nINFO forged"]) {
    const v = validateEvent(JSON.stringify({ ...share, data: { ...share.data, worker } }));
    assert.equal(v.ok, false);
    assert.match(v.ok ? "" : v.error, /data\.worker: must not contain control characters/);
  }
  assert.equal(validateEvent(JSON.stringify({ ...share, data: { ...share.data, worker: "rig-\u{1F600}" } })).ok, true, "a surrogate pair is fine");
  const far = validateEvent(JSON.stringify({ ...share, timestamp: Date.UTC(2255, 0, 1) * 1000 }));
  assert.match(far.ok ? "" : far.error, /^timestamp: /);
  const block = exampleEvent("block_found");
  const rich = validateEvent(JSON.stringify({ ...block, data: { ...block.data, reward_sats: 2_100_000_000_000_001 } }));
  assert.match(rich.ok ? "" : rich.error, /data\.reward_sats/);
  const tall = validateEvent(JSON.stringify({ ...share, data: { ...share.data, height: 2 ** 31 } }));
  assert.match(tall.ok ? "" : tall.error, /data\.height/);
  const poisoned = validateEvent(JSON.stringify({ ...block, data: { ...block.data, worker: "rig\u0000" + "b".repeat(126) + "\u{1F600}" } }));
  assert.ok(poisoned.ok);
  assert.equal((poisoned.event.data as { worker: string }).worker, "rig\uFFFD" + "b".repeat(124));
  assert.match(poisoned.sanitized ?? "", /data\.worker/);
});

/** subscribe + authorize with a poisoned username, then close; `n` connections, `parallel` at a time. */
async function poisonedConnections(port: number, n: number, parallel: number): Promise<void> {
  let next = 0;
  const one = async (i: number) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.on("error", () => {});
    await once(s, "connect");
    const username = POISON[i % POISON.length];
    s.end(`{"id":1,"method":"mining.subscribe","params":["ua\\u0000${i}"]}\n${JSON.stringify({ id: 2, method: "mining.authorize", params: [username, "x"] })}\n`);
    s.resume();
    await once(s, "close");
  };
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) await one(next++);
  }));
}

test("4,000 poisoned connections and 4,000 poisoned datagrams, then an honest block: its row is in PostgreSQL within 2 s; a block_found with a NUL worker is stored sanitised", async (t) => {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const pg = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), "tbg-poison-"));
  cleanups.push(() => Promise.all([pg.close(), rm(dir, { recursive: true, force: true })]));
  const socketPath = join(dir, "events.sock");
  const collector = new Collector({ socketPath, databaseUrl: pg.url, region: "eu", batch: { flushIntervalMs: 200 }, defaultMetrics: false });
  await collector.start();
  cleanups.push(() => collector.close());
  const node = await startTestNode();
  cleanups.push(() => node.close());
  // The attacker's address is allow-listed so that no ban cuts the flood short: the worst case.
  const pool = await startTestPool({ node, overrides: { events: { enabled: true, socket_path: socketPath }, bans: { allowlist: ["127.0.0.1"] } } });
  cleanups.push(() => pool.close());

  const t0 = performance.now();
  await poisonedConnections(pool.port, 4000, 100);
  // And what an older engine (or anyone who can write to the socket) could still send: a NUL in a
  // known field (the schema refuses it) and in a field the schema passes through into event_log's
  // jsonb, which PostgreSQL refuses (22P05): the batcher's check refuses it first, once.
  const sender = new DgramSocket();
  cleanups.push(() => sender.close());
  const sendRaw = (e: unknown) => new Promise<void>((resolve) => {
    const buf = Buffer.from(JSON.stringify(e));
    sender.sendTo(buf, 0, buf.length, socketPath, () => resolve());
  });
  for (let i = 0; i < 4000; i++) {
    const ts = Date.now() * 1000 + i;
    let poisoned: unknown;
    if (i % 2 === 0) {
      const e = makeEvent("share_submitted", { ...exampleEvent("share_submitted").data, worker: "ok" }, { timestampUs: ts });
      poisoned = { ...e, data: { ...e.data, worker: `rig\u0000${i}` } };
    } else {
      const e = makeEvent("miner_disconnected", { ...exampleEvent("miner_disconnected").data }, { timestampUs: ts });
      poisoned = { ...e, data: { ...e.data, note: `x\u0000${i}` } };
    }
    await sendRaw(poisoned);
  }
  const nulBlock = makeEvent("block_found", { ...exampleEvent("block_found").data, user: ADDRESS, worker: "rig\u0000nul" }, { timestampUs: Date.now() * 1000 });
  await sendRaw(nulBlock);
  t.diagnostic(`4,000 connections and 4,001 datagrams sent in ${Math.round(performance.now() - t0)} ms`);

  // The honest miner's block: from the engine's block event to its row.
  const found = new Promise<{ hash: string; atMs: number }>((resolve) => pool.app.engine.bus.once("block", (b) => resolve({ hash: b.hashHex, atMs: performance.now() })));
  const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.honest`, maxBlocks: 1, threads: 0, durationSec: 60 });
  const block = await found;
  const db = collector.eventStore.database;
  let storedAtMs = 0;
  await waitFor(async () => {
    const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM blocks WHERE block_hash = $1", [block.hash]);
    if (r.rows[0].n === 1) storedAtMs = performance.now();
    return r.rows[0].n === 1;
  }, "the honest block's row", 10_000, 10);
  await miner.close();
  const lagMs = storedAtMs - block.atMs;
  const st = collector.stats().batcher;
  t.diagnostic(`honest block row ${Math.round(lagMs)} ms after the block; batcher: ${JSON.stringify({ malformed: st.malformed, rejected: st.rejected, stored: st.stored })}`);
  assert.ok(lagMs < 2000, `block row within 2 s, took ${Math.round(lagMs)} ms`);

  const nul = await db.query<{ worker_name: string }>("SELECT w.worker_name FROM blocks b JOIN workers w ON w.id = b.worker_id WHERE b.event_id = $1", [nulBlock.event_id]);
  assert.deepEqual(nul.rows, [{ worker_name: "rig\uFFFDnul" }], "a NUL worker's block is stored, sanitised");
  const workers = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM workers WHERE worker_name LIKE 'rig%' AND worker_name <> 'rig\uFFFDnul'");
  assert.equal(workers.rows[0].n, 0, "no poisoned worker stored");
  const full = collector.stats();
  assert.equal(full.batcher.rejected, 2000, "each NUL in a passed-through field costs one rejection");
  assert.ok(full.batcher.malformed >= 2000, "each NUL in a known field is malformed");
});
