/**
 * Side by side: this engine, ckpool 0.9.9 and public-pool under the same loads on the same machine.
 *
 * ckpool and public-pool are built from their upstream source tarballs into a cache outside the repository
 * (bench/rivals.ts; skipped when built before). Each measurement starts a fresh bench node (in this
 * process) and a fresh pool (a child process) on it, then runs one of the benchmark scripts in its own
 * process against that pool exactly as it would against any pool (`--url`, `--node-rpc`, `--pool-pid`):
 *
 *   share cost     share-throughput.ts  pool CPU µs per share at 10,000 shares/s over 100 connections,
 *                                       invalid mode, on the 0-tx and the 3,000-tx template (public-pool:
 *                                       1,000/s, about what it can answer)
 *   fan-out        fanout.ts            node's new block → mining.notify on the last of 10,000 connections
 *                                       (20 blocks: p50/p99 over blocks 2–20, block 1 on its own)
 *   memory         memory.ts            RSS before any connection; per connection at 10,000 with 21
 *                                       templates alive (and with one)
 *   round trip     submit-latency.ts    submit round trip p99 at 1,000 shares/s over 10,000 connections
 *
 * Runs are interleaved (run 1 of every measure on every pool, then run 2, …; the pool order rotates per
 * run) so that other load on the machine spreads over all pools; each figure is the median of the runs,
 * with the minimum beside it. Ratio = ours ÷ ckpool (lower is better for every measure here). The load
 * average is printed with the table. A pool that cannot be built is reported and left out; the others run.
 * The table and notes go to stdout, then, last, one JSON line `{"bench":"compare","rows":[…],…}`.
 *
 *   npm run bench -- compare [--quick] [--runs 3] [--pools ours,ckpool,public_pool]
 *                            [--measures share,fanout,memory,rtt] [--ckpool-tarball PATH]
 *                            [--public-pool-tarball PATH] [--cache-dir DIR] [--timeout S]
 *                            [--baseline DIR] [--events-reader]
 *
 * `--baseline DIR` adds `ours_before`: this engine from another checkout (an earlier commit, with its own
 * node_modules), measured in the same interleaved runs, so a change shows as before ÷ after under the same load.
 * Our pool's events are on and unread by default (the sink queues, bounded, and drops the oldest, counted);
 * `--events-reader` reads them in this process, as a collector would, so every event is sent.
 */
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { startBenchNode } from "../src/tools/bench-node/bench-node.ts";
import { DEFAULT_TARBALLS, POOL_KINDS, RivalUnavailable, baselineCheckout, buildCkpool, buildPublicPool, defaultCacheDir, startRival, type BuiltRival, type PoolKind } from "./rivals.ts";
import { flags, fmt, isMain, machine, round, runMain, table, ROOT } from "./support.ts";

/** One value a measure group yields. Lower is better for all of them. */
export interface MeasureOutput {
  measure: string;
  unit: string;
  pick: (result: Record<string, unknown>) => number | null;
}

/** A benchmark script run against each pool, with its full and quick sizes. */
export interface MeasureGroup {
  name: "share" | "fanout" | "memory" | "rtt";
  label: string;
  script: string;
  txs: 0 | 3000;
  args: (quick: boolean, kind: PoolKind) => string[];
  /** Connections of the load, for the table (the measure names say the full-size load). */
  connections: (quick: boolean) => number;
  outputs: MeasureOutput[];
  /**
   * Why this run's figures are not steady (the load did not get through: connections not ready, shares
   * unanswered, notifies missed), or null. Such runs still count; the compare lists the warnings.
   */
  check?: (result: Record<string, unknown>, quick: boolean, kind: PoolKind) => string | null;
}

/** "38 of 100 connections ready, 28,662 of 32,583 shares answered as low difficulty" (each below 95 %), or null. */
function shortfall(parts: Array<[what: string, got: unknown, wanted: unknown]>): string | null {
  const out = parts
    .filter(([, got, wanted]) => typeof got === "number" && typeof wanted === "number" && got < wanted * 0.95)
    .map(([what, got, wanted]) => `${fmt(got as number)} of ${fmt(wanted as number)} ${what}`);
  return out.length ? out.join(", ") : null;
}

type Json = Record<string, unknown>;
const rows0 = (r: Json): Json => ((r.rows as Json[] | undefined) ?? [])[0] ?? {};
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((x, k) => (x && typeof x === "object" ? (x as Json)[k] : undefined), o);

const shareGroup = (txs: 0 | 3000): MeasureGroup => ({
  name: "share",
  label: `share cost, ${txs === 0 ? "0" : "3,000"} tx`,
  script: "share-throughput.ts",
  txs,
  // public-pool answers a few hundred to ~1,500 shares/s on one core (it copies the template per share):
  // offered 10,000/s it only builds a backlog, and the CPU per answered share is then not a steady figure.
  // Its handshakes on the 3,000-tx template are slow too, so it gets a longer run (the ramp is inside it).
  args: (q, kind) => {
    const pp = kind === "public_pool";
    return ["--rates", String(pp ? (q ? 200 : 1000) : q ? 2000 : 10_000), "--duration", String(q ? (pp ? 10 : 6) : pp ? 20 : 10), "--connections", q ? "20" : "100"];
  },
  connections: (q) => (q ? 20 : 100),
  outputs: [{ measure: `share_cpu_us_${txs}tx`, unit: "µs/share", pick: (r) => numOrNull(rows0(r).poolCpuUsPerShare) }],
  check: (r, q) =>
    shortfall([
      ["connections ready", rows0(r).connections, q ? 20 : 100],
      ["shares answered as low difficulty", rows0(r).rejectedLowDifficulty, rows0(r).sent],
      ["of the offered rate answered", rows0(r).sharesPerSec, rows0(r).targetRate],
    ]),
});

/** The measures, in the order they run within one round. */
export const GROUPS: MeasureGroup[] = [
  shareGroup(0),
  shareGroup(3000),
  {
    name: "fanout",
    label: "fan-out, 3,000 tx",
    script: "fanout.ts",
    txs: 3000,
    args: (q) => (q ? ["--connections", "300", "--blocks", "4"] : ["--connections", "10000", "--blocks", "20"]),
    connections: (q) => (q ? 300 : 10_000),
    outputs: [
      { measure: "fanout_last_p50_ms_10k", unit: "ms", pick: (r) => numOrNull(get(rows0(r), "lastMs", "p50")) },
      { measure: "fanout_last_p99_ms_10k", unit: "ms", pick: (r) => numOrNull(get(rows0(r), "lastMs", "p99")) },
      { measure: "fanout_first_block_last_ms_10k", unit: "ms", pick: (r) => numOrNull(get(rows0(r), "firstBlock", "lastMs")) },
      { measure: "fanout_pool_cpu_ms_per_block_10k", unit: "ms", pick: (r) => (numOrNull(get(rows0(r), "poolCpuMsPerBlock", "count")) ? numOrNull(get(rows0(r), "poolCpuMsPerBlock", "p50")) : null) },
    ],
    check: (r) => shortfall([["connections ready", rows0(r).ready, rows0(r).connections]]) ?? (rows0(r).missed ? `${fmt(rows0(r).missed as number)} notifies missed` : null),
  },
  {
    name: "memory",
    label: "memory, 3,000 tx",
    script: "memory.ts",
    txs: 3000,
    args: (q) => (q ? ["--connections", "300", "--templates", "3"] : ["--connections", "10000", "--templates", "20"]),
    connections: (q) => (q ? 300 : 10_000),
    outputs: [
      { measure: "rss_idle_mib", unit: "MiB", pick: (r) => numOrNull(r.rssBaselineMiB) },
      { measure: "rss_per_conn_kib", unit: "KiB", pick: (r) => ((v) => (v === null ? null : round(v / 1024, 2)))(numOrNull(r.bytesPerConnectionAfterTemplates)) },
      { measure: "rss_per_conn_kib_1_template", unit: "KiB", pick: (r) => ((v) => (v === null ? null : round(v / 1024, 2)))(numOrNull(r.bytesPerConnection)) },
    ],
    check: (r, q) => shortfall([["connections ready", r.connections, q ? 300 : 10_000]]),
  },
  {
    name: "rtt",
    label: "submit round trip, 3,000 tx",
    script: "submit-latency.ts",
    txs: 3000,
    args: (q) => (q ? ["--connections", "300", "--rate", "200", "--duration", "3"] : ["--connections", "10000", "--rate", "1000", "--duration", "20"]),
    connections: (q) => (q ? 300 : 10_000),
    outputs: [
      { measure: "rtt_p99_ms_1k_over_10k", unit: "ms", pick: (r) => numOrNull(get(r, "submitRttMs", "p99")) },
      { measure: "rtt_p50_ms_1k_over_10k", unit: "ms", pick: (r) => numOrNull(get(r, "submitRttMs", "p50")) },
    ],
    check: (r, q) =>
      shortfall([
        ["connections ready", r.connections, q ? 300 : 10_000],
        ["shares answered", r.answered, r.sent],
      ]),
  },
];

/** Values of one measure on one pool over the runs. */
export type Samples = Partial<Record<PoolKind, number[]>>;

/** Median (mean of the middle two for an even count); null for none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One row of the result: medians per pool, minimums, ratio = ours ÷ ckpool (and ÷ public-pool). */
export interface CompareRow {
  measure: string;
  unit: string;
  /** Connections of the load that produced it (the full run: the 10k in the name). */
  connections: number;
  ours: number | null;
  ckpool: number | null;
  /** ours ÷ ckpool, medians; below 1 = we use less / are faster. */
  ratio: number | null;
  public_pool: number | null;
  /** ours ÷ public_pool, medians. */
  ratio_public_pool: number | null;
  ours_min: number | null;
  ckpool_min: number | null;
  public_pool_min: number | null;
  /** `--baseline`: the earlier checkout's median and minimum, and ours ÷ it (below 1 = the change helped). */
  ours_before: number | null;
  ours_before_min: number | null;
  ratio_before: number | null;
  runs: Record<PoolKind, number>;
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : round(a / b, 2));

/** Builds the rows from the samples: `samples[measure][pool]` = values over runs. */
export function compareRows(outputs: Array<{ measure: string; unit: string; connections: number }>, samples: Record<string, Samples>): CompareRow[] {
  return outputs.map(({ measure, unit, connections }) => {
    const s = samples[measure] ?? {};
    const med = (k: PoolKind) => ((m) => (m === null ? null : round(m, 3)))(median(s[k] ?? []));
    const min = (k: PoolKind) => (s[k]?.length ? round(Math.min(...s[k]!), 3) : null);
    const ours = med("ours");
    const ckpool = med("ckpool");
    const pp = med("public_pool");
    const before = med("ours_before");
    return {
      measure,
      unit,
      connections,
      ours,
      ckpool,
      ratio: ratio(ours, ckpool),
      public_pool: pp,
      ratio_public_pool: ratio(ours, pp),
      ours_min: min("ours"),
      ckpool_min: min("ckpool"),
      public_pool_min: min("public_pool"),
      ours_before: before,
      ours_before_min: min("ours_before"),
      ratio_before: ratio(ours, before),
      runs: { ours: s.ours?.length ?? 0, ckpool: s.ckpool?.length ?? 0, public_pool: s.public_pool?.length ?? 0, ours_before: s.ours_before?.length ?? 0 },
    };
  });
}

/** The text table: median (min) per pool and the ratios (and the baseline's columns when it ran). */
export function compareTable(rows: CompareRow[]): string {
  const cell = (med: number | null, min: number | null, n: number) => (med === null ? "n/a" : n > 1 ? `${fmt(med)} (${fmt(min!)})` : fmt(med));
  const withBefore = rows.some((r) => r.runs.ours_before > 0);
  const beforeHead = withBefore ? ["before median (min)", "ours ÷ before"] : [];
  return table(
    ["measure", "unit", "conns", "ours median (min)", "ckpool median (min)", "ours ÷ ckpool", "public-pool median (min)", "ours ÷ public-pool", ...beforeHead],
    rows.map((r) => [
      r.measure,
      r.unit,
      r.connections,
      cell(r.ours, r.ours_min, r.runs.ours),
      cell(r.ckpool, r.ckpool_min, r.runs.ckpool),
      r.ratio === null ? "n/a" : r.ratio.toFixed(2),
      cell(r.public_pool, r.public_pool_min, r.runs.public_pool),
      r.ratio_public_pool === null ? "n/a" : r.ratio_public_pool.toFixed(2),
      ...(withBefore ? [cell(r.ours_before, r.ours_before_min, r.runs.ours_before), r.ratio_before === null ? "n/a" : r.ratio_before.toFixed(2)] : []),
    ]),
  );
}

/** The last line: `{"bench":"compare","rows":[…], …}` (rows second so a reader sees them at once). */
export function compareJson(rows: CompareRow[], extra: Json): string {
  return JSON.stringify({ bench: "compare", rows, ...extra });
}

/** Runs one bench script in its own process; its tables go to stderr; resolves with its result line. */
function runScript(script: string, args: string[], timeoutSec: number): Promise<{ result?: Json; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${ROOT}bench/${script}`, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      process.stderr.write(s);
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      err += s;
      process.stderr.write(s);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSec * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith('{"bench":'));
      if (code === 0 && line) return resolve({ result: JSON.parse(line) as Json });
      resolve({ error: `${script}: ${signal ? `killed (${signal}) after ${timeoutSec} s` : `exit ${code}`}: ${err.trim().split("\n").slice(-3).join(" | ")}` });
    });
  });
}

/** One measurement: fresh bench node, fresh pool, the script against it. */
async function measureOnce(g: MeasureGroup, kind: PoolKind, built: BuiltRival | null, quick: boolean, timeoutSec: number, eventsReader: boolean): Promise<{ result?: Json; error?: string }> {
  const node = await startBenchNode({ txs: g.txs });
  try {
    let pool;
    try {
      pool = await startRival(kind, built, { host: "127.0.0.1", rpcPort: node.rpcPort, user: node.user, pass: node.pass, zmqPort: node.zmqPort }, { eventsReader });
    } catch (err) {
      return { error: `${kind} did not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    try {
      const nodeRpc = `http://${node.user}:${node.pass}@127.0.0.1:${node.rpcPort}`;
      return await runScript(g.script, [...g.args(quick, kind), "--url", pool.url, "--node-rpc", nodeRpc, "--pool-pid", String(pool.pid)], timeoutSec);
    } finally {
      await pool.close();
    }
  } finally {
    await node.close();
  }
}

function listFlag<T extends string>(v: string | undefined, all: readonly T[], what: string): T[] {
  if (v === undefined) return [...all];
  const out = v.split(",").map((s) => s.trim().replace(/-/g, "_")) as T[];
  const bad = out.filter((x) => !all.includes(x));
  if (bad.length || out.length === 0) throw new Error(`--${what}: one or more of ${all.join(",")} (got ${v})`);
  return out;
}

export async function main(argv: string[]): Promise<Json> {
  const f = flags(argv, ["runs", "pools", "measures", "ckpool-tarball", "public-pool-tarball", "cache-dir", "timeout", "baseline"], ["quick", "events-reader"]) as Partial<Record<string, string>> & { quick?: boolean; "events-reader"?: boolean };
  const quick = Boolean(f.quick);
  const runs = f.runs === undefined ? 3 : Number(f.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs: a positive integer");
  const timeoutSec = f.timeout === undefined ? (quick ? 180 : 900) : Number(f.timeout);
  if (!(timeoutSec > 0)) throw new Error("--timeout: seconds > 0");
  // ours_before runs when --baseline names a checkout (and --pools does not leave it out).
  const pools = listFlag(f.pools, POOL_KINDS, "pools").filter((k) => k !== "ours_before" || f.baseline !== undefined);
  const groupNames = listFlag(f.measures, ["share", "fanout", "memory", "rtt"] as const, "measures");
  const groups = GROUPS.filter((g) => groupNames.includes(g.name));
  const cacheDir = f["cache-dir"] ?? defaultCacheDir();
  const say = (s: string) => process.stderr.write(`compare: ${s}\n`);

  // ---- build (or find in the cache) the other pools
  const built: Partial<Record<PoolKind, BuiltRival>> = {};
  const poolStatus: Partial<Record<PoolKind, string>> = {};
  for (const kind of pools) {
    if (kind === "ours") {
      poolStatus.ours = "tbg pool (this checkout)";
      continue;
    }
    if (kind === "ours_before") {
      try {
        built.ours_before = baselineCheckout(f.baseline!);
        poolStatus.ours_before = `tbg pool (baseline checkout ${f.baseline})`;
      } catch (err) {
        if (!(err instanceof RivalUnavailable)) throw err;
        poolStatus.ours_before = `unavailable: ${err.message}`;
        say(`ours_before left out: ${err.message}`);
      }
      continue;
    }
    const tarball = (kind === "ckpool" ? f["ckpool-tarball"] : f["public-pool-tarball"]) ?? DEFAULT_TARBALLS[kind];
    try {
      const b = kind === "ckpool" ? await buildCkpool(tarball, cacheDir, say) : await buildPublicPool(tarball, cacheDir, say);
      built[kind] = b;
      poolStatus[kind] = `${b.cached ? "cached" : "built"}: ${b.path}`;
    } catch (err) {
      if (!(err instanceof RivalUnavailable)) throw err;
      poolStatus[kind] = `unavailable: ${err.message}`;
      say(`${kind} left out: ${err.message}`);
    }
  }
  const active = pools.filter((k) => k === "ours" || built[k]);

  // ---- interleaved runs
  const samples: Record<string, Samples> = {};
  const failures: string[] = [];
  const warnings: string[] = [];
  const loads: number[] = [round(loadavg()[0], 2)];
  const t0 = performance.now();
  for (let run = 0; run < runs; run++) {
    for (const g of groups) {
      const order = active.map((_, i) => active[(i + run) % active.length]);
      for (const kind of order) {
        loads.push(round(loadavg()[0], 2));
        say(`run ${run + 1}/${runs}: ${g.label} on ${kind} (load average ${loads[loads.length - 1]})`);
        const o = await measureOnce(g, kind, built[kind] ?? null, quick, timeoutSec, Boolean(f["events-reader"]));
        if (!o.result) {
          failures.push(`run ${run + 1} ${g.label} on ${kind}: ${o.error}`);
          continue;
        }
        const unsteady = g.check?.(o.result, quick, kind) ?? null;
        if (unsteady) warnings.push(`run ${run + 1} ${g.label} on ${kind}: ${unsteady}`);
        for (const out of g.outputs) {
          const v = out.pick(o.result);
          if (v === null) continue;
          ((samples[out.measure] ??= {})[kind] ??= []).push(v);
        }
      }
    }
  }
  loads.push(round(loadavg()[0], 2));

  const outputs = groups.flatMap((g) => g.outputs.map((o) => ({ measure: o.measure, unit: o.unit, connections: g.connections(quick) })));
  const rows = compareRows(outputs, samples);
  const minutes = round((performance.now() - t0) / 60_000, 1);
  const load = { start: loads[0], end: loads[loads.length - 1], min: Math.min(...loads), max: Math.max(...loads) };
  const text = [
    compareTable(rows),
    "",
    `${runs} interleaved run(s) per pool${quick ? " (--quick: small loads, not figures to publish)" : ""}; median (min); ratio = ours ÷ other, medians, lower is better; ${minutes} min`,
    `load average (1 min): ${load.start} at start, ${load.min}–${load.max} during, ${load.end} at end (${machine().cpus as number} CPUs)`,
    ...Object.entries(poolStatus).map(([k, v]) => `${k}: ${v}`),
    ...failures.map((x) => `failed: ${x}`),
    ...warnings.map((x) => `unsteady (the load did not get through; the figures include it): ${x}`),
  ].join("\n");
  console.log(`\n== compare: ours vs ckpool vs public-pool\n${text}`);
  const result = { at: new Date().toISOString(), quick, runs, minutes, machine: machine(), loadavg: load, pools: poolStatus, failures, warnings };
  console.log(compareJson(rows, result));
  return { bench: "compare", rows, ...result };
}

if (isMain(import.meta.url)) runMain(main);
