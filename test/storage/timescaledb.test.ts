/**
 * The TimescaleDB path of the schema (migrations/002_timescale.sql) on a real PostgreSQL started with
 * `shared_preload_libraries=timescaledb`, side by side with plain PostgreSQL: the objects it creates,
 * identical answers for the collector's writes and docs/database.md's example queries, the continuous
 * aggregate after a refresh, replays into compressed chunks, the policies when their jobs run, and
 * applying 002 on a database that already holds rows.
 *
 * Skipped with the reason when TimescaleDB is not installed (scripts/build-timescaledb.sh installs it
 * from ../shared/vendor/timescaledb-<version>.tar.gz). The test servers run with the job scheduler
 * off, so each policy runs exactly when a test calls `run_job`.
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import pg from "pg";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { PgEventStore } from "../../src/pipeline/storage/event-store.ts";
import { migrate } from "../../src/pipeline/storage/migrate.ts";
import { purgeExpired } from "../../src/pipeline/storage/retention.ts";
import { startPostgres, timescaledbSkip, timescaledbStatus, type PostgresServer } from "../support/servers.ts";
import { BASE_US, address, makeEvent, makeShares } from "./fixtures.ts";

const skip = timescaledbSkip();
const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;

/** Creates database `name` on `server` and returns its URL. */
async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return server.url.replace(/\/[^/]+$/, `/${name}`);
}

type Q = <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;
const queryOf = (store: PgEventStore): Q => async <R>(sql: string, params?: unknown[]) => (await store.database.query<R>(sql, params)).rows;

/** Every row of `table` as JSON text (minus the columns filled by now()), sorted. */
async function dump(q: Q, table: string): Promise<string[]> {
  const rows = await q<{ r: string }>(`SELECT (to_jsonb(t) - 'created_at' - 'settings_updated_at')::text AS r FROM ${table} t ORDER BY 1`);
  return rows.map((x) => x.r);
}

/** The SQL blocks under "## Example queries" in docs/database.md, with the sentence that introduces each. */
function exampleQueries(): Array<{ title: string; sql: string }> {
  const md = readFileSync(new URL("../../docs/database.md", import.meta.url), "utf8");
  const section = md.split(/^## /m).find((s) => s.startsWith("Example queries")) ?? "";
  const queries = [...section.matchAll(/([^\n]+):\n\n```sql\n([\s\S]*?)\n```/g)].map((m) => ({ title: m[1], sql: m[2] }));
  const blocks = section.split("```sql").length - 1;
  if (blocks !== queries.length) throw new Error(`docs/database.md: ${blocks} sql blocks under Example queries, ${queries.length} introduced by a "...:" line`);
  return queries;
}

/**
 * A mining session relative to now, so the example queries (which filter on now()) see it: 5 users ×
 * 2 workers, 600 shares over the last 3 hours, two blocks, records, state updates, a tip seen in two
 * regions, relay state.
 */
function recentSession(): MiningEvent[] {
  const nowUs = Date.now() * 1000;
  const t0 = nowUs - 3 * HOUR_US;
  const shares = makeShares(600, { users: 5, startUs: t0, stepUs: 18_000_000 });
  const u0 = address(0), u1 = address(1);
  const tip = "00".repeat(4) + "cd".repeat(28);
  return [
    ...shares,
    makeEvent("miner_connected", { user: u0, worker: "rig0", session_id: "00000000", ip: "198.51.100.1", user_agent: "bitaxe/2.1", extranonce1: "0badf00d", difficulty: 512 }, { timestampUs: t0 }),
    makeEvent("diff_updated", { user: u0, worker: "rig0", session_id: "00000000", old_difficulty: 512, new_difficulty: 1024, reason: "vardiff" }, { timestampUs: t0 + 1 }),
    makeEvent("hashrate_update", { user: u0, worker: "rig0", hashrate_hs: { "1m": 1e12, "5m": 2e12, "1h": 3e12, "1d": 4e12, "7d": 5e12 } }, { timestampUs: nowUs - 60_000_000 }),
    makeEvent("hashrate_update", { user: u0, worker: null, hashrate_hs: { "1m": 7e12, "5m": 7e12, "1h": 7e12, "1d": 7e12, "7d": 7e12 } }, { timestampUs: nowUs - 60_000_000 }),
    makeEvent("block_found", { user: u0, worker: "rig0", height: 900_001, hash: "00".repeat(8) + "ab".repeat(24), reward_sats: 312_500_000, coinbase_signature: "/TheBitcoinGame/", accepted: true, submit_results: [{ node: "n1", accepted: true, result: null, latency_ms: 12 }], share_difficulty: 1.2e14, network_difficulty: 1.1e14 }, { timestampUs: t0 + HOUR_US }),
    makeEvent("block_found", { user: u1, worker: "rig1", height: 900_002, hash: "00".repeat(8) + "ef".repeat(24), reward_sats: 312_500_000, coinbase_signature: "/solo/", accepted: false, submit_results: [{ node: "n1", accepted: false, result: "bad-prevblk", latency_ms: 9 }], share_difficulty: 1.3e14, network_difficulty: 1.1e14 }, { timestampUs: t0 + 2 * HOUR_US }),
    makeEvent("share_best_diff", { user: u1, worker: "rig1", scope: "alltime", old_best: null, new_best: 5e6, height: 900_001 }, { timestampUs: t0 + 5 }),
    makeEvent("new_block_network", { height: 900_002, hash: tip, prev_hash: "22".repeat(32), source: "zmq:tcp://127.0.0.1:28332", first_seen_endpoint: "tcp://127.0.0.1:28332" }, { timestampUs: t0 + 2 * HOUR_US }),
    makeEvent("new_block_network", { height: 900_002, hash: tip, prev_hash: "22".repeat(32), source: "poll", first_seen_endpoint: null }, { timestampUs: t0 + 2 * HOUR_US + 450_000, region: "us", instance: "us-1" }),
    makeEvent("relay_state", { state: "independent", previous: "passthrough", reason: "primary_unreachable" }, { timestampUs: t0 + 3, region: "us", instance: "us-1" }),
  ];
}

const TABLES = ["users", "workers", "shares", "shares_hourly", "weekly_best_diff", "best_diff_records", "blocks",
  "miner_sessions", "network_blocks", "relay_states", "event_log"];

describe("TimescaleDB: what 002_timescale.sql creates", { skip }, () => {
  let server: PostgresServer;
  let store: PgEventStore;
  let q: Q;
  before(async () => {
    server = await startPostgres({ timescaledb: true });
    store = new PgEventStore({ url: server.url });
    await store.start();
    q = queryOf(store);
  });
  after(async () => {
    await store?.close();
    await server?.close();
  });

  test("migrations 1 and 2 apply on the installed TimescaleDB; a second run is a no-op", async () => {
    assert.deepEqual(store.migration?.applied, [1, 2]);
    assert.deepEqual(store.migration?.capabilities, ["timescaledb"]);
    const st = timescaledbStatus();
    assert.ok(st.installed);
    const [ext] = await q<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'");
    assert.equal(ext.v, st.version);
    const again = await migrate(store.database);
    assert.deepEqual([again.applied, again.skipped, again.current], [[], [], 2]);
  });

  test("shares (1-day chunks) and event_log (7-day chunks) are hypertables on ts", async () => {
    const dims = await q<{ t: string; c: string; i: string }>(
      "SELECT hypertable_name AS t, column_name AS c, time_interval::text AS i FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY 1");
    assert.deepEqual(dims, [{ t: "event_log", c: "ts", i: "7 days" }, { t: "shares", c: "ts", i: "1 day" }]);
  });

  test("shares is compressed segment by user_id, ordered by ts DESC", async () => {
    const cols = await q<{ a: string; seg: number | null; ord: number | null; asc: boolean | null }>(
      `SELECT attname AS a, segmentby_column_index AS seg, orderby_column_index AS ord, orderby_asc AS asc
       FROM timescaledb_information.compression_settings WHERE hypertable_name = 'shares' ORDER BY 1`);
    assert.deepEqual(cols, [{ a: "ts", seg: null, ord: 1, asc: false }, { a: "user_id", seg: 1, ord: null, asc: null }]);
    const [ht] = await q<{ c: boolean }>("SELECT compression_enabled AS c FROM timescaledb_information.hypertables WHERE hypertable_name = 'shares'");
    assert.equal(ht.c, true);
  });

  test("policies: compression after 30 days, retention 90 days on shares and event_log, cagg refresh every 30 min over [3 days, 1 hour] ago", async () => {
    const jobs = await q<{ proc: string; ht: string; every: string; config: Record<string, unknown> }>(
      `SELECT proc_name AS proc, hypertable_name AS ht, schedule_interval::text AS every, config
       FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2`); // not the extension's own jobs
    const byKey = new Map(jobs.map((j) => [`${j.proc} ${j.ht}`, j]));
    assert.equal(jobs.length, 4, JSON.stringify(jobs));
    assert.equal(byKey.get("policy_compression shares")?.config.compress_after, "30 days");
    assert.equal(byKey.get("policy_retention shares")?.config.drop_after, "90 days");
    assert.equal(byKey.get("policy_retention event_log")?.config.drop_after, "90 days");
    const cagg = jobs.find((j) => j.proc === "policy_refresh_continuous_aggregate");
    assert.ok(cagg, "refresh policy");
    assert.equal(cagg.every, "00:30:00");
    assert.deepEqual([cagg.config.start_offset, cagg.config.end_offset], ["3 days", "01:00:00"]);
  });

  test("the continuous aggregate shares_hourly_cagg is over shares, materialized only, and empty until refreshed", async () => {
    const caggs = await q<{ v: string; ht: string; m: boolean }>(
      "SELECT view_name AS v, hypertable_name AS ht, materialized_only AS m FROM timescaledb_information.continuous_aggregates");
    assert.deepEqual(caggs, [{ v: "shares_hourly_cagg", ht: "shares", m: true }]);
    await store.writeBatch(makeShares(50));
    assert.equal((await q<{ n: number }>("SELECT count(*)::int AS n FROM shares_hourly_cagg"))[0].n, 0);
    await store.database.exec("CALL refresh_continuous_aggregate('shares_hourly_cagg', NULL, NULL)");
    assert.ok((await q<{ n: number }>("SELECT count(*)::int AS n FROM shares_hourly_cagg"))[0].n > 0);
  });
});

describe("TimescaleDB and plain PostgreSQL give the same answers", { skip }, () => {
  let plainServer: PostgresServer, tsServer: PostgresServer;
  let plain: PgEventStore, ts: PgEventStore;
  let qp: Q, qt: Q;
  const events = recentSession();
  const replies: Array<[number, number]> = [];
  before(async () => {
    [plainServer, tsServer] = await Promise.all([startPostgres(), startPostgres({ timescaledb: true })]);
    plain = new PgEventStore({ url: plainServer.url });
    ts = new PgEventStore({ url: tsServer.url });
    await Promise.all([plain.start(), ts.start()]);
    assert.deepEqual(plain.migration?.applied, [1]);
    assert.deepEqual(ts.migration?.applied, [1, 2]);
    [qp, qt] = [queryOf(plain), queryOf(ts)];
    // Same batches to both, then a replay of some of them (a JetStream redelivery).
    for (let i = 0; i < events.length; i += 97) {
      const batch = events.slice(i, i + 97);
      const [a, b] = await Promise.all([plain.writeBatch(batch), ts.writeBatch(batch)]);
      replies.push([a.inserted, b.inserted]);
    }
    const replay = events.slice(100, 400);
    const [a, b] = await Promise.all([plain.writeBatch(replay), ts.writeBatch(replay)]);
    replies.push([a.inserted, b.inserted]);
  });
  after(async () => {
    await Promise.all([plain?.close(), ts?.close()]);
    await Promise.all([plainServer?.close(), tsServer?.close()]);
  });

  test("installed but not preloaded, TimescaleDB is not used: the plain path, and the pool outlives the probe", async () => {
    // The probe's CREATE EXTENSION ends its connection (FATAL "must be preloaded"); the pool drops it.
    const [listed] = await qp<{ n: number }>("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'timescaledb'");
    assert.equal(listed.n, 1);
    assert.deepEqual([plain.migration?.capabilities, plain.migration?.skipped], [[], [2]]);
    assert.deepEqual(await qp("SELECT extname FROM pg_extension WHERE extname = 'timescaledb'"), []);
    assert.equal(replies.reduce((n, [a]) => n + a, 0), events.length, "and every write after it went through");
  });

  test("writes: the same events are stored once, every table holds the same rows", async () => {
    assert.equal(replies.reduce((n, [a]) => n + a, 0), events.length);
    assert.deepEqual(replies.map(([, b]) => b), replies.map(([a]) => a));
    assert.equal(replies[replies.length - 1][0], 0, "the replay stores nothing");
    for (const table of TABLES) {
      const [a, b] = await Promise.all([dump(qp, table), dump(qt, table)]);
      assert.ok(a.length > 0, `${table} has rows`);
      assert.deepEqual(b, a, `table ${table}`);
    }
  });

  test("docs/database.md's example queries return the same rows on both", async () => {
    const queries = exampleQueries();
    assert.ok(queries.length >= 6, `found ${queries.length} example queries in docs/database.md`);
    for (const { title, sql } of queries) {
      const text = sql.replace(":'address'", "$1");
      const params = text.includes("$1") ? [address(0)] : undefined;
      const [a, b] = await Promise.all([qp(text, params), qt(text, params)]);
      assert.deepEqual(b, a, title);
      if (/^Cross-check/.test(title)) {
        assert.deepEqual(a, [], `${title}: the roll-up matches raw shares`);
        // ... and it does find a roll-up that is off (checked in a transaction that is rolled back).
        for (const db of [plain.database, ts.database]) {
          const rollback = new Error("roll back");
          let found = -1;
          await assert.rejects(db.transaction(async (tx) => {
            await tx.query(`UPDATE shares_hourly SET accepted_shares = accepted_shares + 1
                            WHERE bucket = date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 hour'`);
            found = (await tx.query(text)).rows.length;
            throw rollback;
          }), (err) => err === rollback);
          assert.equal(found, 10, `${title}: finds the 10 workers whose last complete hour was bumped`);
        }
      } else {
        assert.ok(a.length > 0, `${title}: returns rows`);
      }
    }
  });

  test("the continuous aggregate answers like shares_hourly after a refresh, also after more shares arrive", async () => {
    const cmp = async () => {
      const cols = "bucket, user_id, worker_id, accepted_shares, rejected_shares, accepted_work, best_share_difficulty";
      const [cagg, hourly] = await Promise.all([
        qt(`SELECT ${cols} FROM shares_hourly_cagg ORDER BY 1, 2, 3`),
        qt(`SELECT ${cols} FROM shares_hourly ORDER BY 1, 2, 3`),
      ]);
      assert.ok(hourly.length > 0);
      assert.deepEqual(cagg, hourly);
    };
    await ts.database.exec("CALL refresh_continuous_aggregate('shares_hourly_cagg', NULL, NULL)");
    await cmp();
    // New shares into existing buckets plus a replay: the cagg sees them only after the next refresh.
    const more = makeShares(120, { users: 5, startUs: Date.now() * 1000 - 2 * HOUR_US + 7, stepUs: 30_000_000 });
    assert.equal((await ts.writeBatch([...more, ...events.slice(0, 50)])).inserted, 120);
    await ts.database.exec("CALL refresh_continuous_aggregate('shares_hourly_cagg', NULL, NULL)");
    await cmp();
  });
});

describe("TimescaleDB: compressed chunks and policy jobs", { skip }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres({ timescaledb: true });
  });
  after(async () => {
    await server?.close();
  });

  /** A store on a fresh database of the shared server. */
  async function freshStore(name: string): Promise<{ store: PgEventStore; q: Q }> {
    const store = new PgEventStore({ url: await createDatabase(server, name) });
    await store.start();
    return { store, q: queryOf(store) };
  }

  test("a compressed chunk takes the collector's replays as duplicates without decompressing, and late new shares exactly once", async (t) => {
    const { store, q } = await freshStore("compressed");
    t.after(() => store.close());
    const shares = makeShares(2_000, { users: 20, stepUs: 60_000_000 }); // 2 000 minutes from BASE: 2 daily chunks
    assert.equal((await store.writeBatch(shares)).inserted, 2_000);
    const compressed = await q<{ c: string }>("SELECT compress_chunk(c)::text AS c FROM show_chunks('shares') c");
    assert.equal(compressed.length, 2);
    const allCompressed = async () => (await q<{ c: boolean }>(
      "SELECT is_compressed AS c FROM timescaledb_information.chunks WHERE hypertable_name = 'shares'")).every((r) => r.c);
    assert.ok(await allCompressed());
    // TimescaleDB's own counters of the DML work done on compressed chunks (2.28: stat_chunk_activity).
    const dml = async () => (await q<{ scanned: number; batches: number; tuples: number }>(
      `SELECT sum(total_batches_scanned)::int AS scanned, sum(total_batches_decompressed)::int AS batches,
              sum(total_tuples_decompressed)::int AS tuples
       FROM timescaledb_information.stat_chunk_activity WHERE hypertable = 'shares'`))[0];
    const hourly = await dump(q, "shares_hourly");
    const weekly = await dump(q, "weekly_best_diff");

    // A replay of everything (the publisher re-sending its spool, a JetStream redelivery).
    const replay = await store.writeBatch(shares);
    assert.deepEqual([replay.inserted, replay.duplicates], [0, 2_000]);
    const checked = await dml();
    assert.ok(checked.scanned > 0, "the conflict check looked into the compressed batches");
    assert.deepEqual([checked.batches, checked.tuples], [0, 0], "found as duplicates without decompressing a batch");
    assert.deepEqual(await dump(q, "shares_hourly"), hourly, "roll-up not doubled");
    assert.deepEqual(await dump(q, "weekly_best_diff"), weekly);

    // Late shares that are new (other event ids in the compressed time range), mixed with replays.
    const late = makeShares(300, { users: 20, startUs: BASE_US + 30_000_000, stepUs: 60_000_000 });
    const mixed = await store.writeBatch([...late, ...shares.slice(0, 500)]);
    assert.deepEqual([mixed.inserted, mixed.duplicates], [300, 500]);
    assert.deepEqual([(await store.writeBatch(late)).inserted], [0]);
    const afterLate = await dml(); // before the SELECTs below, which decompress to read (and count that too)
    assert.deepEqual([afterLate.batches, afterLate.tuples], [0, 0], "new rows went in beside the compressed batches");
    const [counts] = await q<{ n: number; keys: number; acc: number; rej: number }>(
      `SELECT (SELECT count(*)::int FROM shares) AS n, (SELECT count(DISTINCT (event_id, ts))::int FROM shares) AS keys,
              (SELECT sum(accepted_shares)::int FROM shares_hourly) AS acc, (SELECT sum(rejected_shares)::int FROM shares_hourly) AS rej`);
    assert.deepEqual(counts, { n: 2_300, keys: 2_300, acc: 1_800 + 270, rej: 200 + 30 });
    assert.ok(await allCompressed(), "the chunks are still compressed (now partially)");
  });

  test("run as jobs, the policies compress chunks past 30 days, drop raw chunks past 90 days (roll-ups kept) and refresh the continuous aggregate", async (t) => {
    const { store, q } = await freshStore("policies");
    t.after(() => store.close());
    const nowUs = Date.now() * 1000;
    const at = (daysAgo: number) => nowUs - daysAgo * DAY_US;
    const old = makeShares(40, { users: 4, startUs: at(100), stepUs: 60_000_000 });
    const month = makeShares(40, { users: 4, startUs: at(40), stepUs: 60_000_000 });
    const recent = makeShares(400, { users: 4, startUs: at(2), stepUs: 180_000_000 }); // 2 → 1.2 days ago
    const oldLog = makeEvent("relay_state", { state: "passthrough", previous: null, reason: "start" }, { timestampUs: at(100) });
    const newLog = makeEvent("relay_state", { state: "independent", previous: "passthrough", reason: "primary_unreachable" }, { timestampUs: at(1) });
    assert.equal((await store.writeBatch([...old, ...month, ...recent, oldLog, newLog])).inserted, 482);
    /** Runs the policy job `proc` (of hypertable `ht`; the refresh policy's is the cagg's own) now. */
    const job = async (proc: string, ht?: string) => {
      const rows = await q<{ id: number }>(
        "SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = $1 AND ($2::text IS NULL OR hypertable_name = $2)", [proc, ht ?? null]);
      assert.equal(rows.length, 1, `${proc} on ${ht}`);
      await store.database.exec(`CALL run_job(${Number(rows[0].id)})`);
    };
    const chunks = () => q<{ end: Date; compressed: boolean }>(
      "SELECT range_end AS end, is_compressed AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'shares' ORDER BY range_start");

    await job("policy_compression", "shares");
    const after30 = await chunks();
    for (const c of after30) assert.equal(c.compressed, c.end.getTime() * 1000 <= at(30), `chunk ending ${c.end.toISOString()}`);
    assert.ok(after30.filter((c) => c.compressed).length >= 2 && after30.some((c) => !c.compressed));

    const hourlyBefore = await dump(q, "shares_hourly");
    await job("policy_retention", "shares");
    await job("policy_retention", "event_log");
    const left = await q<{ n: number; oldest: Date }>("SELECT count(*)::int AS n, min(ts) AS oldest FROM shares");
    assert.equal(left[0].n, 440, "the 40 shares from 100 days ago are gone with their chunk");
    assert.ok(left[0].oldest.getTime() * 1000 >= at(90));
    assert.deepEqual(await dump(q, "shares_hourly"), hourlyBefore, "the hourly roll-up keeps the history");
    const log = await q<{ id: string }>("SELECT event_id::text AS id FROM event_log");
    assert.deepEqual(log.map((r) => r.id), [newLog.event_id]);
    // purgeExpired (the plain path's retention) leaves TimescaleDB to its policies.
    assert.deepEqual(await purgeExpired(store.database), { shares: 0, eventLog: 0, timescale: true });

    // The refresh policy materialises complete hours between 3 days and 1 hour ago: all of `recent`.
    await job("policy_refresh_continuous_aggregate");
    const cols = "bucket, user_id, worker_id, accepted_shares, rejected_shares, accepted_work, best_share_difficulty";
    const cagg = await q(`SELECT ${cols} FROM shares_hourly_cagg ORDER BY 1, 2, 3`);
    const expected = await q(`SELECT ${cols} FROM shares_hourly WHERE bucket >= now() - interval '3 days' ORDER BY 1, 2, 3`);
    assert.ok(expected.length > 0);
    assert.deepEqual(cagg, expected);
  });

  test("a database owner that is not a superuser applies 002 (TimescaleDB is a trusted extension) and owns the policy jobs", async (t) => {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query("CREATE ROLE tbg_owner LOGIN NOSUPERUSER");
      await admin.query("CREATE DATABASE owned OWNER tbg_owner");
    } finally {
      await admin.end();
    }
    const store = new PgEventStore({ url: `postgres://tbg_owner@127.0.0.1:${server.port}/owned` });
    t.after(() => store.close());
    await store.start();
    assert.deepEqual(store.migration?.applied, [1, 2]);
    assert.equal((await store.writeBatch(makeShares(100))).inserted, 100);
    const owners = await queryOf(store)<{ owner: string }>("SELECT DISTINCT owner::text AS owner FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL");
    assert.deepEqual(owners, [{ owner: "tbg_owner" }]);
    await store.database.exec("CALL refresh_continuous_aggregate('shares_hourly_cagg', NULL, NULL)");
    assert.ok((await queryOf(store)<{ n: number }>("SELECT count(*)::int AS n FROM shares_hourly_cagg"))[0].n > 0);
  });

  test("002 applies on a database that already holds rows (TimescaleDB installed after the plain path ran)", async (t) => {
    const url = await createDatabase(server, "upgraded");
    const events = recentSession();
    const plainFirst = new PgEventStore({ url, migrate: { capabilities: [] } }); // as if the extension were absent
    await plainFirst.start();
    assert.deepEqual([plainFirst.migration?.applied, plainFirst.migration?.skipped], [[1], [2]]);
    assert.equal((await plainFirst.writeBatch(events)).inserted, events.length);
    const q0 = queryOf(plainFirst);
    const snapshot = new Map<string, string[]>();
    for (const table of TABLES) snapshot.set(table, await dump(q0, table));
    await plainFirst.close();

    const store = new PgEventStore({ url });
    t.after(() => store.close());
    await store.start();
    assert.deepEqual(store.migration?.applied, [2]);
    const q = queryOf(store);
    for (const table of TABLES) assert.deepEqual(await dump(q, table), snapshot.get(table), `table ${table} after 002`);
    // migrate_data moved the rows into chunks: the hypertable's own heap is empty.
    const [moved] = await q<{ parent: number; chunks: number }>(
      "SELECT (SELECT count(*)::int FROM ONLY shares) AS parent, (SELECT count(*)::int FROM show_chunks('shares')) AS chunks");
    assert.equal(moved.parent, 0);
    assert.ok(moved.chunks >= 1);
    const replay = await store.writeBatch(events);
    assert.deepEqual([replay.inserted, replay.duplicates], [0, events.length]);
    await store.database.exec("CALL refresh_continuous_aggregate('shares_hourly_cagg', NULL, NULL)");
    const [c] = await q<{ n: number }>("SELECT sum(accepted_shares + rejected_shares)::int AS n FROM shares_hourly_cagg");
    assert.equal(c.n, events.filter((e) => e.event === "share_submitted").length);
  });
});
