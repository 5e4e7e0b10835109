/**
 * The compare's table and JSON (bench/compare.ts) as pure functions: medians and minimums over runs, the
 * ratios, the required measures, and what each measure reads from its script's result line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GROUPS, compareJson, compareRows, compareTable, median } from "../../bench/compare.ts";

const REQUIRED = ["share_cpu_us_0tx", "share_cpu_us_3000tx", "fanout_last_p50_ms_10k", "rtt_p99_ms_1k_over_10k", "rss_idle_mib", "rss_per_conn_kib"];

test("median: odd count the middle value, even count the mean of the middle two, none null", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.equal(median([]), null);
});

test("compareRows: median and min per pool over the runs, ratio = ours ÷ ckpool of the medians, missing pools null", () => {
  const rows = compareRows(
    [
      { measure: "share_cpu_us_0tx", unit: "µs/share", connections: 100 },
      { measure: "rss_idle_mib", unit: "MiB", connections: 10_000 },
    ],
    {
      share_cpu_us_0tx: { ours: [30, 10, 20], ckpool: [40, 20, 30], public_pool: [100, 200, 150] },
      rss_idle_mib: { ours: [120] },
    },
  );
  assert.deepEqual(rows[0], {
    measure: "share_cpu_us_0tx",
    unit: "µs/share",
    connections: 100,
    ours: 20,
    ckpool: 30,
    ratio: 0.67,
    public_pool: 150,
    ratio_public_pool: 0.13,
    ours_min: 10,
    ckpool_min: 20,
    public_pool_min: 100,
    ours_before: null,
    ours_before_min: null,
    ratio_before: null,
    runs: { ours: 3, ckpool: 3, public_pool: 3, ours_before: 0 },
  });
  assert.equal(rows[1].ours, 120);
  assert.equal(rows[1].ckpool, null);
  assert.equal(rows[1].ratio, null, "no ckpool figure, no ratio");
  assert.deepEqual(rows[1].runs, { ours: 1, ckpool: 0, public_pool: 0, ours_before: 0 });
});

test("compareJson is one line that starts with bench and rows, and carries every required measure", () => {
  const outputs = GROUPS.flatMap((g) => g.outputs.map((o) => ({ measure: o.measure, unit: o.unit, connections: g.connections(false) })));
  const samples = Object.fromEntries(outputs.map((o, i) => [o.measure, { ours: [i + 1], ckpool: [2 * (i + 1)] }]));
  const rows = compareRows(outputs, samples);
  const line = compareJson(rows, { quick: true, loadavg: { start: 1 } });
  assert.ok(!line.includes("\n"));
  assert.ok(line.startsWith('{"bench":"compare","rows":['), line.slice(0, 40));
  const parsed = JSON.parse(line) as { rows: Array<{ measure: string; ours: number; ckpool: number; ratio: number; public_pool: unknown }>; quick: boolean };
  for (const m of REQUIRED) {
    const r = parsed.rows.find((x) => x.measure === m);
    assert.ok(r, `measure ${m}`);
    assert.equal(r.ratio, 0.5);
    assert.equal(r.public_pool, null);
    assert.ok("ours" in r && "ckpool" in r && "public_pool" in r);
  }
  assert.equal(parsed.quick, true);
  // The full-size loads are what the names say.
  assert.equal(outputs.find((o) => o.measure === "fanout_last_p50_ms_10k")!.connections, 10_000);
  assert.equal(outputs.find((o) => o.measure === "rtt_p99_ms_1k_over_10k")!.connections, 10_000);
});

test("compareTable: median (min) when there are several runs, n/a where a pool has no figure, ratios to 2 decimals", () => {
  const rows = compareRows([{ measure: "rtt_p99_ms_1k_over_10k", unit: "ms", connections: 10_000 }], { rtt_p99_ms_1k_over_10k: { ours: [2, 1.5, 3], ckpool: [3] } });
  const text = compareTable(rows);
  const line = text.split("\n")[2];
  assert.match(line, /^rtt_p99_ms_1k_over_10k/);
  assert.match(line, /\s2 \(1\.50\)\s/);
  assert.match(line, /\s3\s/);
  assert.match(line, /0\.67/);
  assert.match(line, /n\/a\s+n\/a$/);
});

test("each measure reads the right field of its script's result line", () => {
  const pick = (measure: string, result: Record<string, unknown>) => {
    const out = GROUPS.flatMap((g) => g.outputs).find((o) => o.measure === measure);
    assert.ok(out, measure);
    return out.pick(result);
  };
  assert.equal(pick("share_cpu_us_0tx", { rows: [{ poolCpuUsPerShare: 31.5 }] }), 31.5);
  assert.equal(pick("share_cpu_us_3000tx", { rows: [{ poolCpuUsPerShare: null }] }), null, "no pid, no figure");
  const fanout = { rows: [{ lastMs: { p50: 174, p99: 212 }, firstBlock: { lastMs: 400 }, poolCpuMsPerBlock: { count: 19, p50: 150 } }] };
  assert.equal(pick("fanout_last_p50_ms_10k", fanout), 174);
  assert.equal(pick("fanout_last_p99_ms_10k", fanout), 212);
  assert.equal(pick("fanout_first_block_last_ms_10k", fanout), 400);
  assert.equal(pick("fanout_pool_cpu_ms_per_block_10k", fanout), 150);
  assert.equal(pick("fanout_pool_cpu_ms_per_block_10k", { rows: [{ poolCpuMsPerBlock: { count: 0, p50: 0 } }] }), null);
  const memory = { rssBaselineMiB: 35.2, bytesPerConnectionAfterTemplates: 25_190, bytesPerConnection: 9_523 };
  assert.equal(pick("rss_idle_mib", memory), 35.2);
  assert.equal(pick("rss_per_conn_kib", memory), 24.6);
  assert.equal(pick("rss_per_conn_kib_1_template", memory), 9.3);
  assert.equal(pick("rss_per_conn_kib", { ...memory, bytesPerConnectionAfterTemplates: null }), null);
  assert.equal(pick("rtt_p99_ms_1k_over_10k", { submitRttMs: { p50: 0.2, p99: 3.2 } }), 3.2);
});

test("a run whose load did not get through is flagged: connections not ready, shares unanswered, notifies missed", () => {
  const check = (name: string, r: Record<string, unknown>, quick = false) => GROUPS.find((g) => g.name === name)!.check!(r, quick, "ours");
  const share = (connections: number, sent: number, low: number, perSec: number, targetRate = 10_000) => ({ rows: [{ connections, sent, rejectedLowDifficulty: low, sharesPerSec: perSec, targetRate }] });
  assert.equal(check("share", share(100, 100_000, 100_000, 9_990)), null);
  assert.equal(check("share", share(38, 32_583, 28_662, 2_771)), "38 of 100 connections ready, 28,662 of 32,583 shares answered as low difficulty, 2,771 of 10,000 of the offered rate answered");
  assert.equal(check("share", share(20, 12_000, 12_000, 1_990, 2_000), true), null, "quick: 20 connections");
  assert.equal(check("fanout", { rows: [{ ready: 10_000, connections: 10_000, missed: 0 }] }), null);
  assert.equal(check("fanout", { rows: [{ ready: 10_000, connections: 10_000, missed: 3 }] }), "3 notifies missed");
  assert.equal(check("memory", { connections: 9_000 }), "9,000 of 10,000 connections ready");
  assert.equal(check("rtt", { connections: 10_000, sent: 20_000, answered: 20_000 }), null);
  assert.equal(check("rtt", { connections: 10_000, sent: 20_000, answered: 15_000 }), "15,000 of 20,000 shares answered");
});

test("compare --baseline: ours_before gets its own median, minimum and ours ÷ before, and two more table columns", () => {
  const rows = compareRows([{ measure: "share_cpu_us_0tx", unit: "µs/share", connections: 100 }], { share_cpu_us_0tx: { ours: [30, 40, 35], ckpool: [40], ours_before: [50, 60, 70] } });
  assert.equal(rows[0].ours_before, 60);
  assert.equal(rows[0].ours_before_min, 50);
  assert.equal(rows[0].ratio_before, 0.58);
  const text = compareTable(rows);
  assert.match(text.split("\n")[0], /before median \(min\)\s+ours ÷ before/);
  assert.match(text.split("\n")[2], /60 \(50\)\s+0\.58$/);
  // Without a baseline the table keeps its columns.
  assert.doesNotMatch(compareTable(compareRows([{ measure: "x", unit: "ms", connections: 1 }], { x: { ours: [1] } })), /before/);
});

test("procSample counts a pool's child processes too (worker processes), not only the process itself", async () => {
  const { spawn } = await import("node:child_process");
  const { procSample, processTree } = await import("../../bench/support.ts");
  // A parent that starts a child which allocates ~64 MiB and stays; both idle until killed.
  const script = `const { spawn } = require("node:child_process");
    const c = spawn(process.execPath, ["-e", "globalThis.b = Buffer.alloc(64 * 1024 * 1024, 1); setInterval(() => {}, 1000); process.stdout.write('up')"], { stdio: ["ignore", "pipe", "inherit"] });
    c.stdout.on("data", () => process.stdout.write(String(c.pid)));
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const childPid = await new Promise<number>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(Number(String(d)))));
    assert.deepEqual(processTree(parent.pid!).sort(), [parent.pid!, childPid].sort());
    const whole = procSample(parent.pid!);
    const child = procSample(childPid);
    assert.ok(child.rssKiB > 64 * 1024, `child RSS ${child.rssKiB} KiB`);
    assert.ok(whole.rssKiB > child.rssKiB + 10 * 1024, `tree RSS ${whole.rssKiB} KiB includes the child's ${child.rssKiB}`);
  } finally {
    for (const pid of processTree(parent.pid!).reverse()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
});
