/**
 * `runBench`: a Stratum V1 load generator that works against any pool (ours, ckpool, public-pool, ...).
 * Opens N connections with a device handshake through a bounded ramp, submits shares at an aggregate rate
 * spread round-robin over the ready connections, and reports what the pool answered and how fast.
 * Everything is bounded by `durationSec` (the ramp included); answers are then drained for `drainMs`.
 */
import { performance } from "node:perf_hooks";
import { randomInt } from "node:crypto";
import { ClientRequestTimeoutError } from "../stratum-client/errors.ts";
import { getProfile, runHandshake, type ProfileName } from "../stratum-client/profiles.ts";
import { classifySubmitAnswer, type RejectReason } from "../stratum-client/reject.ts";
import { parseStratumUrl, StratumClient } from "../stratum-client/stratum-client.ts";
import { TbgError } from "../../util/errors.ts";
import { ShareMaker, type BenchMode } from "./share-maker.ts";
import { Grinder } from "./grinder.ts";
import { Samples, summarize, type LatencySummary } from "./stats.ts";

/** Defaults for {@link BenchOptions}, each documented once here. */
export const BENCH_DEFAULTS = {
  /** A regtest P2WPKH address (BIP173 test vector key); pools on other networks need --user. */
  user: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
  pass: "x",
  mode: "invalid" as BenchMode,
  profile: "bitaxe" as ProfileName,
  /** Aggregate rate when none is given: one share per 5 s per connection (an ASIC at target vardiff). */
  sharesPerConnectionPerSec: 0.2,
  /** Connections opening at once during the ramp. */
  rampConcurrency: 100,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  /** After the run, wait at most this long for outstanding answers. */
  drainMs: 5_000,
  /** valid mode: hashes spent on one share before giving up (~30 s on one core; difficulty 0.004). */
  maxGrindHashes: 1 << 24,
  /** valid mode: grinding threads (0: on the event loop, which distorts the round trips measured). */
  grindThreads: 1,
  sharesPerExtranonce2: 8,
  /** Scheduler tick. */
  tickMs: 5,
} as const;

/** Options for {@link runBench}. */
export interface BenchOptions {
  /** `stratum+tcp://HOST:PORT`. */
  url: string;
  connections: number;
  durationSec: number;
  /** Aggregate shares per second; default connections × 0.2. 0 = connect and handshake only. */
  rate?: number;
  /** Base username; connection i uses `${user}.b${i}` unless it already names a worker. */
  user?: string;
  pass?: string;
  mode?: BenchMode;
  profile?: ProfileName;
  /** Overrides the profile's suggest_difficulty (valid mode wants the pool's lowest). */
  suggestDifficulty?: number;
  rampConcurrency?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  drainMs?: number;
  maxGrindHashes?: number;
  grindThreads?: number;
  /** Stops the run early (SIGINT); the report covers what happened so far. */
  signal?: AbortSignal;
  /** Called about once a second with running totals. */
  onProgress?: (p: BenchProgress) => void;
}

/** Running totals for progress lines. */
export interface BenchProgress {
  elapsedSec: number;
  ready: number;
  sent: number;
  answered: number;
  accepted: number;
}

/** What `tbg bench --json` prints (one line). */
export interface BenchReport {
  url: string;
  mode: BenchMode;
  profile: ProfileName;
  durationSec: number;
  targetRate: number;
  /** Shares sent per second over the submit phase. */
  achievedRate: number;
  connections: {
    requested: number;
    /** Completed connect + handshake. */
    ready: number;
    connectFailed: number;
    handshakeFailed: number;
    /** Closed by the pool during the run. */
    dropped: number;
    /** Start → last connection ready, ms. */
    rampMs: number;
  };
  shares: {
    sent: number;
    answered: number;
    accepted: number;
    rejected: number;
    rejectReasons: Partial<Record<RejectReason, number>>;
    /** No answer within requestTimeoutMs (ckpool ignores submits before authorize). */
    timeouts: number;
    /** Connection closed before the answer. */
    unanswered: number;
    /** Hashes not sent because they met the network target (a benchmark never submits blocks). */
    skippedBlocks: number;
    /** valid mode: share attempts abandoned because every valid share would be a block (regtest). */
    validImpossible: number;
    /** valid mode: grinding units that ended without a share (maxGrindHashes). */
    grindLimited: number;
    /** valid mode: shares due that could not be sent because none was ground yet (grinding too slow for the rate). */
    starved: number;
    /** Pool verdict differs from our own target check (accepted below target, or low-difficulty above it). */
    verdictMismatches: number;
    hashes: number;
  };
  /** mining.submit round trip, ms. */
  submitRttMs: LatencySummary;
  /** TCP connect, ms. */
  connectMs: LatencySummary;
  /** connect + handshake, ms. */
  handshakeMs: LatencySummary;
  notifies: number;
  setDifficulty: number;
  /** New prevhashes seen and how far apart (ms) the first and last connection got each one. */
  newBlockFanoutMs: LatencySummary;
  difficulty: { min: number; max: number };
  /** First few distinct error texts (connect/handshake). */
  errors: string[];
}

interface Conn {
  client: StratumClient;
  maker: ShareMaker;
}

/** Runs a benchmark and resolves with its report. Never throws for pool behaviour; only for bad options. */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const target = parseStratumUrl(opts.url);
  const profile = getProfile(opts.profile ?? BENCH_DEFAULTS.profile);
  if (!profile) throw new TbgError("BENCH_BAD_OPTION", `unknown profile '${opts.profile}'`);
  if (!Number.isInteger(opts.connections) || opts.connections < 1) throw new TbgError("BENCH_BAD_OPTION", "connections must be a positive integer");
  if (!(opts.durationSec > 0)) throw new TbgError("BENCH_BAD_OPTION", "durationSec must be > 0");
  const mode = opts.mode ?? BENCH_DEFAULTS.mode;
  const rate = opts.rate ?? opts.connections * BENCH_DEFAULTS.sharesPerConnectionPerSec;
  const user = opts.user ?? BENCH_DEFAULTS.user;
  const requestTimeoutMs = opts.requestTimeoutMs ?? BENCH_DEFAULTS.requestTimeoutMs;
  const drainMs = opts.drainMs ?? Math.min(BENCH_DEFAULTS.drainMs, requestTimeoutMs);
  const now = () => performance.now();
  const started = now();
  const deadline = started + opts.durationSec * 1000;
  const stopped = () => now() >= deadline || opts.signal?.aborted === true;

  const conns: Conn[] = [];
  const ready: Conn[] = [];
  const connectSamples = new Samples();
  const handshakeSamples = new Samples();
  const rtt = new Samples();
  const errors = new Set<string>();
  const fanout = new Map<string, { first: number; last: number }>();
  const r = {
    connectFailed: 0, handshakeFailed: 0, dropped: 0, rampEnd: started,
    sent: 0, answered: 0, accepted: 0, rejected: 0, timeouts: 0, unanswered: 0,
    skippedBlocks: 0, grindLimited: 0, validImpossible: 0, starved: 0, verdictMismatches: 0, hashes: 0, notifies: 0, setDifficulty: 0,
    diffMin: Infinity, diffMax: 0,
  };
  const rejectReasons: Partial<Record<RejectReason, number>> = {};
  const noteError = (e: unknown) => errors.size < 10 && errors.add(e instanceof Error ? `${(e as TbgError).code ?? e.name}: ${e.message}` : String(e));

  // ---- valid mode: grinding off the event loop
  const readyMakers: ShareMaker[] = [];
  const grinder =
    mode === "valid"
      ? new Grinder({
          threads: opts.grindThreads ?? BENCH_DEFAULTS.grindThreads,
          maxHashes: opts.maxGrindHashes ?? BENCH_DEFAULTS.maxGrindHashes,
          makers: () => readyMakers,
          stopped,
          onHashes: (n) => void (r.hashes += n),
          onGiveUp: () => void r.grindLimited++,
          onBlocksSkipped: (n) => void (r.skippedBlocks += n),
          onImpossible: () => {
            r.validImpossible++;
            noteError("valid mode: every share meeting the pool's difficulty would be a block (regtest-like nbits); use --mode invalid or a bench-node");
          },
        })
      : undefined;
  await grinder?.start();

  // ---- ramp: bounded concurrency, bounded by the deadline
  let nextIndex = 0;
  const openOne = async (i: number): Promise<void> => {
    const client = new StratumClient({ ...target, requestTimeoutMs, connectTimeoutMs: opts.connectTimeoutMs ?? BENCH_DEFAULTS.connectTimeoutMs, userAgent: profile.userAgent });
    const worker = user.includes(".") ? user : `${user}.b${i}`;
    const maker = new ShareMaker({ mode, worker, sharesPerExtranonce2: BENCH_DEFAULTS.sharesPerExtranonce2, random32: () => randomInt(0, 2 ** 32 - 1) });
    const conn: Conn = { client, maker };
    conns.push(conn);
    client.on("notify", (ctx) => {
      r.notifies++;
      maker.setJob(ctx);
      const t = now();
      const f = fanout.get(ctx.job.prevhashStratum);
      if (f) f.last = t;
      else if (fanout.size < 10_000) fanout.set(ctx.job.prevhashStratum, { first: t, last: t });
    });
    client.on("difficulty", (d) => {
      r.setDifficulty++;
      r.diffMin = Math.min(r.diffMin, d);
      r.diffMax = Math.max(r.diffMax, d);
    });
    let isReady = false;
    client.once("close", () => {
      if (isReady && !stopped()) r.dropped++;
    });
    const t0 = now();
    try {
      await client.connect();
    } catch (e) {
      if (!stopped()) {
        r.connectFailed++;
        noteError(e);
      }
      return;
    }
    connectSamples.add(now() - t0);
    try {
      await runHandshake(client, profile, { user: worker, pass: opts.pass ?? BENCH_DEFAULTS.pass, suggestDifficulty: opts.suggestDifficulty });
    } catch (e) {
      if (!stopped()) {
        r.handshakeFailed++;
        noteError(e);
      }
      await client.close();
      return;
    }
    handshakeSamples.add(now() - t0);
    isReady = true;
    ready.push(conn);
    readyMakers.push(maker);
    r.rampEnd = now();
  };
  const rampWorkers = Array.from({ length: Math.min(opts.rampConcurrency ?? BENCH_DEFAULTS.rampConcurrency, opts.connections) }, async () => {
    while (nextIndex < opts.connections && !stopped()) await openOne(nextIndex++);
  });
  const ramp = Promise.all(rampWorkers);

  // ---- submit scheduler: every tick, send what the rate says is due, round-robin over ready connections
  const inflight = new Set<Promise<void>>();
  let firstSubmitAt = 0;
  let lastSubmitAt = 0;
  let rr = 0;
  let due = 0;
  let lastTick = now();
  const submitOne = (): boolean => {
    let starved = false;
    for (let tries = 0; tries < ready.length; tries++) {
      const conn = ready[rr++ % ready.length];
      if (!conn.client.isOpen || !conn.maker.ready) continue;
      const made = conn.maker.make();
      r.hashes += made.hashes;
      r.skippedBlocks += made.blocksSkipped;
      if (made.kind === "starved") {
        starved = true;
        continue;
      }
      if (made.kind === "only-blocks") continue;
      const { share } = made;
      r.sent++;
      lastSubmitAt = now();
      if (!firstSubmitAt) firstSubmitAt = lastSubmitAt;
      const p = conn.client.request("mining.submit", share.params).then(
        (a) => {
          r.answered++;
          rtt.add(a.rttMs);
          const v = classifySubmitAnswer(a.result, a.error, a.rejectReason);
          if (v.accepted) r.accepted++;
          else {
            r.rejected++;
            const reason = v.reason ?? "other";
            rejectReasons[reason] = (rejectReasons[reason] ?? 0) + 1;
          }
          if ((v.accepted && !share.meetsShareTarget) || (v.reason === "low-difficulty" && share.meetsShareTarget)) r.verdictMismatches++;
        },
        (e) => {
          if (e instanceof ClientRequestTimeoutError) r.timeouts++;
          else r.unanswered++;
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      return true;
    }
    if (starved) r.starved++;
    return false;
  };

  let lastProgress = started;
  while (!stopped()) {
    await new Promise((res) => setTimeout(res, BENCH_DEFAULTS.tickMs));
    const t = now();
    if (rate > 0 && ready.length > 0) {
      // Cap the backlog at one second of shares, so a stall does not turn into a burst.
      due = Math.min(due + ((t - lastTick) / 1000) * rate, Math.max(1, rate));
      while (due >= 1 && !stopped()) {
        if (!submitOne()) break;
        due -= 1;
      }
    }
    lastTick = t;
    if (opts.onProgress && t - lastProgress >= 1000) {
      lastProgress = t;
      opts.onProgress({ elapsedSec: (t - started) / 1000, ready: ready.length, sent: r.sent, answered: r.answered, accepted: r.accepted });
    }
  }

  // ---- drain, then close (closing also ends handshakes still under way, so the ramp finishes at once)
  await grinder?.close();
  const drainUntil = now() + drainMs;
  while (inflight.size > 0 && now() < drainUntil) await Promise.race([Promise.allSettled([...inflight]), new Promise((res) => setTimeout(res, 50))]);
  const durationSec = (now() - started) / 1000;
  await Promise.all(conns.map((c) => c.client.close()));
  await ramp;
  await Promise.allSettled([...inflight]);

  const submitSpanSec = firstSubmitAt ? Math.max((lastSubmitAt - firstSubmitAt) / 1000, 1e-3) : 0;
  return {
    url: opts.url,
    mode,
    profile: profile.name,
    durationSec: Math.round(durationSec * 1000) / 1000,
    targetRate: rate,
    achievedRate: submitSpanSec ? Math.round((r.sent / submitSpanSec) * 10) / 10 : 0,
    connections: {
      requested: opts.connections,
      ready: ready.length,
      connectFailed: r.connectFailed,
      handshakeFailed: r.handshakeFailed,
      dropped: r.dropped,
      rampMs: Math.round((r.rampEnd - started) * 10) / 10,
    },
    shares: {
      sent: r.sent,
      answered: r.answered,
      accepted: r.accepted,
      rejected: r.rejected,
      rejectReasons,
      timeouts: r.timeouts,
      unanswered: r.unanswered,
      skippedBlocks: r.skippedBlocks,
      validImpossible: r.validImpossible,
      grindLimited: r.grindLimited,
      starved: r.starved,
      verdictMismatches: r.verdictMismatches,
      hashes: r.hashes,
    },
    submitRttMs: rtt.summary(),
    connectMs: connectSamples.summary(),
    handshakeMs: handshakeSamples.summary(),
    notifies: r.notifies,
    setDifficulty: r.setDifficulty,
    // Prevhashes first seen during the ramp would measure the ramp, not the pool's fan-out.
    newBlockFanoutMs: summarize([...fanout.values()].filter((f) => f.first > r.rampEnd).map((f) => f.last - f.first)),
    difficulty: { min: r.diffMin === Infinity ? 0 : r.diffMin, max: r.diffMax },
    errors: [...errors],
  };
}
