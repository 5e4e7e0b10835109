import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PgEventStore, PgliteEventStore, type SqlEventStore } from "../../src/pipeline/storage/event-store.ts";
import { timestampText } from "../../src/pipeline/storage/rows.ts";
import { startPostgres, timescaledbSkip, type PostgresServer } from "../support/servers.ts";
import { BASE_US, address, makeEvent, makeShares } from "./fixtures.ts";

const HOUR_US = 3_600_000_000;

test("timestampText keeps all six microsecond digits", () => {
  assert.equal(timestampText(BASE_US), "2026-11-16T00:00:00.000000Z");
  assert.equal(timestampText(BASE_US + 123_456), "2026-11-16T00:00:00.123456Z");
  assert.equal(timestampText(BASE_US + 59_999_999), "2026-11-16T00:00:59.999999Z");
});

// "timescaledb": PostgreSQL with TimescaleDB preloaded, so 002_timescale.sql applies and shares and
// event_log are hypertables; skipped with the reason when TimescaleDB is not installed.
for (const backend of ["pglite", "postgres", "timescaledb"] as const) {
  describe(`event store on ${backend}`, { skip: backend === "timescaledb" ? timescaledbSkip() : false }, () => {
    let pg: PostgresServer | undefined;
    let store: SqlEventStore;
    const q = async <R>(sql: string, params?: unknown[]) => (await store.database.query<R>(sql, params)).rows;
    before(async () => {
      if (backend === "pglite") {
        store = new PgliteEventStore();
      } else {
        pg = await startPostgres({ timescaledb: backend === "timescaledb" });
        store = new PgEventStore({ url: pg.url });
      }
      await store.start();
      assert.deepEqual(store.migration?.applied, backend === "timescaledb" ? [1, 2] : [1]);
    });
    after(async () => {
      await store.close();
      await pg?.close();
    });

    test("shares: new rows counted once, replays and in-batch repeats are duplicates, roll-ups not doubled", async () => {
      const shares = makeShares(200, { users: 4, stepUs: 30 * 1_000_000 }); // 200 shares over 100 minutes
      const r1 = await store.writeBatch([...shares, shares[0]]);
      assert.equal(r1.inserted, 200);
      assert.equal(r1.duplicates, 1);
      assert.equal(r1.insertedEvents.length, 200);
      const r2 = await store.writeBatch(shares);
      assert.deepEqual([r2.inserted, r2.duplicates], [0, 200]);
      const [count] = await q<{ n: number }>("SELECT count(*)::int AS n FROM shares");
      assert.equal(count.n, 200);
      const hourly = await q<{ acc: number; rej: number; work: number }>(
        "SELECT sum(accepted_shares)::int AS acc, sum(rejected_shares)::int AS rej, sum(accepted_work)::float8 AS work FROM shares_hourly");
      assert.deepEqual(hourly[0], { acc: 180, rej: 20, work: 180 * 1024 });
      const buckets = await q<{ b: string }>("SELECT DISTINCT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS b FROM shares_hourly ORDER BY 1");
      assert.deepEqual(buckets.map((r) => r.b), ["00:00", "01:00"]);
      const users = await q<{ n: number }>("SELECT count(*)::int AS n FROM users");
      assert.equal(users[0].n, 4);
      const workers = await q<{ n: number }>("SELECT count(*)::int AS n FROM workers WHERE last_share_at IS NOT NULL");
      assert.equal(workers[0].n, 8);
      // Weekly best = max accepted share_difficulty per user (week of 2026-11-16).
      const expected = new Map<string, number>();
      for (const s of shares) if (s.data.accepted) expected.set(s.data.user, Math.max(expected.get(s.data.user) ?? 0, s.data.share_difficulty));
      const weekly = await q<{ a: string; best: number; wk: string }>(
        "SELECT u.btc_address AS a, b.best_difficulty AS best, to_char(b.week_start, 'YYYY-MM-DD') AS wk FROM weekly_best_diff b JOIN users u ON u.id = b.user_id");
      assert.equal(weekly.length, 4);
      for (const w of weekly) {
        assert.equal(w.best, expected.get(w.a));
        assert.equal(w.wk, "2026-11-16");
      }
      const ts = await q<{ t: string }>("SELECT to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS t FROM shares WHERE event_id = $1", [shares[1].event_id]);
      assert.equal(ts[0].t, "00:00:30.000000");
    });

    test("sessions: connect then disconnect complete one row; a disconnect before its connect is merged; replays ignored", async () => {
      const t0 = BASE_US + 10 * HOUR_US;
      const conn = (sid: string, t: number) => makeEvent("miner_connected", { user: address(900), worker: "a", session_id: sid, ip: "198.51.100.1", user_agent: "bitaxe/2.1", extranonce1: "0badf00d", difficulty: 512 }, { timestampUs: t });
      const disc = (sid: string, t: number) => makeEvent("miner_disconnected", { user: address(900), worker: "a", session_id: sid, ip: "198.51.100.1", reason: "client_closed", session_seconds: (t - t0) / 1e6, shares_accepted: 10, shares_rejected: 1, session_best: 4096 }, { timestampUs: t });
      const c1 = conn("s1", t0), d1 = disc("s1", t0 + 60e6);
      const c2 = conn("s2", t0 + 1e6), d2 = disc("s2", t0 + 90e6);
      await store.writeBatch([c1]);
      await store.writeBatch([d1, d2]); // d2 arrives before c2
      const r = await store.writeBatch([c2, c1, d1]);
      assert.deepEqual([r.inserted, r.duplicates], [1, 2]);
      const rows = await q<{ session_id: string; c: boolean; d: boolean; secs: number }>(
        "SELECT session_id, connect_event_id IS NOT NULL AS c, disconnect_event_id IS NOT NULL AS d, session_seconds AS secs FROM miner_sessions WHERE instance = 'eu-1' AND session_id IN ('s1','s2') ORDER BY session_id");
      assert.deepEqual(rows, [{ session_id: "s1", c: true, d: true, secs: 60 }, { session_id: "s2", c: true, d: true, secs: 90 }]);
      const w = await q<{ is_online: boolean; current_difficulty: number }>(
        "SELECT w.is_online, w.current_difficulty FROM workers w JOIN users u ON u.id = w.user_id WHERE u.btc_address = $1", [address(900)]);
      assert.deepEqual(w, [{ is_online: false, current_difficulty: 512 }]);
      // A session that never authorised (user null) still gets its row.
      await store.writeBatch([makeEvent("miner_disconnected", { user: null, worker: null, session_id: "anon", ip: "198.51.100.9", reason: "idle_timeout", session_seconds: 5, shares_accepted: 0, shares_rejected: 0, session_best: null }, { timestampUs: t0 })]);
      const anon = await q<{ n: number }>("SELECT count(*)::int AS n FROM miner_sessions WHERE session_id = 'anon' AND user_id IS NULL");
      assert.equal(anon[0].n, 1);
    });

    test("blocks, best-diff records, hashrate, difficulty, network blocks and relay state land in their tables", async () => {
      const t0 = BASE_US + 20 * HOUR_US;
      const user = address(901);
      const events = [
        makeEvent("block_found", { user, worker: "w", height: 900_001, hash: "00".repeat(8) + "ab".repeat(24), reward_sats: 312_500_000, coinbase_signature: "/TheBitcoinGame/", accepted: true, submit_results: [{ node: "n1", accepted: true, result: null, latency_ms: 12 }], share_difficulty: 1.2e14, network_difficulty: 1.1e14 }, { timestampUs: t0 }),
        makeEvent("share_best_diff", { user, worker: "w", scope: "week", old_best: 10, new_best: 5e6, week: "2026-W47", height: 900_001 }, { timestampUs: t0 }),
        makeEvent("share_best_diff", { user, worker: "w", scope: "alltime", old_best: null, new_best: 5e6, height: 900_001 }, { timestampUs: t0 }),
        makeEvent("hashrate_update", { user, worker: "w", hashrate_hs: { "1m": 1e12, "5m": 2e12, "1h": 3e12, "1d": 4e12, "7d": 5e12 } }, { timestampUs: t0 + 2 }),
        makeEvent("hashrate_update", { user, worker: "w", hashrate_hs: { "1m": 9, "5m": 9, "1h": 9, "1d": 9, "7d": 9 } }, { timestampUs: t0 + 1 }), // older: loses
        makeEvent("hashrate_update", { user, worker: null, hashrate_hs: { "1m": 7e12, "5m": 7e12, "1h": 7e12, "1d": 7e12, "7d": 7e12 } }, { timestampUs: t0 }),
        makeEvent("diff_updated", { user, worker: "w", session_id: "s9", old_difficulty: 512, new_difficulty: 2048, reason: "vardiff" }, { timestampUs: t0 }),
        makeEvent("new_block_network", { height: 900_001, hash: "11".repeat(32), prev_hash: "22".repeat(32), source: "zmq:tcp://127.0.0.1:28332", first_seen_endpoint: "tcp://127.0.0.1:28332" }, { timestampUs: t0 }),
        makeEvent("new_block_network", { height: 900_001, hash: "11".repeat(32), prev_hash: "22".repeat(32), source: "poll", first_seen_endpoint: null }, { timestampUs: t0 + 5e5, region: "us", instance: "us-1" }),
        makeEvent("relay_state", { state: "independent", previous: "passthrough", reason: "primary_unreachable" }, { timestampUs: t0 + 3, region: "us", instance: "us-1" }),
        makeEvent("relay_state", { state: "passthrough", previous: null, reason: "start" }, { timestampUs: t0, region: "us", instance: "us-1" }),
      ];
      const r = await store.writeBatch(events);
      assert.deepEqual([r.inserted, r.duplicates], [events.length, 0]);
      assert.deepEqual([(await store.writeBatch(events)).inserted], [0]);
      const [b] = await q<{ height: number; reward_sats: string; status: string; n: number }>(
        "SELECT height, reward_sats::text, status, jsonb_array_length(submit_results) AS n FROM blocks");
      assert.deepEqual(b, { height: 900_001, reward_sats: "312500000", status: "submitted", n: 1 });
      const [u] = await q<{ best: number; h: number }>("SELECT best_difficulty AS best, hashrate_1m AS h FROM users WHERE btc_address = $1", [user]);
      assert.deepEqual(u, { best: 5e6, h: 7e12 });
      const [w] = await q<{ h: number; d: number }>("SELECT hashrate_1m AS h, current_difficulty AS d FROM workers WHERE worker_name = 'w'");
      assert.deepEqual(w, { h: 1e12, d: 2048 });
      const [wk] = await q<{ wk: string; best: number }>("SELECT to_char(b.week_start, 'IYYY-\"W\"IW') AS wk, b.best_difficulty AS best FROM weekly_best_diff b JOIN users u ON u.id = b.user_id WHERE u.btc_address = $1", [user]);
      assert.deepEqual(wk, { wk: "2026-W47", best: 5e6 });
      assert.equal((await q<{ n: number }>("SELECT count(*)::int AS n FROM best_diff_records"))[0].n, 2);
      assert.equal((await q<{ n: number }>("SELECT count(*)::int AS n FROM network_blocks"))[0].n, 2);
      assert.deepEqual(await q("SELECT state, previous FROM relay_states"), [{ state: "independent", previous: "passthrough" }]);
      assert.equal((await q<{ n: number }>("SELECT count(*)::int AS n FROM event_log"))[0].n >= events.length, true);
    });

    test("a value the database refuses fails the whole batch with STORE_DATA_REJECTED and stores nothing of it", async () => {
      const good = makeShares(3, { startUs: BASE_US + 30 * HOUR_US });
      const bad = makeEvent("share_best_diff", { user: address(1), worker: "w", scope: "week", old_best: null, new_best: 1, week: "not-a-week", height: 1 }, { timestampUs: BASE_US });
      await assert.rejects(store.writeBatch([...good, bad]), { code: "STORE_DATA_REJECTED" });
      const n = await q<{ n: number }>("SELECT count(*)::int AS n FROM shares WHERE event_id = ANY($1::uuid[])", [good.map((e) => e.event_id)]);
      assert.equal(n[0].n, 0);
    });
  });
}

test("PGlite store persists under its data dir across reopen", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-pglite-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const shares = makeShares(50);
  let store = new PgliteEventStore({ dataDir: dir });
  await store.start();
  assert.equal((await store.writeBatch(shares)).inserted, 50);
  await store.close();
  store = new PgliteEventStore({ dataDir: dir });
  await store.start();
  assert.deepEqual(store.migration?.applied, []);
  const r = await store.writeBatch(shares);
  assert.deepEqual([r.inserted, r.duplicates], [0, 50]);
  await store.close();
});
