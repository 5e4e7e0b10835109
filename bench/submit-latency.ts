/**
 * Submit round trip at a steady 1,000 shares/s spread over 10,000 connections: what a miner sees of the
 * pool's answer time when the pool carries a large fleet (10k BitAxe-class devices at ~0.1 share/s each).
 *
 * Built from the same pieces as `tbg bench` (StratumClient, the BitAxe handshake, ShareMaker in invalid
 * mode: every share checked in full and rejected as low difficulty), but in two phases so the figures are
 * steady state: first every connection is opened and handshaken (no shares), then shares go out at the
 * rate, round-robin, for the duration. This process's own event-loop delay is reported too: it bounds how
 * much of a round trip is the load generator's. The pool is a child process (`tbg pool -c CONFIG`).
 *
 *   node --import tsx bench/submit-latency.ts [--connections 10000] [--rate 1000] [--duration 20]
 *                                             [--txs 3000] [--user ADDRESS]
 *                                             [--url stratum+tcp://HOST:PORT [--pool-pid PID]]   (another pool)
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { randomInt } from "node:crypto";
import { StratumClient } from "../src/tools/stratum-client/stratum-client.ts";
import { getProfile, runHandshake } from "../src/tools/stratum-client/profiles.ts";
import { ShareMaker } from "../src/tools/bench/share-maker.ts";
import { classifySubmitAnswer } from "../src/tools/stratum-client/reject.ts";
import { Samples } from "../src/tools/bench/stats.ts";
import { MAINNET_ADDRESS, TARGET_FLAGS, connectionsThatFit, cpuPercent, flags, isMain, machine, num, openTarget, report, round, runMain, table } from "./support.ts";

interface Conn {
  client: StratumClient;
  maker: ShareMaker;
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["connections", "rate", "duration", "txs", "user", ...TARGET_FLAGS]);
  const user = f.user ?? MAINNET_ADDRESS;
  const wanted = Math.max(1, Math.floor(num(f.connections, 10_000)));
  const n = connectionsThatFit(wanted);
  const rate = num(f.rate, 1000);
  const durationSec = num(f.duration, 20);
  const txs = num(f.txs, 3000) as 0 | 3000;
  if (txs !== 0 && txs !== 3000) throw new Error("--txs: 0 or 3000");
  const notes = n < wanted ? [`${wanted} connections do not fit the open-file limit (ulimit -n ${n + 200}); measured ${n}`] : [];
  const profile = getProfile("bitaxe")!;
  const pool = await openTarget(f, { txs, config: { vardiff: { retarget_interval_sec: 3600, target_share_interval_sec: 600 } } });
  const conns: Conn[] = [];
  const ready: Conn[] = [];
  let handshakeFailed = 0;
  try {
    // ---- phase 1: open and handshake every connection, bounded
    const rampStart = performance.now();
    const rampDeadline = rampStart + 120_000;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(200, n) }, async () => {
        while (next < n && performance.now() < rampDeadline) {
          const i = next++;
          const client = new StratumClient({ host: pool.host, port: pool.port, requestTimeoutMs: 15_000, userAgent: profile.userAgent });
          const maker = new ShareMaker({ mode: "invalid", worker: `${user}.s${i}`, sharesPerExtranonce2: 8, random32: () => randomInt(0, 2 ** 32 - 1) });
          client.on("notify", (ctx) => maker.setJob(ctx));
          const conn = { client, maker };
          conns.push(conn);
          try {
            await client.connect();
            await runHandshake(client, profile, { user: `${user}.s${i}`, pass: "x" });
            ready.push(conn);
          } catch {
            handshakeFailed++;
            await client.close();
          }
        }
      }),
    );
    const rampMs = Math.round(performance.now() - rampStart);
    // First work on every connection (the notify follows the authorize answer).
    const workDeadline = performance.now() + 10_000;
    while (ready.some((c) => !c.maker.ready) && performance.now() < workDeadline) await new Promise((r) => setTimeout(r, 20));
    const working = ready.filter((c) => c.maker.ready);
    if (working.length === 0) throw new Error(`no connection got work (handshake failures ${handshakeFailed})`);

    // ---- phase 2: steady rate, round-robin
    const rtt = new Samples();
    const counts = { sent: 0, answered: 0, lowDifficulty: 0, otherReject: 0, accepted: 0, failed: 0 };
    const inflight = new Set<Promise<void>>();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const s0 = pool.sample();
    const t0 = performance.now();
    const end = t0 + durationSec * 1000;
    let rr = 0;
    let due = 0;
    let last = t0;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 2));
      const t = performance.now();
      due = Math.min(due + ((t - last) / 1000) * rate, Math.max(1, rate / 10));
      last = t;
      for (; due >= 1; due--) {
        const c = working[rr++ % working.length];
        if (!c.client.isOpen) continue;
        const made = c.maker.make();
        if (made.kind !== "share") continue;
        counts.sent++;
        const p = c.client.request("mining.submit", made.share.params).then(
          (a) => {
            counts.answered++;
            rtt.add(a.rttMs);
            const v = classifySubmitAnswer(a.result, a.error, a.rejectReason);
            if (v.accepted) counts.accepted++;
            else if (v.reason === "low-difficulty") counts.lowDifficulty++;
            else counts.otherReject++;
          },
          () => void counts.failed++,
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }
    const s1 = pool.sample();
    const submitSec = (performance.now() - t0) / 1000;
    const drainUntil = performance.now() + 5000;
    while (inflight.size > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
    loop.disable();
    const rttMs = rtt.summary();
    const row = {
      connections: working.length,
      txs: pool.templateTxs,
      targetRate: rate,
      achievedRate: round(counts.sent / submitSec, 1),
      ...counts,
      submitRttMs: rttMs,
      clientLoopDelayMs: { p50: round(loop.percentile(50) / 1e6, 2), p99: round(loop.percentile(99) / 1e6, 2), max: round(loop.max / 1e6, 2) },
      poolCpuPercent: s0 && s1 ? round(cpuPercent(s0, s1), 1) : null,
      poolRssMiB: s1 ? round(s1.rssKiB / 1024, 1) : null,
      rampMs,
      handshakeFailed,
    };
    const text = [
      table(
        ["connections", "rate/s", "sent", "answered", "rtt p50 ms", "rtt p90 ms", "rtt p99 ms", "rtt max ms", "client loop p99 ms", "pool CPU %", "pool RSS MiB"],
        [[row.connections, row.achievedRate, row.sent, row.answered, rttMs.p50, rttMs.p90, rttMs.p99, rttMs.max, row.clientLoopDelayMs.p99, row.poolCpuPercent ?? "n/a", row.poolRssMiB ?? "n/a"]],
      ),
      `all answered rejected as low difficulty: ${counts.lowDifficulty === counts.sent ? "yes" : `no (${counts.lowDifficulty}/${counts.sent}, other ${counts.otherReject}, failed ${counts.failed})`}; ramp ${rampMs} ms`,
      ...notes,
    ].join("\n");
    const poolProcess = f.url ? `external ${f.url}` : "child: node bin/tbg pool -c CONFIG";
    const result = { machine: machine(), poolProcess, mode: "invalid", durationSec, ...row, notes };
    report("submit-latency", `submit round trip at ${rate} shares/s over ${working.length} connections`, text, result);
    return result;
  } finally {
    await Promise.all(conns.map((c) => c.client.close()));
    await pool.close();
  }
}

if (isMain(import.meta.url)) runMain(main);
