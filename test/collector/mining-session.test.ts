/**
 * End to end: the CPU miner → the pool (embedded regtest node, events to a Unix datagram socket) →
 * tbg collector (in-process) → PostgreSQL and Redis (real servers). Rows carry `source = 'hosted'` and
 * the pool's configured region; found blocks become block rows. The engine is then restarted on the
 * same socket: the collector keeps receiving without noticing.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startPostgres, startRedis, timescaledbSkip } from "../support/servers.ts";
import { waitFor } from "../storage/fixtures.ts";

const ADDRESS = REGTEST_ADDRESSES.p2wpkh;

const TITLE = "a mining session lands in PostgreSQL and Redis with source 'hosted' and the pool's region; block rows for found blocks; an engine restart is invisible to the collector";

/** The session against plain PostgreSQL, or PostgreSQL with TimescaleDB (`shares` a hypertable). */
const session = (timescaledb: boolean) => async (t: TestContext) => {
  // node:test runs `after` hooks in registration order: keep a stack so servers stop last.
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const [pg, redis] = await Promise.all([startPostgres({ timescaledb }), startRedis()]);
  const dir = await mkdtemp(join(tmpdir(), "tbg-colle2e-"));
  cleanups.push(() => Promise.all([pg.close(), redis.close(), rm(dir, { recursive: true, force: true })]));
  const socketPath = join(dir, "events.sock");
  // The collector first, so the socket exists before the engine sends its first event.
  const collector = new Collector({ socketPath, databaseUrl: pg.url, redisUrl: redis.url, region: "us-east", batch: { flushIntervalMs: 200 }, defaultMetrics: false });
  await collector.start();
  cleanups.push(() => collector.close());
  assert.deepEqual(collector.eventStore.migration?.applied, timescaledb ? [1, 2] : [1]);
  const node = await startTestNode();
  cleanups.push(() => node.close());
  const overrides = { region: "us-east", events: { enabled: true, socket_path: socketPath } };

  let found = 0;
  for (const run of [1, 2]) {
    const pool = await startTestPool({ node, overrides });
    try {
      const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.rig${run}`, maxBlocks: 2, threads: 0, durationSec: 60 });
      const stats = await miner.done;
      assert.equal(stats.stopReason, "max-blocks");
      found += stats.blocksFound;
    } finally {
      await pool.close(); // flushes the pool's event queue to the socket
    }
  }
  await waitFor(() => collector.stats().batcher.received > 0 && collector.stats().batcher.pending === 0, "everything committed");
  await collector.flush();
  await waitFor(() => (collector.stats().redis?.backlog ?? 1) === 0, "Redis caught up");

  const db = collector.eventStore.database;
  const one = async <T>(sql: string) => (await db.query<T>(sql)).rows[0];
  const shares = await one<{ n: number; hosted: number; region: number; users: number }>(
    "SELECT count(*)::int AS n, count(*) FILTER (WHERE source = 'hosted')::int AS hosted, count(*) FILTER (WHERE region = 'us-east')::int AS region, count(DISTINCT user_id)::int AS users FROM shares");
  assert.ok(shares.n > 0, "share rows");
  assert.equal(shares.hosted, shares.n);
  assert.equal(shares.region, shares.n);
  assert.equal(shares.users, 1);
  const blocks = await one<{ n: number; accepted: number; mine: number }>(
    "SELECT count(*)::int AS n, count(*) FILTER (WHERE b.accepted)::int AS accepted, count(*) FILTER (WHERE u.btc_address = '" + ADDRESS + "' AND b.region = 'us-east')::int AS mine FROM blocks b JOIN users u ON u.id = b.user_id");
  assert.equal(blocks.n, found, "one block row per block found");
  assert.equal(blocks.mine, found);
  assert.ok(blocks.accepted >= 4, `${blocks.accepted} accepted block rows`);
  const workers = await db.query<{ worker_name: string; source: string; region: string }>("SELECT worker_name, source, region FROM workers ORDER BY worker_name");
  assert.deepEqual(workers.rows, [
    { worker_name: "rig1", source: "hosted", region: "us-east" },
    { worker_name: "rig2", source: "hosted", region: "us-east" },
  ]);
  const sessions = await one<{ n: number; closed: number }>("SELECT count(*)::int AS n, count(disconnected_at)::int AS closed FROM miner_sessions");
  assert.ok(sessions.n >= 2, "both sessions recorded");
  assert.equal((await one<{ n: number }>("SELECT count(*)::int AS n FROM weekly_best_diff")).n, 1);
  if (timescaledb) assert.ok((await one<{ n: number }>("SELECT count(*)::int AS n FROM show_chunks('shares')")).n >= 1, "shares are in hypertable chunks");

  const c = createClient({ url: redis.url });
  await c.connect();
  cleanups.push(() => c.destroy());
  assert.equal(await c.xLen("mining:share_submitted"), shares.n);
  assert.equal(await c.xLen("mining:block_found"), found);
  const last = (await c.xRevRange("mining:share_submitted", "+", "-", { COUNT: 1 }))?.[0];
  assert.ok(last);
  assert.equal(last.message.source, "hosted");
  assert.equal(last.message.region, "us-east");
  const st = collector.stats();
  assert.equal(st.batcher.malformed, 0);
  assert.equal(st.socket?.dropped, 0);
  assert.equal(st.socket?.bound, true);
  t.diagnostic(`${shares.n} shares, ${found} blocks, ${st.batcher.stored} events stored over two engine runs`);
};

test(TITLE, session(false));
test(`${TITLE} (PostgreSQL with TimescaleDB)`, { skip: timescaledbSkip() }, session(true));
