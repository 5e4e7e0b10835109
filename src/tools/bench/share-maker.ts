/**
 * Makes well-formed shares for one connection's current job. Pure (randomness injected).
 *
 * - `invalid`: one hash per share, which almost always misses the target, so the pool checks it in full
 *   (job, extranonce2, ntime, version, duplicate, hash) and rejects it as low difficulty. This is how a pool
 *   with difficulty ≥ 1 is measured.
 * - `valid`: shares that meet the pool's difficulty. Grinding costs ~difficulty·2^32 hashes each, so it runs
 *   off the event loop (see ./grinder.ts): {@link ShareMaker.grindWork} hands out work, {@link ShareMaker.addFound}
 *   queues what the grinder found, {@link ShareMaker.make} pops it.
 * Either way a hash that meets the network target is never sent: a benchmark must not submit blocks.
 * Every share has a fresh (extranonce2, nonce) pair, so none is a duplicate.
 */
import type { JobContext } from "../stratum-client/stratum-client.ts";
import { buildWork, checkNonce, extranonce2FromCounter, rollableMask, submitParams, versionBitsFromCounter, type Work } from "../stratum-client/work.ts";

export type BenchMode = "valid" | "invalid";

/** A share ready to submit. */
export interface MadeShare {
  params: string[];
  /** Our own verdict: the hash meets the share target of the job's difficulty. */
  meetsShareTarget: boolean;
}

/** Outcome of one {@link ShareMaker.make} call. */
export type MakeResult = (
  | { kind: "share"; share: MadeShare }
  /** valid mode: nothing ground yet for this connection. */
  | { kind: "starved" }
  /** invalid mode: every candidate was a block (regtest-like targets). */
  | { kind: "only-blocks" }
) & {
  hashes: number;
  /** Candidates dropped because they met the network target. */
  blocksSkipped: number;
};

/** Options for {@link ShareMaker}. */
export interface ShareMakerOptions {
  mode: BenchMode;
  /** Username sent as submit params[0]. */
  worker: string;
  /** Shares per extranonce2 before it is rolled (invalid mode; real ASICs send many per extranonce2). */
  sharesPerExtranonce2: number;
  /** uint32 source for starting nonces. */
  random32: () => number;
  /** valid mode: ground shares kept per connection. */
  queueMax?: number;
}

/** Per-connection share source; call {@link setJob} on each notify. */
export class ShareMaker {
  private ctx: JobContext | undefined;
  private work: Work | undefined;
  private sharesOnWork = 0;
  private en2Counter = 0n;
  private versionCounter = 0;
  private nonce = 0;
  private readonly queue: MadeShare[] = [];
  /** Jobs a queued share may still name (all since the last clean_jobs). */
  private liveJobs = new Set<string>();

  constructor(private readonly opts: ShareMakerOptions) {}

  /** Uses `ctx` for every later share; a clean job drops queued shares of older jobs. */
  setJob(ctx: JobContext): void {
    this.ctx = ctx;
    this.work = undefined;
    if (ctx.job.cleanJobs) {
      this.liveJobs = new Set();
      this.queue.length = 0;
    }
    this.liveJobs.add(ctx.job.jobId);
  }

  /** True once a job with an extranonce is known. */
  get ready(): boolean {
    return this.ctx !== undefined && this.ctx.extranonce1Hex !== "";
  }

  /** valid mode: ground shares waiting. */
  get queued(): number {
    return this.queue.length;
  }

  /** valid mode: wants more ground shares. */
  get hungry(): boolean {
    return this.ready && this.queue.length < (this.opts.queueMax ?? 2);
  }

  /** Makes (invalid) or pops (valid) one share for the current job. Requires {@link ready}. */
  make(): MakeResult {
    if (this.opts.mode === "valid") {
      const share = this.queue.shift();
      return share ? { kind: "share", share, hashes: 0, blocksSkipped: 0 } : { kind: "starved", hashes: 0, blocksSkipped: 0 };
    }
    const ctx = this.ctx;
    if (!ctx) throw new Error("ShareMaker.make() before a job");
    let hashes = 0;
    let blocksSkipped = 0;
    // A few tries at most: with a regtest target half the hashes are blocks.
    for (let attempt = 0; attempt < 8; attempt++) {
      const work = this.currentWork(ctx);
      const s = checkNonce(work, this.nonce);
      this.nonce = (this.nonce + 1) >>> 0;
      hashes++;
      if (s.isBlock) {
        blocksSkipped++;
        continue;
      }
      return { kind: "share", share: { params: submitParams(work, this.opts.worker, s.nonce), meetsShareTarget: s.meetsShareTarget }, hashes, blocksSkipped };
    }
    return { kind: "only-blocks", hashes, blocksSkipped };
  }

  /**
   * valid mode: fresh work for the grinder (new extranonce2) and a random start nonce, or "impossible" when
   * the share target is at or below the network target (regtest: every valid share would be a block).
   */
  grindWork(): { work: Work; startNonce: number } | "impossible" | undefined {
    const ctx = this.ctx;
    if (!ctx || ctx.extranonce1Hex === "") return undefined;
    const work = this.freshWork(ctx);
    if (work.shareTarget <= work.networkTarget) return "impossible";
    return { work, startNonce: this.opts.random32() };
  }

  /** valid mode: takes nonces the grinder found on `work`; returns how many blocks were dropped. */
  addFound(work: Work, nonces: number[]): number {
    let blocks = 0;
    for (const nonce of nonces) {
      if (!this.liveJobs.has(work.jobId)) return blocks;
      const s = checkNonce(work, nonce);
      if (s.isBlock) {
        blocks++;
        continue;
      }
      if (s.meetsShareTarget) this.queue.push({ params: submitParams(work, this.opts.worker, nonce), meetsShareTarget: true });
    }
    return blocks;
  }

  private freshWork(ctx: JobContext): Work {
    const mask = rollableMask(ctx.versionMask);
    return buildWork(ctx, extranonce2FromCounter(this.en2Counter++, ctx.extranonce2Size), mask ? versionBitsFromCounter(mask, this.versionCounter++ % 65536) : 0);
  }

  private currentWork(ctx: JobContext): Work {
    if (!this.work || this.sharesOnWork >= this.opts.sharesPerExtranonce2) {
      this.work = this.freshWork(ctx);
      this.sharesOnWork = 0;
      this.nonce = this.opts.random32();
    }
    this.sharesOnWork++;
    return this.work;
  }
}
