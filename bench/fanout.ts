/**
 * New-block fan-out: time from the node announcing a new tip to `mining.notify` (clean_jobs, new prevhash)
 * arriving on the last of N connections, for N = 1,000 and 10,000, over several blocks.
 *
 * The bench node runs in this process; `newBlock()` advances its tip and publishes ZMQ `hashblock`; t0 is
 * taken just before it. The pool is a child process (`tbg pool -c CONFIG`) given both the node's
 * `zmqnotify` endpoint and `blockpoll` 10 ms (the config minimum): whichever the engine uses first triggers
 * getblocktemplate; the "source" column says which one did (from the pool's own `network block` log line).
 * The swarm (bench/swarm.ts) is N idle miners, each with its own payout address by default (solo: each
 * user's coinbase differs, so the pool builds N coinbases and N notify lines per block).
 * Reported per N: latency to the first, median and last connection (p50/p99/max over the blocks after the
 * first), the pool's own broadcast time (its `fanoutMs` log field), and the pool CPU spent per block. The
 * first block after the ramp is reported on its own (it pays for lazily built state and a cold JIT; with
 * few blocks it would be the whole p99), so the default is 20 blocks: p99 over 19.
 * Relaxed for the run: vardiff's silent-miner retarget (idle miners would all be retargeted after 60 s).
 *
 *   node --import tsx bench/fanout.ts [--connections 1000,10000] [--blocks 20] [--txs 3000]
 *                                     [--users distinct|same] [--user ADDRESS]
 *                                     [--url stratum+tcp://HOST:PORT --node-rpc http://U:P@HOST:PORT [--pool-pid PID]]
 * Against another pool, its node must be a `tbg bench-node` (blocks are made with its bench_newblock RPC);
 * the "source" is then what the node saw the pool subscribe to (hashblock, rawblock, or nothing: polling).
 */
import { summarize, type LatencySummary } from "../src/tools/bench/stats.ts";
import { Swarm } from "./swarm.ts";
import { MAINNET_ADDRESS, TARGET_FLAGS, blockSourceFromNode, connectionsThatFit, flags, isMain, machine, mainnetAddresses, num, numList, openTarget, report, round, runMain, table } from "./support.ts";

/** Fan-out figures for one connection count. */
export interface FanoutRow {
  connections: number;
  /** Connections that completed the handshake and got work. */
  ready: number;
  blocks: number;
  users: "distinct" | "same";
  /** Transactions in the template (another pool: as its bench node reports; null = unknown). */
  txs: number | null;
  /** How the pool learned of each block (ours: from its log, zmq or poll; another pool: what the node saw). */
  sources: Record<string, number>;
  /** The first block after the ramp, on its own: ms to the first, median and last connection. */
  firstBlock: { firstMs: number; medianMs: number; lastMs: number } | null;
  /** hashblock → notify on the first connection, ms, over the blocks after the first. */
  firstMs: LatencySummary;
  /** … on the median connection. */
  medianMs: LatencySummary;
  /** … on the last connection (the figure the issue asks for). */
  lastMs: LatencySummary;
  /** The pool's own broadcast loop time (its log's fanoutMs), ms, over blocks. */
  poolBroadcastMs: LatencySummary;
  /** Pool CPU per block (from t0 until the last notify), ms (count 0: pid unknown). */
  poolCpuMsPerBlock: LatencySummary;
  /** Connections that missed a block's notify within the deadline (should be 0). */
  missed: number;
  poolRssMiB: number | null;
  rampMs: number;
}

async function quiet(swarm: Swarm, ms: number): Promise<void> {
  // Lets the previous block's writes and any refresh settle before the next t0.
  await new Promise((r) => setTimeout(r, ms));
  swarm.mark();
}

async function runOne(f: Parameters<typeof openTarget>[0], connections: number, blocks: number, txs: 0 | 3000, users: "distinct" | "same", userFlag: string | undefined): Promise<FanoutRow> {
  const target = await openTarget(f, {
    txs,
    blockpollMs: 10,
    config: { vardiff: { retarget_interval_sec: 3600, target_share_interval_sec: 600 } },
    nodeArgs: process.env.BENCH_POOL_NODE_ARGS ? process.env.BENCH_POOL_NODE_ARGS.split(" ") : undefined,
  });
  const addresses = users === "distinct" && !userFlag ? mainnetAddresses(connections) : [];
  const swarm = new Swarm({
    host: target.host,
    port: target.port,
    connections,
    user: (i) => `${userFlag ?? (users === "distinct" ? addresses[i] : MAINNET_ADDRESS)}.f${i}`,
  });
  try {
    const ramp = await swarm.start();
    if (ramp.ready === 0) throw new Error(`no connection got work: ${ramp.errors.join("; ")}`);
    const first: number[] = [];
    const median: number[] = [];
    const last: number[] = [];
    const cpu: number[] = [];
    let missed = 0;
    let firstBlock: FanoutRow["firstBlock"] = null;
    for (let b = 0; b < blocks; b++) {
      await quiet(swarm, b === 0 ? 1000 : 300);
      const old = swarm.currentPrevhash() ?? "";
      swarm.mark();
      const s0 = target.sample();
      const t0 = performance.now();
      await target.newBlock();
      const { times } = await swarm.waitForNewPrevhash(old, 30_000);
      const s1 = target.sample();
      const got = Array.from(times).filter((t) => !Number.isNaN(t)).map((t) => t - t0).sort((x, y) => x - y);
      missed += times.length - got.length;
      if (got.length === 0) continue;
      if (b === 0) {
        firstBlock = { firstMs: round(got[0], 2), medianMs: round(got[Math.floor(got.length / 2)], 2), lastMs: round(got[got.length - 1], 2) };
        continue;
      }
      first.push(got[0]);
      median.push(got[Math.floor(got.length / 2)]);
      last.push(got[got.length - 1]);
      if (s0 && s1) cpu.push(s1.cpuMs - s0.cpuMs);
    }
    await new Promise((r) => setTimeout(r, 300)); // the pool's log lines for the last block
    const lines = target.logLines();
    const sources: Record<string, number> = {};
    if (target.kind === "ours") {
      for (const l of lines.filter((x) => x.msg === "network block %d" || String(x.msg ?? "").startsWith("network block")).slice(1)) {
        const src = String(l.source ?? "?").replace(/^zmq:.*/, "zmq");
        sources[src] = (sources[src] ?? 0) + 1;
      }
    } else {
      const stats = await target.nodeStats();
      sources[stats ? blockSourceFromNode(stats) : "unknown (pass --node-rpc)"] = blocks;
    }
    // The startup template's line, then one per block: skip the startup one and the first block's.
    const broadcast = lines
      .filter((x) => String(x.msg ?? "").startsWith("new work: block") && typeof x.fanoutMs === "number")
      .slice(2)
      .map((x) => x.fanoutMs as number);
    return {
      connections,
      ready: ramp.ready,
      blocks,
      users,
      txs: target.templateTxs,
      sources,
      firstBlock,
      firstMs: summarize(first),
      medianMs: summarize(median),
      lastMs: summarize(last),
      poolBroadcastMs: summarize(broadcast),
      poolCpuMsPerBlock: summarize(cpu),
      missed,
      poolRssMiB: ((s) => (s ? round(s.rssKiB / 1024, 1) : null))(target.sample()),
      rampMs: ramp.rampMs,
    };
  } finally {
    await swarm.close();
    await target.close();
  }
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["connections", "blocks", "txs", "users", "user", ...TARGET_FLAGS]);
  const wanted = numList(f.connections, [1000, 10_000]).map((n) => Math.max(1, Math.floor(n)));
  const blocks = Math.floor(num(f.blocks, 20));
  if (blocks < 2) throw new Error("--blocks: at least 2 (the first block after the ramp is reported on its own)");
  const txs = num(f.txs, 3000) as 0 | 3000;
  if (txs !== 0 && txs !== 3000) throw new Error("--txs: 0 or 3000");
  const users = (f.users ?? "distinct") as "distinct" | "same";
  if (users !== "distinct" && users !== "same") throw new Error("--users: distinct or same");
  const notes: string[] = [];
  const rows: FanoutRow[] = [];
  for (const w of wanted) {
    const n = connectionsThatFit(w);
    if (n < w) notes.push(`${w} connections do not fit the open-file limit (ulimit -n ${n + 200}); measured ${n}`);
    rows.push(await runOne(f, n, blocks, txs, users, f.user));
  }
  const ms = (s: LatencySummary) => `${s.p50} / ${s.p99} / ${s.max}`;
  const text = [
    table(
      ["connections", "ready", "blocks", "source", "1st block last conn ms", "last conn p50/p99/max ms", "median conn p50/p99 ms", "first conn p50 ms", "pool broadcast p50/p99 ms", "pool CPU ms/block p50", "missed", "pool RSS MiB"],
      rows.map((r) => [
        r.connections,
        r.ready,
        r.blocks,
        Object.entries(r.sources).map(([k, v]) => `${k}×${v}`).join(" ") || "none logged",
        r.firstBlock ? r.firstBlock.lastMs : "n/a",
        ms(r.lastMs),
        `${r.medianMs.p50} / ${r.medianMs.p99}`,
        r.firstMs.p50,
        r.poolBroadcastMs.count ? `${r.poolBroadcastMs.p50} / ${r.poolBroadcastMs.p99}` : "n/a",
        r.poolCpuMsPerBlock.count ? r.poolCpuMsPerBlock.p50 : "n/a",
        r.missed,
        r.poolRssMiB ?? "n/a",
      ]),
    ),
    `template ${rows[0]?.txs === null || rows[0]?.txs === undefined ? "as served by the pool's node" : `${rows[0].txs} tx`}, users ${f.user ? f.user : users}; t0 = just before the bench node's new block (tip change + ZMQ hashblock, rawblock); p50/p99/max over blocks 2..${blocks}, block 1 on its own`,
    ...notes,
  ].join("\n");
  const poolProcess = f.url ? `external ${f.url}` : "child: node bin/tbg pool -c CONFIG (zmqnotify + blockpoll 10 ms)";
  const result = { machine: machine(), poolProcess, txs, users, rows, notes };
  report("fanout", "new block → mining.notify on the last of N connections", text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
