/**
 * Scaling with Stratum worker processes (`workers`): share throughput and new-block fan-out of `tbg pool`
 * at each worker count, runs interleaved (w1, w2, w1, w2, …) so a loaded machine affects both alike.
 *
 * - shares: `runBench` (the engine of `tbg bench`) in invalid mode at a fixed rate over C connections (every
 *   share checked in full and rejected as low difficulty, mainnet bits); answered/s over the steady window
 *   and the pool's CPU per share, the pool being the primary and every worker process (/proc, the process
 *   tree). On a machine where the load generator shares the cores, answered/s is capped by the generator:
 *   the CPU per share and "est. max/s" (cores × 1e6 / µs per share) say what the pool could do.
 * - fan-out: N idle miners (distinct payout addresses), the bench node makes a block (ZMQ hashblock; t0
 *   just before), time until the last connection has the new prevhash; the first block after the ramp is
 *   left out.
 *
 *   node --import tsx bench/workers.ts [--workers 1,2] [--runs 2] [--txs 0] [--rate 10000] [--connections 100]
 *                                      [--duration 8] [--fanout-connections 1000] [--blocks 8]
 */
import { availableParallelism } from "node:os";
import { runBench, type BenchProgress } from "../src/tools/bench/bench.ts";
import { summarize } from "../src/tools/bench/stats.ts";
import { Swarm } from "./swarm.ts";
import { MAINNET_ADDRESS, connectionsThatFit, flags, isMain, machine, mainnetAddresses, num, numList, openTarget, report, round, runMain, table, type ProcSample } from "./support.ts";

interface ShareRun {
  workers: number;
  sharesPerSec: number;
  poolCpuPercent: number;
  poolCpuUsPerShare: number | null;
  rttP99Ms: number;
}

interface FanoutRun {
  workers: number;
  ready: number;
  lastMs: number[];
  cpuMsPerBlock: number[];
}

async function shareRun(workers: number, txs: 0 | 3000, rate: number, connections: number, durationSec: number): Promise<ShareRun> {
  const target = await openTarget({}, { txs, config: { workers }, stratum: { message_rate_per_sec: 1_000_000, message_burst: 1_000_000 } });
  try {
    const points: Array<{ p: BenchProgress; at: number; s: ProcSample | null }> = [];
    const r = await runBench({
      url: target.url,
      connections,
      durationSec,
      rate,
      mode: "invalid",
      profile: "bitaxe",
      user: MAINNET_ADDRESS,
      rampConcurrency: 100,
      onProgress: (p) => points.push({ p, at: performance.now(), s: target.sample() }),
    });
    const flowing = points.filter((x) => x.p.answered > 0);
    const a = flowing.length >= 3 ? flowing[1]! : flowing[0];
    const b = flowing.at(-1);
    if (!a || !b || a === b || !a.s || !b.s) throw new Error(`no steady window: ${JSON.stringify(r.shares)} ${r.errors.join("; ")}`);
    const answered = b.p.answered - a.p.answered;
    const seconds = (b.at - a.at) / 1000;
    const cpuMs = b.s.cpuMs - a.s.cpuMs;
    return {
      workers,
      sharesPerSec: Math.round(answered / seconds),
      poolCpuPercent: round((100 * cpuMs) / (b.at - a.at), 1),
      poolCpuUsPerShare: answered > 0 ? round((cpuMs * 1000) / answered, 1) : null,
      rttP99Ms: r.submitRttMs.p99,
    };
  } finally {
    await target.close();
  }
}

async function fanoutRun(workers: number, txs: 0 | 3000, connections: number, blocks: number): Promise<FanoutRun> {
  const target = await openTarget({}, { txs, blockpollMs: 10, config: { workers, vardiff: { retarget_interval_sec: 3600, target_share_interval_sec: 600 } } });
  const addresses = mainnetAddresses(connections);
  const swarm = new Swarm({ host: target.host, port: target.port, connections, user: (i) => `${addresses[i]}.f${i}` });
  try {
    const ramp = await swarm.start();
    if (ramp.ready === 0) throw new Error(`no connection got work: ${ramp.errors.join("; ")}`);
    const lastMs: number[] = [];
    const cpuMsPerBlock: number[] = [];
    for (let b = 0; b < blocks; b++) {
      await new Promise((r) => setTimeout(r, b === 0 ? 1000 : 300));
      const old = swarm.currentPrevhash() ?? "";
      swarm.mark();
      const s0 = target.sample();
      const t0 = performance.now();
      await target.newBlock();
      const { times } = await swarm.waitForNewPrevhash(old, 30_000);
      const s1 = target.sample();
      const got = Array.from(times).filter((t) => !Number.isNaN(t));
      if (b === 0 || got.length === 0) continue;
      lastMs.push(Math.max(...got) - t0);
      if (s0 && s1) cpuMsPerBlock.push(s1.cpuMs - s0.cpuMs);
    }
    return { workers, ready: ramp.ready, lastMs, cpuMsPerBlock };
  } finally {
    await swarm.close();
    await target.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["workers", "runs", "txs", "rate", "connections", "duration", "fanout-connections", "blocks"]);
  const counts = numList(f.workers, [1, Math.max(2, availableParallelism())]).map((n) => Math.max(1, Math.floor(n)));
  const runs = Math.max(1, Math.floor(num(f.runs, 2)));
  const txs = (num(f.txs, 0) === 3000 ? 3000 : 0) as 0 | 3000;
  const rate = num(f.rate, 10_000);
  const connections = Math.max(1, Math.floor(num(f.connections, 100)));
  const durationSec = num(f.duration, 8);
  const fanConns = connectionsThatFit(Math.floor(num(f["fanout-connections"], 1000)));
  const blocks = Math.max(2, Math.floor(num(f.blocks, 8)));

  const shares: ShareRun[] = [];
  const fanouts: FanoutRun[] = [];
  for (let i = 0; i < runs; i++) for (const w of counts) shares.push(await shareRun(w, txs, rate, connections, durationSec));
  for (let i = 0; i < runs; i++) for (const w of counts) fanouts.push(await fanoutRun(w, txs, fanConns, blocks));

  const rows = counts.map((w) => {
    const s = shares.filter((x) => x.workers === w);
    const fo = fanouts.filter((x) => x.workers === w);
    const us = median(s.map((x) => x.poolCpuUsPerShare ?? NaN));
    const last = summarize(fo.flatMap((x) => x.lastMs));
    return {
      workers: w,
      sharesPerSec: median(s.map((x) => x.sharesPerSec)),
      poolCpuPercent: median(s.map((x) => x.poolCpuPercent)),
      poolCpuUsPerShare: round(us, 1),
      /** Shares/s the pool could answer with `workers` processes each on a core of its own. */
      estimatedMaxPerSec: Number.isFinite(us) ? Math.round((w * 1e6) / us) : null,
      rttP99Ms: median(s.map((x) => x.rttP99Ms)),
      fanoutConnections: fanConns,
      fanoutLastMs: { p50: last.p50, p99: last.p99, max: last.max, n: last.count },
      fanoutCpuMsPerBlock: round(median(fo.flatMap((x) => x.cpuMsPerBlock)), 1),
    };
  });
  const text = table(
    ["workers", "answered/s", "pool CPU %", "pool CPU µs/share", "est. max/s (w cores)", "rtt p99 ms", `fan-out last of ${fanConns} p50 ms`, "p99 ms", "pool CPU ms/block"],
    rows.map((r) => [r.workers, r.sharesPerSec, r.poolCpuPercent, r.poolCpuUsPerShare, r.estimatedMaxPerSec ?? "n/a", r.rttP99Ms, round(r.fanoutLastMs.p50, 2), round(r.fanoutLastMs.p99, 2), r.fanoutCpuMsPerBlock]),
  );
  const result = { machine: machine(), txs, rate, connections, durationSec, runs, blocks, rows, shareRuns: shares, fanoutRuns: fanouts.map((x) => ({ ...x, lastMs: x.lastMs.map((v) => round(v, 2)) })) };
  report("workers", `tbg pool by worker count (${txs} tx template, runs interleaved; pool CPU = primary + workers)`, text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
