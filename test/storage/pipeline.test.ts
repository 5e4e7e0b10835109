/**
 * The write path against real servers: PostgreSQL + Redis started by test/support/servers.ts,
 * stopped and restarted mid-stream.
 */
import { test, before, after, beforeEach, describe } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Batcher } from "../../src/pipeline/storage/batcher.ts";
import { PgEventStore } from "../../src/pipeline/storage/event-store.ts";
import { RedisStreamWriter } from "../../src/pipeline/storage/redis-streams.ts";
import { startPostgres, startRedis, timescaledbSkip, type PostgresServer, type TestServer } from "../support/servers.ts";
import { BASE_US, makeShares, waitFor } from "./fixtures.ts";
import { emptyDatabase, emptyRedis } from "../support/reset.ts";

type Backend = "postgres" | "timescaledb";

/** The suite on one backend; registered for both below. */
const suite = (backend: Backend) => () => {
  let pg: PostgresServer;
  let redis: TestServer;
  let store: PgEventStore;
  let sink: RedisStreamWriter;
  let batcher: Batcher;

  const rows = async (sql: string) => (await store.database.query<{ n: number }>(sql)).rows[0].n;
  const streamEntries = async () => {
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      let n = 0;
      for (const key of await c.keys("mining:*")) n += await c.xLen(key);
      return n;
    } finally {
      c.destroy();
    }
  };

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres({ timescaledb: backend === "timescaledb" }), startRedis()]);
  });
  after(async () => {
    await Promise.all([pg.close(), redis.close()]);
  });
  beforeEach(async () => {
    // Each test starts from an empty schema and empty Redis.
    await emptyDatabase(pg.url);
    await emptyRedis(redis.url);
    store = new PgEventStore({ url: pg.url, connectTimeoutMs: 1_000 });
    await store.start();
    assert.deepEqual(store.migration?.applied, backend === "timescaledb" ? [1, 2] : [1]);
    sink = new RedisStreamWriter({ url: redis.url, reconnectMaxDelayMs: 100 });
    await sink.start();
    batcher = new Batcher({ store, sink, maxBatchEvents: 2_000, retryInitialMs: 20, retryMaxMs: 200 });
    batcher.start();
  });
  const teardown = async () => {
    await batcher.close();
    await sink.close();
    await store.close();
  };

  test("10 000 shares → exactly 10 000 rows and 10 000 stream entries; the same events again change nothing", async () => {
    const events = makeShares(10_000, { users: 50, stepUs: 100_000 });
    for (const e of events) batcher.push(e);
    await batcher.flush();
    assert.ok(await sink.flushed(10_000));
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 10_000);
    assert.equal(await rows("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), 10_000);
    assert.equal(await streamEntries(), 10_000);
    for (const e of events) batcher.push(e);
    await batcher.flush();
    assert.ok(await sink.flushed(10_000));
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 10_000);
    assert.equal(await rows("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), 10_000);
    assert.equal(await streamEntries(), 10_000);
    const st = batcher.stats();
    assert.deepEqual([st.received, st.stored, st.duplicates, st.pending], [20_000, 10_000, 10_000, 0]);
    await teardown();
  });

  test("PostgreSQL crashes and restarts mid-stream: nothing lost, nothing doubled", async () => {
    const events = makeShares(10_000, { users: 50, startUs: BASE_US + 7 * 86_400_000_000 });
    for (const e of events.slice(0, 3_000)) batcher.push(e);
    await batcher.flush();
    await pg.stop({ kill: true });
    for (const e of events.slice(3_000, 6_000)) batcher.push(e);
    await waitFor(() => batcher.stats().storeErrors >= 2, "store errors while PostgreSQL is down");
    assert.ok(batcher.stats().pending > 0);
    await pg.restart();
    await batcher.flush();
    // A graceful restart while batches are in flight.
    for (const e of events.slice(6_000, 8_000)) batcher.push(e);
    const restarting = pg.restart();
    for (const e of events.slice(8_000)) batcher.push(e);
    await restarting;
    await batcher.flush();
    // Replays of everything around the outage are duplicates.
    for (const e of events.slice(2_000, 7_000)) batcher.push(e);
    await batcher.flush();
    assert.ok(await sink.flushed(10_000));
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 10_000);
    assert.equal(await rows("SELECT count(DISTINCT event_id)::int AS n FROM shares"), 10_000);
    assert.equal(await rows("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), 10_000);
    assert.equal(await streamEntries(), 10_000);
    const st = batcher.stats();
    assert.equal(st.stored, 10_000);
    assert.equal(st.duplicates, 5_000);
    assert.ok(st.storeErrors >= 2);
    await teardown();
  });

  test("Redis down: the database path continues, the misses are counted and sent after Redis returns", async () => {
    await redis.stop();
    const events = makeShares(1_000, { users: 10, startUs: BASE_US + 14 * 86_400_000_000 });
    for (const e of events) batcher.push(e);
    await batcher.flush();
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 1_000);
    assert.equal(sink.stats().backlog, 1_000);
    await waitFor(() => sink.stats().errors > 0 && !sink.stats().connected, "redis errors counted");
    await redis.restart(); // no persistence: the stream holds exactly what the backlog sends
    assert.ok(await sink.flushed(20_000), "backlog drained after Redis came back");
    assert.equal(await streamEntries(), 1_000);
    assert.equal(sink.stats().written, 1_000);
    await teardown();
  });
};

// Plain PostgreSQL, and PostgreSQL with TimescaleDB (hypertables; skipped with the reason when it is not
// installed): a server crash mid-stream must lose and double nothing on either.
describe("batcher → PostgreSQL + Redis", suite("postgres"));
describe("batcher → PostgreSQL with TimescaleDB + Redis", { skip: timescaledbSkip() }, suite("timescaledb"));
