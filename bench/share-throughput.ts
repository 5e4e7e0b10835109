/**
 * Share processing throughput of one engine process over TCP, 0-tx vs 3,000-tx template.
 *
 * The pool runs as a child process: `node bin/tbg pool -c CONFIG` (what an operator runs: events on,
 * log level info), on a bench node started in this process (bench/fixtures templates, mainnet bits, so no
 * share is a block). This process drives it with `runBench` (the engine of `tbg bench`) in invalid mode:
 * every share is well formed and checked in full (job, extranonce2, ntime, version, duplicate, coinbase +
 * merkle + header hash) and rejected as low difficulty. The pool's CPU comes from /proc/PID/stat, so the
 * load generator's own CPU is not in it. On 2 cores the generator usually saturates its core before the
 * pool does; "pool CPU µs/share" then gives the pool's capacity: 1e6 / (µs/share) shares/s per core.
 * Relaxed for the run: the per-connection message rate limit (a few connections carry thousands of shares/s).
 *
 *   node --import tsx bench/share-throughput.ts [--txs 0,3000] [--connections 100] [--rates 10000,20000]
 *                                               [--duration 10] [--user ADDRESS]
 *                                               [--url stratum+tcp://HOST:PORT [--pool-pid PID] [--node-rpc URL]]   (another pool;
 *                                                the template's transaction count is asked of its bench node)
 */
import { runBench, type BenchProgress, type BenchReport } from "../src/tools/bench/bench.ts";
import { MAINNET_ADDRESS, TARGET_FLAGS, cpuPercent, flags, isMain, machine, num, numList, openTarget, report, round, runMain, table, type ProcSample } from "./support.ts";

/** One measured run. */
export interface ThroughputRow {
  /** Transactions in the template the pool served (another pool: as its bench node reports; null = unknown). */
  txs: number | null;
  targetRate: number;
  connections: number;
  /** Shares answered per second over the steady window (first second skipped). */
  sharesPerSec: number;
  /** Pool process CPU over the same window, % of one core (null: external pool without --pool-pid). */
  poolCpuPercent: number | null;
  /** Pool CPU per answered share, µs. */
  poolCpuUsPerShare: number | null;
  /** 1e6 / poolCpuUsPerShare: shares/s the pool would answer at 100 % of one core. */
  estimatedSaturationPerSec: number | null;
  sent: number;
  answered: number;
  rejectedLowDifficulty: number;
  submitRttMs: BenchReport["submitRttMs"];
  /** Pool resident set size at the end, MiB. */
  poolRssMiB: number | null;
}

interface Point {
  p: BenchProgress;
  at: number;
  s: ProcSample | null;
}

async function runOne(f: Parameters<typeof openTarget>[0], txs: 0 | 3000, rate: number, connections: number, durationSec: number, user: string): Promise<ThroughputRow> {
  const target = await openTarget(f, { txs, stratum: { message_rate_per_sec: 1_000_000, message_burst: 1_000_000 } });
  try {
    const points: Point[] = [];
    const r = await runBench({
      url: target.url,
      connections,
      durationSec,
      rate,
      mode: "invalid",
      profile: "bitaxe",
      user,
      rampConcurrency: 100,
      onProgress: (p) => points.push({ p, at: performance.now(), s: target.sample() }),
    });
    // Steady window: from the first progress point where shares flow (skipping one second of start-up) to the last.
    const flowing = points.filter((x) => x.p.answered > 0);
    const a = flowing.length >= 3 ? flowing[1] : flowing[0];
    const b = flowing[flowing.length - 1];
    if (!a || !b || b === a) throw new Error(`no steady window (use --duration 4 or more; or no shares were answered): ${JSON.stringify(r.shares)} ${r.errors.join("; ")}`);
    const seconds = (b.at - a.at) / 1000;
    const answered = b.p.answered - a.p.answered;
    const usPerShare = a.s && b.s && answered > 0 ? ((b.s.cpuMs - a.s.cpuMs) * 1000) / answered : null;
    const end = target.sample();
    return {
      txs: target.templateTxs,
      targetRate: rate,
      connections: r.connections.ready,
      sharesPerSec: Math.round(answered / seconds),
      poolCpuPercent: a.s && b.s ? round(cpuPercent(a.s, b.s), 1) : null,
      poolCpuUsPerShare: usPerShare === null ? null : round(usPerShare, 1),
      estimatedSaturationPerSec: usPerShare ? Math.round(1e6 / usPerShare) : null,
      sent: r.shares.sent,
      answered: r.shares.answered,
      rejectedLowDifficulty: r.shares.rejectReasons["low-difficulty"] ?? 0,
      submitRttMs: r.submitRttMs,
      poolRssMiB: end ? round(end.rssKiB / 1024, 1) : null,
    };
  } finally {
    await target.close();
  }
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["txs", "connections", "rates", "duration", "user", ...TARGET_FLAGS]);
  const txsList = numList(f.txs, [0, 3000]) as Array<0 | 3000>;
  const connections = Math.max(1, Math.floor(num(f.connections, 100)));
  const durationSec = num(f.duration, 10);
  // Fixed rates, not "as fast as possible": runBench sends what is due each 5 ms tick, and a huge rate
  // would turn one tick into a burst of hundreds of thousands of shares.
  const rates = numList(f.rates, [10_000, 20_000]);
  if (rates.some((r) => !(r > 0))) throw new Error("--rates: positive numbers");
  const rows: ThroughputRow[] = [];
  // Against another pool (--url) the template is whatever its node serves (the label comes from the node,
  // asked with --node-rpc): one pass per rate.
  for (const txs of f.url ? txsList.slice(0, 1) : txsList) for (const rate of rates) rows.push(await runOne(f, txs, rate, connections, durationSec, f.user ?? MAINNET_ADDRESS));
  const text = table(
    ["template", "target/s", "conns", "answered/s", "pool CPU %", "pool CPU µs/share", "est. max/s/core", "rtt p50 ms", "rtt p99 ms", "all rejected low-diff", "pool RSS MiB"],
    rows.map((r) => [
      r.txs === null ? "its node's (pass --node-rpc)" : `${r.txs} tx`,
      r.targetRate,
      r.connections,
      r.sharesPerSec,
      r.poolCpuPercent ?? "n/a",
      r.poolCpuUsPerShare ?? "n/a",
      r.estimatedSaturationPerSec ?? "n/a",
      r.submitRttMs.p50,
      r.submitRttMs.p99,
      r.rejectedLowDifficulty === r.sent && r.answered === r.sent ? "yes" : `no (${r.rejectedLowDifficulty}/${r.sent})`,
      r.poolRssMiB ?? "n/a",
    ]),
  );
  const poolProcess = f.url ? `external ${f.url}${f["pool-pid"] ? ` (pid ${f["pool-pid"]})` : ""}` : "child: node bin/tbg pool -c CONFIG (events on, log info)";
  const result = { machine: machine(), poolProcess, mode: "invalid", durationSec, rows };
  report("share-throughput", "one engine process over TCP (pool in a child process; CPU from /proc)", text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
