/**
 * Makes well-formed shares for one connection's current job. Pure (randomness injected).
 *
 * - `valid`: grinds nonces until the hash meets the share target (cheap at fractional difficulty:
 *   difficulty d costs ~d·2^32 hashes);
 * - `invalid`: one hash per share, which almost always misses the target, so the pool checks it in full
 *   (job, extranonce2, ntime, version, duplicate, hash) and rejects it as low difficulty. This is how a pool
 *   with difficulty ≥ 1 is measured.
 * Either way a hash that meets the network target is never sent: a benchmark must not submit blocks.
 * Every share has a fresh (extranonce2, nonce) pair, so none is a duplicate.
 */
import type { JobContext } from "../stratum-client.ts";
import { buildWork, extranonce2FromCounter, rollableMask, scanNonces, submitParams, versionBitsFromCounter, checkNonce, type Work } from "../work.ts";

export type BenchMode = "valid" | "invalid";

/** A share ready to submit. */
export interface MadeShare {
  params: string[];
  /** Our own verdict: the hash meets the share target of the job's difficulty. */
  meetsShareTarget: boolean;
}

/** Outcome of one attempt. */
export type MakeResult = (
  | { kind: "share"; share: MadeShare }
  /** valid mode gave up after `maxGrindHashes`. */
  | { kind: "grind-limit" }
  /** every candidate was a block (regtest-like targets). */
  | { kind: "only-blocks" }
  /** valid mode cannot work: every hash meeting the share target would be a block (regtest). */
  | { kind: "valid-impossible" }
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
  /** valid mode: give up after this many hashes for one share. */
  maxGrindHashes: number;
  /** Shares per extranonce2 before it is rolled (real ASICs send many shares per extranonce2). */
  sharesPerExtranonce2: number;
  /** uint32 source for starting nonces. */
  random32: () => number;
}

/** Per-connection share source; call {@link setJob} on each notify. */
export class ShareMaker {
  private ctx: JobContext | undefined;
  private work: Work | undefined;
  private sharesOnWork = 0;
  private en2Counter = 0n;
  private versionCounter = 0;
  private nonce = 0;

  constructor(private readonly opts: ShareMakerOptions) {}

  /** Uses `ctx` for every later share. */
  setJob(ctx: JobContext): void {
    this.ctx = ctx;
    this.work = undefined;
  }

  /** True once a job with an extranonce is known. */
  get ready(): boolean {
    return this.ctx !== undefined && this.ctx.extranonce1Hex !== "";
  }

  /** Makes one share for the current job. Requires {@link ready}. */
  make(): MakeResult {
    const ctx = this.ctx;
    if (!ctx) throw new Error("ShareMaker.make() before a job");
    let hashes = 0;
    let blocksSkipped = 0;
    // A few fresh works at most: with a regtest target half the hashes are blocks.
    for (let attempt = 0; attempt < 8; attempt++) {
      const work = this.currentWork(ctx);
      if (this.opts.mode === "invalid") {
        const s = checkNonce(work, this.nonce);
        this.nonce = (this.nonce + 1) >>> 0;
        hashes++;
        if (s.isBlock) {
          blocksSkipped++;
          continue;
        }
        const share = { params: submitParams(work, this.opts.worker, s.nonce), meetsShareTarget: s.meetsShareTarget };
        return { kind: "share", share, hashes, blocksSkipped };
      }
      // A share target at or below the network target means every valid share is a block.
      if (work.shareTarget <= work.networkTarget) return { kind: "valid-impossible", hashes, blocksSkipped };
      while (hashes < this.opts.maxGrindHashes) {
        const n = Math.min(1024, this.opts.maxGrindHashes - hashes);
        const found = scanNonces(work, this.nonce, n);
        const hitAt = found.findIndex((f) => f.meetsShareTarget && !f.isBlock);
        const hit = found[hitAt];
        blocksSkipped += (hitAt >= 0 ? found.slice(0, hitAt) : found).filter((f) => f.isBlock).length;
        if (hit) {
          hashes += ((hit.nonce - this.nonce) >>> 0) + 1;
          this.nonce = (hit.nonce + 1) >>> 0;
          return { kind: "share", share: { params: submitParams(work, this.opts.worker, hit.nonce), meetsShareTarget: true }, hashes, blocksSkipped };
        }
        hashes += n;
        this.nonce = (this.nonce + n) >>> 0;
      }
      return { kind: "grind-limit", hashes, blocksSkipped };
    }
    return { kind: "only-blocks", hashes, blocksSkipped };
  }

  private currentWork(ctx: JobContext): Work {
    if (!this.work || this.sharesOnWork >= this.opts.sharesPerExtranonce2) {
      const mask = rollableMask(ctx.versionMask);
      this.work = buildWork(ctx, extranonce2FromCounter(this.en2Counter++, ctx.extranonce2Size), mask ? versionBitsFromCounter(mask, this.versionCounter++ % 65536) : 0);
      this.sharesOnWork = 0;
      this.nonce = this.opts.random32();
    }
    this.sharesOnWork++;
    return this.work;
  }
}
