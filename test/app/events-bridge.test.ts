import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { EngineEventMap, BlockFound } from "../../src/core/engine/engine.ts";
import type { SessionSnapshot } from "../../src/core/stratum/session.ts";
import type { Job } from "../../src/core/work/jobs.ts";
import type { HashrateEntry } from "../../src/core/stats/miners.ts";
import { EventsBridge, type BridgeEngine, type BridgeTimers } from "../../src/app/events-bridge.ts";
import { BestDiffRecords } from "../../src/app/records/best-diff.ts";
import { MiningEventEmitter } from "../../src/pipeline/events/emitter.ts";
import { createEventFactory } from "../../src/pipeline/events/envelope.ts";
import { MemorySink } from "../../src/pipeline/events/sinks/memory.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import type { EventType, MiningEvent } from "../../src/pipeline/events/types.ts";

const USER = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const PREV = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
const T0 = Date.parse("2026-11-18T12:00:00Z");
const HASH = "00000000000000000001b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b";

function fakeJob(id = "1a", height = 101): Job {
  return { id, template: { height, networkDifficulty: 4.6e-10 } } as unknown as Job;
}

function fakeSession(over: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    id: "0000002a",
    ip: "127.0.0.1",
    connectedAtMs: T0 - 60_000,
    userAgent: "cpuminer/2.5.1",
    extranonce1Hex: "00aabbcc",
    identity: { username: `${USER}.rig1`, address: USER, worker: "rig1", payoutScript: Buffer.alloc(22) },
    difficulty: 0.001,
    sharesAccepted: 0,
    sharesRejected: 0,
    bestDifficulty: 0,
    ...over,
  };
}

function setup(opts: { records?: BestDiffRecords; nowMs?: number; hashrate?: HashrateEntry[]; types?: EventType[] } = {}) {
  let now = opts.nowMs ?? T0;
  const bus = new EventEmitter<EngineEventMap>();
  const engine: BridgeEngine = {
    bus,
    now: () => now,
    workerHashrates: () => opts.hashrate ?? [],
    status: () => ({ nodes: [{ name: "btcd[0] 127.0.0.1:18443", healthy: true, active: true, lastError: null, lastOkMs: 0, templatesServed: 1, failures: 0 }] }),
    currentWork: () => ({ height: 101, jobId: "1a", node: "btcd[0] 127.0.0.1:18443", transactions: 0, networkDifficulty: 4.6e-10, prevHash: "00".repeat(32) }),
  };
  const sink = new MemorySink();
  const publisher = new MiningEventEmitter({ factory: createEventFactory({ region: "eu", instance: "test", now: () => now }), sinks: [sink], enabledTypes: opts.types });
  let tick: (() => void) | null = null;
  const timers: BridgeTimers = { setInterval: (fn) => ((tick = fn), 1), clearInterval: () => (tick = null) };
  const errors: unknown[] = [];
  const bridge = new EventsBridge({ engine, publisher, records: opts.records, timers, onError: (e) => errors.push(e) });
  bridge.start();
  const events = () => sink.events();
  const valid = () => {
    for (const e of sink.received) {
      const v = validateEvent(e);
      assert.ok(v.ok, `${e.toString()}: ${v.ok ? "" : v.error}`);
    }
  };
  return { bus, bridge, events, valid, errors, tick: () => tick?.(), advance: (ms: number) => (now += ms), publisher };
}

const ofType = <T extends EventType>(events: MiningEvent[], t: T) => events.filter((e): e is MiningEvent<T> => e.event === t);

test("bridge: a session's life becomes miner_connected, diff_updated, share_submitted, share_best_diff and miner_disconnected, each valid", () => {
  const s = setup({ records: new BestDiffRecords({ now: () => Date.parse("2026-11-18T00:00:00Z") }) });
  const session = fakeSession();
  s.bus.emit("authorized", session);
  s.bus.emit("difficulty", { session, oldDifficulty: null, newDifficulty: 0.001, reason: "initial" });
  s.bus.emit("share", { session, verdict: { accepted: true, reason: null, difficulty: 0.001, shareDifficulty: 0.5, block: false, job: fakeJob("2b", 102) } });
  s.bus.emit("share", { session, verdict: { accepted: false, reason: "duplicate", difficulty: 0.001, shareDifficulty: 0.9, block: false, job: fakeJob("2b", 102) } });
  s.bus.emit("share", { session, verdict: { accepted: false, reason: "job_not_found", difficulty: 0, shareDifficulty: 0, block: false, job: null } });
  Object.assign(session, { sharesAccepted: 1, sharesRejected: 2, bestDifficulty: 0.5 });
  s.bus.emit("disconnected", { session, reason: "client_closed" });
  s.valid();
  const ev = s.events();
  assert.deepEqual(ev.map((e) => e.event), [
    "miner_connected", "diff_updated", "share_submitted", "share_best_diff", "share_best_diff", "share_best_diff", "share_submitted", "share_submitted", "miner_disconnected",
  ]);
  const [c] = ofType(ev, "miner_connected");
  assert.deepEqual(c.data, { user: USER, worker: "rig1", session_id: "0000002a", ip: "127.0.0.1", user_agent: "cpuminer/2.5.1", extranonce1: "00aabbcc", difficulty: 0.001 });
  assert.equal(c.source, "hosted");
  assert.equal(c.region, "eu");
  assert.equal(c.instance, "test");
  const shares = ofType(ev, "share_submitted");
  assert.deepEqual(shares.map((e) => [e.data.accepted, e.data.reject_reason, e.data.job_id, e.data.height]), [[true, null, "2b", 102], [false, "duplicate", "2b", 102], [false, "job_not_found", "unknown", 101]]);
  assert.equal(shares[2].data.difficulty, 0.001, "a reject that never got a difficulty reports the session's");
  const best = ofType(ev, "share_best_diff");
  assert.deepEqual(best.map((e) => [e.data.scope, e.data.old_best, e.data.new_best, e.data.week ?? null]), [["session", null, 0.5, null], ["week", null, 0.5, "2026-W47"], ["alltime", null, 0.5, null]]);
  const [d] = ofType(ev, "miner_disconnected");
  assert.deepEqual(d.data, { user: USER, worker: "rig1", session_id: "0000002a", ip: "127.0.0.1", reason: "client_closed", session_seconds: 60, shares_accepted: 1, shares_rejected: 2, session_best: 0.5 });
  assert.deepEqual(s.errors, []);
});

test("bridge: a miner that authorises before subscribing is announced when its work starts (it has an extranonce1 then)", () => {
  const s = setup();
  const session = fakeSession({ extranonce1Hex: "" });
  s.bus.emit("authorized", session);
  assert.equal(s.events().length, 0);
  s.bus.emit("difficulty", { session: { ...session, extranonce1Hex: "01020304" }, oldDifficulty: null, newDifficulty: 0.001, reason: "initial" });
  s.valid();
  assert.deepEqual(s.events().map((e) => e.event), ["miner_connected", "diff_updated"]);
});

test("bridge: a connection that never authorised (a monitor probe) produces no event; its shares and its end are counted, not emitted", () => {
  const s = setup();
  const session = fakeSession({ identity: null, userAgent: null, ip: "unknown" });
  s.bus.emit("share", { session, verdict: { accepted: false, reason: "unauthorized", difficulty: 0, shareDifficulty: 0, block: false, job: null } });
  s.bus.emit("disconnected", { session, reason: "client_closed" });
  // Authorised but never subscribed: no miner_connected went out, so no miner_disconnected either.
  const half = fakeSession({ id: "0000002b", extranonce1Hex: "" });
  s.bus.emit("authorized", half);
  s.bus.emit("disconnected", { session: half, reason: "auth_timeout" });
  assert.deepEqual(s.events().map((e) => e.event), []);
  assert.equal(s.bridge.stats().unattributedShares, 1);
  assert.equal(s.bridge.stats().unannouncedDisconnects, 2);
  // An announced session still gets its miner_disconnected.
  const full = fakeSession({ id: "0000002c" });
  s.bus.emit("authorized", full);
  s.bus.emit("disconnected", { session: full, reason: "client_closed" });
  s.valid();
  assert.deepEqual(s.events().map((e) => e.event), ["miner_connected", "miner_disconnected"]);
  assert.equal(s.bridge.stats().unannouncedDisconnects, 2);
});

test("bridge: block_found carries per-node submit results and the coinbase signature", () => {
  const s = setup();
  const session = fakeSession();
  const found: BlockFound = {
    session,
    identity: session.identity,
    height: 102,
    hashHex: HASH,
    rewardSats: 5_000_000_000n,
    signature: "/Alice/",
    shareDifficulty: 3.2,
    networkDifficulty: 4.6e-10,
    results: [
      { node: "btcd[0] a:1", accepted: true, result: null, latencyMs: 12.5 },
      { node: "btcd[1] b:2", accepted: false, result: "inconclusive", latencyMs: 80 },
    ],
    pending: [],
    accepted: true,
    outcome: "accepted",
  };
  s.bus.emit("block", found);
  s.valid();
  const [b] = ofType(s.events(), "block_found");
  assert.deepEqual(b.data, {
    user: USER, worker: "rig1", height: 102, hash: HASH, reward_sats: 5_000_000_000, coinbase_signature: "/Alice/", accepted: true, outcome: "accepted",
    submit_results: [{ node: "btcd[0] a:1", accepted: true, result: null, latency_ms: 12.5 }, { node: "btcd[1] b:2", accepted: false, result: "inconclusive", latency_ms: 80 }],
    share_difficulty: 3.2, network_difficulty: 4.6e-10,
  });
});

test("bridge: new_block_network names how the tip was learnt (zmq endpoint, poll, or the template's node)", () => {
  const s = setup();
  s.bus.emit("newBlockNetwork", { height: 100, hash: PREV, prevHash: null, source: "zmq:tcp://127.0.0.1:28332" });
  s.bus.emit("newBlockNetwork", { height: 101, hash: PREV, prevHash: null, source: "poll" });
  s.bus.emit("newBlockNetwork", { height: 102, hash: PREV, prevHash: null, source: "startup" });
  s.bus.emit("newBlockNetwork", { height: 103, hash: PREV, prevHash: null, source: "block_found" });
  s.valid();
  assert.deepEqual(ofType(s.events(), "new_block_network").map((e) => [e.data.source, e.data.first_seen_endpoint]), [
    ["zmq:tcp://127.0.0.1:28332", "tcp://127.0.0.1:28332"],
    ["poll", "btcd[0] 127.0.0.1:18443"],
    ["template", "btcd[0] 127.0.0.1:18443"],
    ["template", "btcd[0] 127.0.0.1:18443"],
  ]);
});

test("bridge: hashrate_update goes out on each timer tick, one per active worker and per user", () => {
  const h = { "1m": 1e6, "5m": 9e5, "1h": 5e5, "1d": 1e4, "7d": 0 };
  const s = setup({ hashrate: [{ user: USER, worker: "rig1", hashrate: h }, { user: USER, worker: null, hashrate: h }] });
  s.tick();
  s.tick();
  s.valid();
  const ev = ofType(s.events(), "hashrate_update");
  assert.equal(ev.length, 4);
  assert.deepEqual(ev.slice(0, 2).map((e) => e.data), [{ user: USER, worker: "rig1", hashrate_hs: h }, { user: USER, worker: null, hashrate_hs: h }]);
});

test("bridge: disabled types cost nothing and records are kept even with events off", () => {
  const records = new BestDiffRecords({ now: () => 0 });
  const s = setup({ records, types: ["block_found"] });
  const session = fakeSession();
  s.bus.emit("share", { session, verdict: { accepted: true, reason: null, difficulty: 1, shareDifficulty: 7, block: false, job: fakeJob() } });
  assert.equal(s.events().length, 0);
  assert.equal(records.alltimeBest(USER)?.difficulty, 7);
  assert.equal(records.sessionBest("0000002a"), 7);
  s.bus.emit("disconnected", { session, reason: "client_closed" });
  assert.equal(records.sessionBest("0000002a"), null, "session record forgotten on disconnect");
});

test("bridge: rejected shares never count toward records; a block on a stale job does", () => {
  const records = new BestDiffRecords({ now: () => 0 });
  const s = setup({ records });
  const session = fakeSession();
  s.bus.emit("share", { session, verdict: { accepted: false, reason: "low_difficulty", difficulty: 1, shareDifficulty: 0.2, block: false, job: fakeJob() } });
  assert.equal(records.alltimeBest(USER), null);
  s.bus.emit("share", { session, verdict: { accepted: false, reason: "stale", difficulty: 1, shareDifficulty: 99, block: true, job: fakeJob() } });
  assert.equal(records.alltimeBest(USER)?.difficulty, 99);
});

test("bridge: a failing listener never throws into the engine", () => {
  const records = new BestDiffRecords({ now: () => 0 });
  records.observe = () => {
    throw new Error("boom");
  };
  const s = setup({ records });
  assert.doesNotThrow(() => s.bus.emit("share", { session: fakeSession(), verdict: { accepted: true, reason: null, difficulty: 1, shareDifficulty: 2, block: false, job: fakeJob() } }));
  assert.equal(s.errors.length, 1);
  assert.equal(s.bridge.stats().errors, 1);
});

test("bridge: close() unsubscribes from the bus and stops the timer", async () => {
  const s = setup();
  await s.bridge.close();
  s.bus.emit("authorized", fakeSession());
  s.tick();
  assert.equal(s.events().length, 0);
  assert.equal(s.bus.listenerCount("share"), 0);
});

test("bridge: a large fleet's hashrate_update events go out in batches over several event-loop turns", async () => {
  const h = { "1m": 1, "5m": 1, "1h": 1, "1d": 1, "7d": 1 };
  const fleet = Array.from({ length: 5000 }, (_, i) => ({ user: USER, worker: `rig${i}`, hashrate: h }));
  const s = setup({ hashrate: fleet });
  assert.equal(s.bridge.emitHashrates(), 2000, "the first batch at once");
  assert.equal(ofType(s.events(), "hashrate_update").length, 2000);
  for (let i = 0; i < 10 && ofType(s.events(), "hashrate_update").length < 5000; i++) await new Promise((r) => setImmediate(r));
  assert.equal(ofType(s.events(), "hashrate_update").length, 5000);
  s.valid();
});
