/**
 * tbg collector's datagram input against real PostgreSQL and Redis (test/support/servers.ts): the
 * engine's sender (UnixDgramSink, which retries on EAGAIN — net.unix.max_dgram_qlen is 10 here) →
 * socket → batcher → database → Redis. Exactly-once by event_id; malformed input counted and skipped.
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { createClient } from "redis";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import type { CollectorHealthReport } from "../../src/pipeline/collector/http.ts";
import { UnixDgramSink } from "../../src/pipeline/events/sinks/unix-dgram.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { startPostgres, startRedis, type PostgresServer, type TestServer } from "../support/servers.ts";
import { BASE_US, makeShares, waitFor } from "../storage/fixtures.ts";
import { emptyDatabase, emptyRedis } from "../support/reset.ts";

/** Value of one Prometheus sample `name{labels}`, or null. */
export function sample(text: string, series: string): number | null {
  for (const line of text.split("\n")) if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  return null;
}

describe("collector: datagram socket → PostgreSQL + Redis", () => {
  let pg: PostgresServer;
  let redis: TestServer;
  let dir: string;

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    dir = await mkdtemp(join(tmpdir(), "tbg-coll-"));
  });
  after(async () => {
    await Promise.all([pg.close(), redis.close(), rm(dir, { recursive: true, force: true })]);
  });

  async function freshDatabase(): Promise<void> {
    await emptyDatabase(pg.url);
    await emptyRedis(redis.url);
  }
  async function streamEntries(): Promise<number> {
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      let n = 0;
      for (const key of await c.keys("mining:*")) n += await c.xLen(key);
      return n;
    } finally {
      c.destroy();
    }
  }
  function startCollector(socketPath: string): Collector {
    return new Collector({
      socketPath, databaseUrl: pg.url, redisUrl: redis.url, region: "eu",
      http: { host: "127.0.0.1", port: 0 }, batch: { flushIntervalMs: 200 }, defaultMetrics: false,
    });
  }
  /** Sends events the way the engine does and waits until the kernel took them all. */
  async function sendAll(sink: UnixDgramSink, events: readonly MiningEvent[]): Promise<void> {
    const before = sink.stats().sent;
    for (const e of events) sink.send(Buffer.from(JSON.stringify(e)), e.event);
    await waitFor(() => sink.stats().sent - before === events.length, `${events.length} datagrams sent`, 60_000);
  }

  test("10 000 events through the socket → exactly 10 000 share rows and stream entries; the same events again → still 10 000", async (t) => {
    await freshDatabase();
    const socketPath = join(dir, "a.sock");
    const collector = startCollector(socketPath);
    await collector.start();
    t.after(() => collector.close());
    const sink = new UnixDgramSink({ socketPath });
    await sink.start();
    t.after(() => sink.close());
    const db = collector.eventStore.database;
    const count = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0].n;

    const events = makeShares(10_000, { users: 50, stepUs: 100_000 });
    const t0 = Date.now();
    await sendAll(sink, events);
    await waitFor(() => collector.stats().batcher.stored === 10_000, "10 000 stored", 60_000);
    const firstMs = Date.now() - t0;
    await waitFor(() => collector.stats().redis?.written === 10_000, "10 000 written to Redis");
    assert.equal(await count("SELECT count(*)::int AS n FROM shares"), 10_000);
    assert.equal(await count("SELECT count(DISTINCT event_id)::int AS n FROM shares"), 10_000);
    assert.equal(await streamEntries(), 10_000);

    await sendAll(sink, events);
    await waitFor(() => collector.stats().batcher.duplicates === 10_000, "10 000 duplicates", 60_000);
    await collector.flush();
    assert.equal(await count("SELECT count(*)::int AS n FROM shares"), 10_000);
    assert.equal(await count("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), 10_000);
    assert.equal(await streamEntries(), 10_000, "duplicates are not re-sent to Redis");
    const st = collector.stats();
    assert.equal(st.socket?.received, 20_000);
    assert.equal(st.socket?.dropped, 0);
    assert.equal(st.batcher.stored, 10_000);
    assert.equal(sink.stats().dropped.queue_full + sink.stats().dropped.no_reader, 0);

    const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
    assert.equal(sample(metrics, 'tbg_collector_events_received_total{input="socket"}'), 20_000);
    assert.equal(sample(metrics, "tbg_collector_events_stored_total"), 10_000);
    assert.equal(sample(metrics, "tbg_collector_events_duplicate_total"), 10_000);
    assert.equal(sample(metrics, "tbg_collector_redis_written_total"), 10_000);
    assert.equal(sample(metrics, "tbg_collector_redis_backlog_events"), 0);
    assert.equal(sample(metrics, "tbg_collector_pending_events"), 0);
    assert.equal(sample(metrics, "tbg_collector_database_up"), 1);
    assert.ok((sample(metrics, 'tbg_collector_batch_duration_seconds_count{outcome="ok"}') ?? 0) >= 2);
    assert.ok((sample(metrics, "tbg_collector_commit_lag_seconds_count") ?? 0) >= 2);
    t.diagnostic(`10 000 events socket → PostgreSQL in ${firstMs} ms; sender EAGAIN retries ${sink.stats().retries}, stalls ${sink.stats().stalls}`);
  });

  test("malformed, oversized and wrong-typed datagrams are counted by reason and skipped; a row the database refuses is isolated; valid events around them are stored", async (t) => {
    await freshDatabase();
    const socketPath = join(dir, "b.sock");
    const collector = startCollector(socketPath);
    await collector.start();
    t.after(() => collector.close());

    const valid = makeShares(100, { startUs: BASE_US + 3_600_000_000 });
    // Valid by schema (an extra field passes through), refused by PostgreSQL (a NUL in jsonb): must not poison its batch.
    const refused = makeShares(1, { startUs: BASE_US + 7_200_000_000 })[0];
    (refused.data as unknown as Record<string, unknown>).note = "x\u0000y";
    const share = valid[0];
    const bad = [
      Buffer.from("not json at all"),
      Buffer.from(JSON.stringify({ ...share, event: "share_stolen" })),
      Buffer.from(JSON.stringify({ ...share, data: { ...share.data, difficulty: "1024", accepted: "yes" } })),
      Buffer.from(JSON.stringify({ ...share, pad: "x".repeat(5_000) })),
      Buffer.alloc(70_000, 0x41), // beyond the reader's 64 KiB buffer: truncated, still too large
    ];
    const raw = new DgramSocket();
    raw.on("error", () => {});
    t.after(() => raw.close());
    let inFlight = 0;
    const send = (b: Buffer) => {
      inFlight++;
      raw.sendTo(b, 0, b.length, socketPath, () => inFlight--);
    };
    // Interleaved so the bad ones arrive within the same ~200 ms batches as the good ones.
    for (let i = 0; i < valid.length; i++) {
      send(Buffer.from(JSON.stringify(valid[i])));
      if (i % 20 === 10) send(bad[(i - 10) / 20]);
      if (i === 50) send(Buffer.from(JSON.stringify(refused)));
    }
    await waitFor(() => inFlight === 0, "datagrams sent");
    await waitFor(() => collector.stats().socket?.received === 106, "all datagrams received");
    await collector.flush();

    const st = collector.stats();
    assert.deepEqual(st.socket?.malformed, { too_large: 2, invalid_json: 1, unknown_type: 1, schema: 1 });
    assert.equal(st.batcher.stored, 100);
    assert.equal(st.batcher.rejected, 1);
    const db = collector.eventStore.database;
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM shares")).rows[0].n, 100);
    const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
    assert.equal(sample(metrics, 'tbg_collector_events_malformed_total{input="socket",reason="too_large"}'), 2);
    assert.equal(sample(metrics, 'tbg_collector_events_malformed_total{input="socket",reason="schema"}'), 1);
    assert.equal(sample(metrics, "tbg_collector_events_rejected_total"), 1);
    const health = await fetch(`${collector.httpUrl}/health`);
    const report = (await health.json()) as CollectorHealthReport;
    assert.equal(health.status, 200, JSON.stringify(report.problems));
    assert.equal(report.status, "ok");
    assert.equal(report.socket?.bound, true);
  });

  test("the socket stays bound while senders (engines) come and go", async (t) => {
    await freshDatabase();
    const socketPath = join(dir, "c.sock");
    const collector = startCollector(socketPath);
    await collector.start();
    t.after(() => collector.close());
    const events = makeShares(300, { startUs: BASE_US + 10_800_000_000 });
    for (let run = 0; run < 3; run++) {
      // A fresh sender per "engine run", closed (engine stopped) before the next one starts.
      const sink = new UnixDgramSink({ socketPath });
      await sink.start();
      await sendAll(sink, events.slice(run * 100, run * 100 + 100));
      await sink.close();
    }
    await waitFor(() => collector.stats().batcher.stored === 300, "300 stored");
    assert.equal(collector.stats().socket?.bound, true);
    assert.equal(collector.stats().socket?.socketErrors, 0);
  });

  test("PostgreSQL unreachable at start: the socket is bound anyway, events are held, /health is 503 until the database opens", async (t) => {
    await freshDatabase();
    await pg.stop();
    t.after(async () => { if (!pg.running) await pg.restart(); });
    const socketPath = join(dir, "d.sock");
    const collector = new Collector({
      socketPath, databaseUrl: pg.url, http: { host: "127.0.0.1", port: 0 }, batch: { flushIntervalMs: 100 },
      storeRetry: { initialMs: 100, maxMs: 200 }, defaultMetrics: false,
    });
    await collector.start();
    t.after(() => collector.close());
    assert.equal(collector.databaseOpen, false);
    const sink = new UnixDgramSink({ socketPath });
    await sink.start();
    t.after(() => sink.close());
    const events = makeShares(500, { startUs: BASE_US + 14_400_000_000 });
    await sendAll(sink, events);
    await waitFor(() => collector.stats().batcher.pending === 500, "events held");
    const down = await fetch(`${collector.httpUrl}/health`);
    const report = (await down.json()) as CollectorHealthReport;
    assert.equal(down.status, 503);
    assert.match(report.problems.join(" "), /database not open/);
    await pg.restart();
    await waitFor(() => collector.stats().batcher.stored === 500, "stored once the database is up", 30_000);
    assert.equal((await fetch(`${collector.httpUrl}/health`)).status, 200);
  });

  test("retention deletes raw shares past the horizon on the plain path, from its timer", async (t) => {
    await freshDatabase();
    const socketPath = join(dir, "e.sock");
    const collector = new Collector({
      socketPath, databaseUrl: pg.url, batch: { flushIntervalMs: 100 }, defaultMetrics: false,
      retention: { firstRunDelayMs: 50, intervalMs: 100, sharesDays: 90 },
    });
    await collector.start();
    t.after(() => collector.close());
    const sink = new UnixDgramSink({ socketPath });
    await sink.start();
    t.after(() => sink.close());
    const nowUs = Date.now() * 1000;
    const old = makeShares(10, { startUs: nowUs - 100 * 86_400_000_000 });
    const recent = makeShares(10, { startUs: nowUs - 3_600_000_000 });
    await sendAll(sink, [...old, ...recent]);
    await waitFor(() => collector.stats().retention.deletedShares === 10, "old shares purged");
    const n = (await collector.eventStore.database.query<{ n: number }>("SELECT count(*)::int AS n FROM shares")).rows[0].n;
    assert.equal(n, 10);
  });
});
