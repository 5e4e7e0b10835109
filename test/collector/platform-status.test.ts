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
import { Collector } from "../../src/collector/collector.ts";
import { PlatformStatusSchema, isoWeekStart, type PlatformStatus } from "../../src/collector/platform-status.ts";
import { resolveCollectorSettings } from "../../src/collector/config.ts";
import { startMiner } from "../../src/client/miner/miner.ts";
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
