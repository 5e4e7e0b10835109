/**
 * CPU miner: keeps one Stratum session up (reconnecting on loss or `client.reconnect`), turns each job into
 * scan units for its hashing slots, submits what they find, and counts blocks. Switches to a new job at
 * once (running units are aborted within one chunk). Use {@link startMiner}; printing is the caller's job
 * (subscribe to the events).
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { ClientRequestTimeoutError } from "../stratum-client/errors.ts";
import { getProfile, runHandshake, type HandshakeProfile, type ProfileName } from "../stratum-client/profiles.ts";
import { classifySubmitAnswer, type RejectReason } from "../stratum-client/reject.ts";
import { parseStratumUrl, StratumClient, type JobContext } from "../stratum-client/stratum-client.ts";
import { checkNonce, submitParams, type Work } from "../stratum-client/work.ts";
import { InlineHasher, WorkerHasher, type Hasher } from "./hashers.ts";
import { WorkDispenser } from "./work-dispenser.ts";
import { TbgError } from "../../util/errors.ts";

/** Defaults for {@link MinerOptions}. */
export const MINER_DEFAULTS = {
  /** Hashing threads; 0 hashes on the event loop (one slot). */
  threads: 1,
  profile: "cpuminer" as ProfileName,
  pass: "x",
  /** Nonces per unit: the whole 32-bit range per (extranonce2, version) pair. */
  unitNonces: 2 ** 32,
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxDelayMs. */
  reconnectDelayMs: 1000,
  reconnectMaxDelayMs: 30_000,
  requestTimeoutMs: 15_000,
  /**
   * After finding a block, stop hashing its prevhash until a job with a new prevhash arrives, or this long
   * (the pool may have lost it). On regtest every other hash is a block; without this pause the miner
   * would flood the pool with blocks for one height.
   */
  blockPauseMs: 10_000,
} as const;

/** Options for {@link startMiner}. */
export interface MinerOptions {
  /** `stratum+tcp://HOST:PORT`. */
  url: string;
  /** `ADDRESS[.worker]`. */
  user: string;
  pass?: string;
  threads?: number;
  profile?: ProfileName;
  suggestDifficulty?: number;
  /** Stop after this many blocks found (and their submits answered). */
  maxBlocks?: number;
  /** Stop after this many seconds. */
  durationSec?: number;
  unitNonces?: number;
  reconnectDelayMs?: number;
  reconnectMaxDelayMs?: number;
  requestTimeoutMs?: number;
  blockPauseMs?: number;
}

/** Counters, readable at any time via `miner.stats`. */
export interface MinerStats {
  elapsedSec: number;
  hashes: number;
  /** Average hashes per second since start. */
  hashrate: number;
  connects: number;
  disconnects: number;
  jobs: number;
  /** Shares submitted. */
  submitted: number;
  accepted: number;
  rejected: number;
  rejectReasons: Partial<Record<RejectReason | "timeout" | "closed", number>>;
  blocksFound: number;
  /** Blocks whose submit the pool accepted. */
  blocksAccepted: number;
  /** Shares found for a job that a clean_jobs notify had already replaced (not submitted). */
  staleDropped: number;
  /** Difficulty of the current job. */
  difficulty: number;
  /** Why the miner stopped, once it has. */
  stopReason?: "max-blocks" | "duration" | "closed";
}

/** One submitted share and the pool's verdict. */
export interface ShareEvent {
  jobId: string;
  nonceHex: string;
  /** Header hash, display (big-endian) hex. */
  hashHex: string;
  hashDifficulty: number;
  /** Share difficulty it was judged at (client side). */
  difficulty: number;
  isBlock: boolean;
  accepted: boolean;
  reason?: RejectReason | "timeout" | "closed";
  message?: string;
  rttMs?: number;
}

/** Typed events of {@link Miner}. */
export interface MinerEvents {
  connected: [info: { host: string; port: number; extranonce1Hex: string; extranonce2Size: number; versionMask: number; handshakeMs: number }];
  disconnected: [info: { error?: Error }];
  /** Connect or handshake failed; a retry follows. */
  connectFailed: [err: Error];
  job: [ctx: JobContext];
  share: [share: ShareEvent];
  /** A block was found (emitted after the pool answered its submit). */
  block: [share: ShareEvent];
  stopped: [stats: MinerStats];
}

interface ActiveJob {
  ctx: JobContext;
  client: StratumClient;
  dispenser: WorkDispenser;
  /** Version mask the dispenser rolls in. */
  mask: number;
  /** Replaced by a clean_jobs notify or a disconnect: finds are dropped. */
  dead: boolean;
}

/** A running miner. Create with {@link startMiner}. */
export class Miner extends EventEmitter<MinerEvents> {
  private readonly opts: Required<Omit<MinerOptions, "suggestDifficulty" | "maxBlocks" | "durationSec">> & Pick<MinerOptions, "suggestDifficulty" | "maxBlocks" | "durationSec">;
  private readonly profile: HandshakeProfile;
  private hasher: Hasher;
  private client: StratumClient | undefined;
  private job: ActiveJob | undefined;
  private nextUnitId = 1;
  private stopped = false;
  private readonly startedAtMs = performance.now();
  private readonly wakers: Array<() => void> = [];
  private paused: { prevhash: string; untilMs: number } | undefined;
  private redirect: { host: string; port: number; waitMs: number } | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private loops: Promise<void>[] = [];
  private durationTimer: NodeJS.Timeout | undefined;
  private sleepCancel: (() => void) | undefined;
  private resolveDone!: (s: MinerStats) => void;
  /** Resolves with the final stats when the miner stops for any reason. */
  readonly done: Promise<MinerStats>;
  private readonly counters: Omit<MinerStats, "elapsedSec" | "hashrate"> = {
    hashes: 0, connects: 0, disconnects: 0, jobs: 0, submitted: 0, accepted: 0, rejected: 0,
    rejectReasons: {}, blocksFound: 0, blocksAccepted: 0, staleDropped: 0, difficulty: 0,
  };

  constructor(opts: MinerOptions) {
    super();
    parseStratumUrl(opts.url); // validate early
    const profile = getProfile(opts.profile ?? MINER_DEFAULTS.profile);
    if (!profile) throw new TbgError("MINER_BAD_PROFILE", `unknown profile '${opts.profile}'`);
    this.profile = profile;
    this.opts = {
      url: opts.url,
      user: opts.user,
      pass: opts.pass ?? MINER_DEFAULTS.pass,
      threads: opts.threads ?? MINER_DEFAULTS.threads,
      profile: profile.name,
      unitNonces: Math.min(opts.unitNonces ?? MINER_DEFAULTS.unitNonces, 2 ** 32),
      reconnectDelayMs: opts.reconnectDelayMs ?? MINER_DEFAULTS.reconnectDelayMs,
      reconnectMaxDelayMs: opts.reconnectMaxDelayMs ?? MINER_DEFAULTS.reconnectMaxDelayMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? MINER_DEFAULTS.requestTimeoutMs,
      blockPauseMs: opts.blockPauseMs ?? MINER_DEFAULTS.blockPauseMs,
      suggestDifficulty: opts.suggestDifficulty,
      maxBlocks: opts.maxBlocks,
      durationSec: opts.durationSec,
    };
    const count = (n: number) => void (this.counters.hashes += n);
    this.hasher = this.opts.threads > 0 ? new WorkerHasher(this.opts.threads, count) : new InlineHasher(count);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** A snapshot of the counters. */
  get stats(): MinerStats {
    const elapsedSec = (performance.now() - this.startedAtMs) / 1000;
    return { ...this.counters, rejectReasons: { ...this.counters.rejectReasons }, elapsedSec, hashrate: elapsedSec > 0 ? this.counters.hashes / elapsedSec : 0 };
  }

  /** Starts the hashing threads and the connection loop (does not wait for a connection). */
  async start(): Promise<void> {
    await this.hasher.start();
    if (this.opts.durationSec !== undefined) {
      this.durationTimer = setTimeout(() => void this.stop("duration"), this.opts.durationSec * 1000);
    }
    this.loops = [this.connectionLoop()];
    for (let slot = 0; slot < this.hasher.slots; slot++) this.loops.push(this.slotLoop(slot));
  }

  /** Stops everything and resolves with the final stats. */
  close(): Promise<MinerStats> {
    return this.stop("closed");
  }

  /** Resolves when `pred(stats)` holds; rejects after `timeoutMs` or when the miner stops first. */
  waitFor(pred: (s: MinerStats) => boolean, timeoutMs: number): Promise<MinerStats> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const s = this.stats;
        if (pred(s)) return finish(() => resolve(s));
        if (this.stopped) return finish(() => reject(new TbgError("MINER_STOPPED", "miner stopped before the condition held")));
      };
      const finish = (f: () => void) => {
        clearTimeout(timer);
        for (const e of ["share", "job", "connected", "block", "stopped"] as const) this.off(e, check);
        f();
      };
      const timer = setTimeout(() => finish(() => reject(new TbgError("MINER_WAIT_TIMEOUT", `condition not met within ${timeoutMs} ms`))), timeoutMs);
      for (const e of ["share", "job", "connected", "block", "stopped"] as const) this.on(e, check);
      check();
    });
  }

  private async stop(reason: NonNullable<MinerStats["stopReason"]>): Promise<MinerStats> {
    if (this.stopped) return this.done;
    this.stopped = true;
    this.counters.stopReason = reason;
    clearTimeout(this.durationTimer);
    this.sleepCancel?.();
    this.wake();
    this.hasher.abort();
    // Let answers to in-flight submits (a block's above all) arrive before hanging up.
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, this.opts.requestTimeoutMs).unref())]);
    await this.client?.close();
    await this.hasher.close();
    await Promise.allSettled(this.loops);
    const s = this.stats;
    this.emit("stopped", s);
    this.resolveDone(s);
    return s;
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.sleepCancel = done;
    });
  }

  private async connectionLoop(): Promise<void> {
    const home = parseStratumUrl(this.opts.url);
    let failures = 0;
    while (!this.stopped) {
      const target = this.redirect ?? home;
      this.redirect = undefined;
      const client = new StratumClient({ host: target.host, port: target.port, requestTimeoutMs: this.opts.requestTimeoutMs, userAgent: this.profile.userAgent });
      const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
      client.on("notify", (ctx) => this.onJob(client, ctx));
      // BIP310: a new mask applies at once; rebuild work only if it differs from the one in use.
      client.on("versionMask", (mask) => {
        if (this.job && this.job.client === client && this.job.mask !== mask && client.lastJob) this.onJob(client, client.lastJob);
      });
      client.on("reconnect", (r) => {
        this.redirect = { host: r.host ?? target.host, port: r.port ?? target.port, waitMs: (r.waitSec ?? 0) * 1000 };
        void client.close();
      });
      let connected = false;
      try {
        await client.connect();
        this.client = client;
        const hs = await runHandshake(client, this.profile, { user: this.opts.user, pass: this.opts.pass, suggestDifficulty: this.opts.suggestDifficulty });
        connected = true;
        failures = 0;
        this.counters.connects++;
        this.emit("connected", { host: target.host, port: target.port, extranonce1Hex: hs.extranonce1Hex, extranonce2Size: hs.extranonce2Size, versionMask: hs.versionMask, handshakeMs: hs.handshakeMs });
        await closed;
      } catch (err) {
        if (!this.stopped) this.emit("connectFailed", err as Error);
        await client.close();
      }
      if (this.client === client) this.client = undefined;
      this.dropJob();
      if (connected && !this.stopped) {
        this.counters.disconnects++;
        this.emit("disconnected", {});
      }
      if (this.stopped) break;
      const redirect = this.redirect as { waitMs: number } | undefined;
      const delay = redirect ? redirect.waitMs : Math.min(this.opts.reconnectDelayMs * 2 ** failures, this.opts.reconnectMaxDelayMs);
      if (!connected) failures++;
      await this.sleep(delay);
    }
  }

  private dropJob(): void {
    if (this.job) this.job.dead = true;
    this.job = undefined;
    this.hasher.abort();
  }

  private onJob(client: StratumClient, ctx: JobContext): void {
    if (client !== this.client || this.stopped || ctx.extranonce1Hex === "") return;
    if (this.job && ctx.job.cleanJobs) this.job.dead = true;
    this.job = { ctx, client, dispenser: new WorkDispenser(ctx, this.opts.unitNonces), mask: ctx.versionMask, dead: false };
    if (this.paused && this.paused.prevhash !== ctx.job.prevhashStratum) this.paused = undefined;
    this.counters.jobs++;
    this.counters.difficulty = ctx.difficulty;
    this.emit("job", ctx);
    // Switch at once: stop running units (their finds for a non-clean job are still submitted).
    this.hasher.abort();
    this.wake();
  }

  private async slotLoop(slot: number): Promise<void> {
    while (!this.stopped) {
      const job = this.job;
      const now = performance.now();
      if (this.paused && job && this.paused.prevhash === job.ctx.job.prevhashStratum && now >= this.paused.untilMs) this.paused = undefined;
      if (!job || (this.paused && this.paused.prevhash === job.ctx.job.prevhashStratum)) {
        await new Promise<void>((resolve) => {
          this.wakers.push(resolve);
          if (this.paused) setTimeout(resolve, Math.max(0, this.paused.untilMs - now)).unref();
        });
        continue;
      }
      const unit = job.dispenser.next();
      const unitId = this.nextUnitId++;
      const { work } = unit;
      await this.hasher.scan(
        slot,
        {
          unitId,
          generation: this.hasher.generation,
          header: work.header,
          shareTargetLE: work.shareTargetLE,
          networkTargetLE: work.networkTargetLE,
          startNonce: unit.startNonce,
          count: unit.count,
          stopOnBlock: true,
        },
        (nonces) => this.onFound(job, work, nonces),
      );
    }
  }

  private onFound(job: ActiveJob, work: Work, nonces: number[]): void {
    for (const nonce of nonces) {
      if (job.dead || this.stopped) {
        this.counters.staleDropped++;
        continue;
      }
      const share = checkNonce(work, nonce);
      if (!share.meetsShareTarget && !share.isBlock) continue; // cannot happen unless a thread is broken
      if (share.isBlock) {
        this.counters.blocksFound++;
        this.paused = { prevhash: job.ctx.job.prevhashStratum, untilMs: performance.now() + this.opts.blockPauseMs };
      }
      const p = this.submit(job, work, share.nonce, share.hashLE, share.hashDifficulty, share.isBlock);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  private async submit(job: ActiveJob, work: Work, nonce: number, hashLE: Buffer, hashDifficulty: number, isBlock: boolean): Promise<void> {
    const params = submitParams(work, this.opts.user, nonce);
    const ev: ShareEvent = {
      jobId: work.jobId,
      nonceHex: params[4],
      hashHex: Buffer.from(hashLE).reverse().toString("hex"),
      hashDifficulty,
      difficulty: work.difficulty,
      isBlock,
      accepted: false,
    };
    this.counters.submitted++;
    try {
      const a = await job.client.request("mining.submit", params);
      const v = classifySubmitAnswer(a.result, a.error, a.rejectReason);
      ev.accepted = v.accepted;
      ev.rttMs = a.rttMs;
      if (v.reason) ev.reason = v.reason;
      if (v.message) ev.message = v.message;
    } catch (err) {
      ev.reason = err instanceof ClientRequestTimeoutError ? "timeout" : "closed";
    }
    if (ev.accepted) this.counters.accepted++;
    else {
      this.counters.rejected++;
      const r = ev.reason ?? "other";
      this.counters.rejectReasons[r] = (this.counters.rejectReasons[r] ?? 0) + 1;
    }
    this.emit("share", ev);
    if (isBlock) {
      if (ev.accepted) this.counters.blocksAccepted++;
      this.emit("block", ev);
      if (this.opts.maxBlocks !== undefined && this.counters.blocksFound >= this.opts.maxBlocks) void this.stop("max-blocks");
    }
  }
}

/** Creates and starts a miner. */
export async function startMiner(opts: MinerOptions): Promise<Miner> {
  const m = new Miner(opts);
  await m.start();
  return m;
}
