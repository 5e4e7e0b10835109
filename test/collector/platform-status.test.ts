/**
 * The collector's platform page and `/api/platform` on both databases (a real PostgreSQL server and
 * PGlite): two pools in two regions mine through the collector's socket, and the API lists both regions,
 * the weekly leaderboard and the blocks; `tbg status` prints it. Address display and bad settings too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { PlatformStatusSchema, PlatformStatusSource, isoWeekStart, type PlatformStatus } from "../../src/pipeline/collector/platform-status.ts";
import type { CollectorStats } from "../../src/pipeline/collector/collector.ts";
import { openPglite } from "../../src/pipeline/storage/queryable.ts";
import { migrate } from "../../src/pipeline/storage/migrate.ts";
import { AddressMask } from "../../src/util/text.ts";
import { resolveCollectorSettings } from "../../src/pipeline/collector/config.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startPostgres } from "../support/servers.ts";
import { waitFor } from "../storage/fixtures.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function tbg(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

for (const dialect of ["postgres", "pglite"] as const) {
  test(`platform API on ${dialect}: regions, weekly leaderboard, blocks, throughput; the page; tbg status`, { timeout: 180_000 }, async (t) => {
    const cleanups: Array<() => unknown> = [];
    t.after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });
    const dir = await mkdtemp(join(tmpdir(), "tbg-platform-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const pg = dialect === "postgres" ? await startPostgres() : null;
    if (pg) cleanups.push(() => pg.close());
    const socketPath = join(dir, "events.sock");
    const collector = new Collector({
      socketPath, databaseUrl: pg?.url ?? null, dataDir: join(dir, "data"), http: { host: "127.0.0.1", port: 0 },
      statusPage: { addressDisplay: "full" }, batch: { flushIntervalMs: 100 }, defaultMetrics: false,
    });
    await collector.start();
    cleanups.push(() => collector.close());
    const base = collector.httpUrl!;
    const get = async () => (await (await fetch(`${base}/api/platform`)).json()) as PlatformStatus;
    const before = PlatformStatusSchema.parse(await get());
    assert.deepEqual(before.regions, []);
    assert.deepEqual(before.leaderboard.rows, []);

    const node = await startTestNode();
    cleanups.push(() => node.close());
    const runs = [
      { region: "eu", address: REGTEST_ADDRESSES.p2wpkh, worker: "rig-eu" },
      { region: "us-east", address: REGTEST_ADDRESSES.p2tr, worker: "rig-us" },
    ];
    for (const r of runs) {
      const pool = await startTestPool({ node, overrides: { region: r.region, instance: `${r.region}-1`, events: { enabled: true, socket_path: socketPath } } });
      try {
        const miner = await startMiner({ url: pool.url, user: `${r.address}.${r.worker}`, maxBlocks: 1, threads: 0, durationSec: 60 });
        assert.equal((await miner.done).blocksFound, 1);
      } finally {
        await pool.close();
      }
    }
    await waitFor(() => collector.stats().batcher.pending === 0 && collector.stats().batcher.stored > 0, "events committed");
    await collector.flush();
    // The document is cached for 2 s: wait for one built after the last commit.
    await waitFor(async () => (await get()).blocks.length === 2, "both blocks in /api/platform", 20_000, 250);

    const res = await fetch(`${base}/api/platform`);
    assert.equal(res.status, 200);
    const doc = PlatformStatusSchema.parse(await res.json());
    assert.equal(doc.collector.database.dialect, dialect);
    assert.equal(doc.collector.database.open, true);
    assert.equal(doc.collector.database.error, null);
    assert.deepEqual(doc.regions.map((r) => [r.region, r.instances, r.blocks]), [["eu", 1, 1], ["us-east", 1, 1]]);
    assert.ok(doc.regions.every((r) => r.shares_5m >= 1 && r.last_event_at !== null));
    assert.equal(doc.leaderboard.week_start, isoWeekStart(Date.now()));
    assert.deepEqual(new Set(doc.leaderboard.rows.map((r) => `${r.address}.${r.worker}`)), new Set(runs.map((r) => `${r.address}.${r.worker}`)), "full addresses as configured");
    assert.deepEqual(doc.leaderboard.rows.map((r) => r.rank), [1, 2]);
    assert.ok(doc.leaderboard.rows[0].difficulty >= doc.leaderboard.rows[1].difficulty, "best first");
    assert.deepEqual(doc.blocks.map((b) => b.region).sort(), ["eu", "us-east"]);
    assert.ok(doc.blocks.every((b) => b.accepted && b.reward_sats > 0));
    assert.deepEqual(doc.totals, { users: 2, workers: 2, workers_online: 0, blocks: 2, blocks_accepted: 2 });
    assert.ok(doc.throughput.stored > 0 && doc.throughput.lag_seconds >= 0);
    assert.ok(doc.throughput.events_per_second !== null, "a rate once two samples exist");

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.match(await page.text(), /\/api\/platform/);

    const cli = await tbg(["status", "--url", base]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^collector \\(region eu, ${dialect}\\): database open`, "m"));
    assert.match(cli.stdout, /^REGIONS\n.*\n +eu +1 .*\n +us-east +1 /m);
    assert.match(cli.stdout, /BEST DIFFICULTY, WEEK OF \d{4}-\d{2}-\d{2}\n.*\n +1 +rig-/);

    // A pool still running with a connected miner: its region shows a miner online.
    const live = await startTestPool({ node, overrides: { region: "ap", instance: "ap-1", events: { enabled: true, socket_path: socketPath } } });
    cleanups.push(() => live.close());
    const liveMiner = await startMiner({ url: live.url, user: `${REGTEST_ADDRESSES.p2wpkh}.rig-ap`, threads: 0, durationSec: 60 });
    cleanups.push(() => liveMiner.close());
    let ap: PlatformStatus["regions"][number] | undefined;
    await waitFor(async () => (ap = (await get()).regions.find((r) => r.region === "ap")) !== undefined && ap.workers_online >= 1, "region ap with a miner online", 20_000, 250);
    assert.equal(ap!.users_online, 1);
    assert.equal(ap!.instances, 1);
  });
}

test("platform page settings: address_display and status_page from the file, --address-display from flags; bad values named", () => {
  assert.deepEqual(resolveCollectorSettings({}, {}).statusPage, { addressDisplay: "short" });
  assert.deepEqual(resolveCollectorSettings({ address_display: "hidden" }, {}).statusPage, { addressDisplay: "hidden" });
  assert.deepEqual(resolveCollectorSettings({ address_display: "hidden" }, { addressDisplay: "full" }).statusPage, { addressDisplay: "full" });
  assert.equal(resolveCollectorSettings({ status_page: false }, {}).statusPage, false);
  assert.throws(() => resolveCollectorSettings({}, { addressDisplay: "partial" }), /--address-display: full, short or hidden, got 'partial'/);
});

test("isoWeekStart is the Monday (UTC) of the ISO week", () => {
  assert.equal(isoWeekStart(Date.UTC(2026, 11, 6, 23, 59)), "2026-11-30", "a Sunday belongs to the week started the Monday before");
  assert.equal(isoWeekStart(Date.UTC(2026, 10, 30, 0, 0)), "2026-11-30", "Monday 00:00 starts a week");
  assert.equal(isoWeekStart(Date.UTC(2027, 0, 1)), "2026-12-28", "across a year boundary");
});

test("stale state drops off: online workers and their hashrate count only when heard of within 10 min, instances only with events within 5 min; the cache adapts", async (t) => {
  const db = await openPglite();
  t.after(() => db.close());
  await migrate(db);
  const now = Date.now();
  const ago = (min: number) => new Date(now - min * 60_000).toISOString();
  const addr = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
  await db.query(`INSERT INTO users (btc_address, first_seen_at, last_seen_at) VALUES ($2, $1, $1), ('bc1qb', $1, $1)`, [ago(60), addr]);
  await db.query(`INSERT INTO weekly_best_diff (user_id, week_start, best_difficulty, worker_id, achieved_at) VALUES (1, $1::date, 42, 1, $2)`, [isoWeekStart(now), ago(3)]);
  // eu: one live worker (hashrate 2 min old) and one whose pool died 30 min ago without a disconnect.
  await db.query(
    `INSERT INTO workers (user_id, worker_name, region, first_seen_at, last_seen_at, last_share_at, is_online, online_changed_at, hashrate_5m, hashrate_at)
     VALUES (1, 'live', 'eu', $1, $2, $2, true, $1, 1000, $2), (2, 'ghost', 'eu', $1, $3, $3, true, $1, 5000, $3)`,
    [ago(60), ago(2), ago(30)],
  );
  // eu-1 sent an event a minute ago; eu-2 twenty minutes ago (gone).
  await db.query(
    `INSERT INTO event_log (event_id, ts, event, region, instance, data) VALUES (gen_random_uuid(), $1, 'x', 'eu', 'eu-1', '{}'), (gen_random_uuid(), $2, 'x', 'eu', 'eu-2', '{}')`,
    [ago(1), ago(20)],
  );
  const source = new PlatformStatusSource({
    database: () => db,
    stats: () => ({ region: "eu", uptimeSeconds: 1, database: { dialect: "pglite", open: true, lastError: null }, batcher: { received: 0, stored: 0, duplicates: 0, malformed: 0, dropped: 0, pending: 0, lagMs: 0, lastBatchMs: 0 } }) as unknown as CollectorStats,
    mask: new AddressMask("short"),
    cacheMs: 1_000,
  });
  const doc = PlatformStatusSchema.parse(await source.get());
  assert.deepEqual(doc.regions.map((r) => [r.region, r.instances, r.workers_online, r.users_online, r.hashrate_hs]), [["eu", 1, 1, 1, 1000]]);
  assert.equal(doc.totals.workers_online, 1);
  assert.equal(doc.totals.workers, 2);
  assert.deepEqual(doc.leaderboard.rows.map((r) => [r.address, r.worker, r.difficulty]), [["bc1qar…5mdq", "live", 42]], "short addresses on the leaderboard");
  assert.ok(!JSON.stringify(doc).includes(addr));
  const hidden = await new PlatformStatusSource({ database: () => db, stats: () => (source as unknown as { o: { stats: () => CollectorStats } }).o.stats(), mask: new AddressMask("hidden") }).get();
  assert.match(hidden.leaderboard.rows[0].address, /^miner-[0-9a-f]{8}$/, "hidden: a pseudonym");
  assert.ok(!JSON.stringify(hidden).includes(addr.slice(-10)));
  // Many viewers within the period: one build.
  await Promise.all(Array.from({ length: 20 }, () => source.get()));
  for (let i = 0; i < 5; i++) await source.get();
  assert.equal(source.builds, 1);

  // A slow database (100 ms a query): the document is reused for ten times its build time, not just cacheMs.
  const slow = { query: async (sql: string, params?: unknown[]) => (await new Promise((r) => setTimeout(r, 100)), db.query(sql, params)) } as unknown as typeof db;
  const slowSource = new PlatformStatusSource({ database: () => slow, stats: () => (source as unknown as { o: { stats: () => CollectorStats } }).o.stats(), mask: new AddressMask("short"), cacheMs: 10 });
  await slowSource.get();
  await new Promise((r) => setTimeout(r, 200));
  await slowSource.get();
  assert.equal(slowSource.builds, 1, "a build of >= 300 ms is reused for >= 3 s");
});
