/**
 * Share validation, cheapest check first; each failed check has its own RejectReason:
 *   1. authorized and subscribed                  → unauthorized / not_subscribed (the session checks these)
 *   2. job known and not expired                  → job_not_found
 *   3. extranonce2 length                         → bad_extranonce2
 *   4. ntime in [job ntime, job ntime + 7000 s], not beyond now + 7200 s → ntime_out_of_range
 *   5. version bits only inside the negotiated mask → bad_version
 *   6. duplicate (numbers, not hex text)           → duplicate
 *   7. the hash: a block comes back as `candidate` whatever the verdict, even for a stale job
 *      (it may still solve its own parent), for the caller to submit at once → then stale
 *   8. against the difficulty in force when the job was sent to this connection → low_difficulty
 * Pure code: time comes in `nowMs`; nothing is called back.
 * Cost per share is constant in the template's transaction count: only the precomputed merkle branch is used.
 */
import { shareHash, concatBranch } from "../bitcoin/share-hash.ts";
import { hashMeetsTargetBuffer, hashToDifficulty, difficultyToTarget, targetToBufferLE } from "../bitcoin/difficulty.ts";
import { RejectReason } from "./reject.ts";
import type { Job, JobLookup } from "../work/jobs.ts";
import type { BlockCandidate } from "../work/block-candidate.ts";

export type { BlockCandidate };
import type { TemplateWork } from "../work/template.ts";
import type { CoinbaseParts } from "../work/coinbase-cache.ts";

/** The six `mining.submit` params as received (hex text, checked here). */
export interface SubmitParams {
  worker: string;
  jobId: string;
  extranonce2Hex: string;
  ntimeHex: string;
  nonceHex: string;
  /** BIP310 6th parameter, the rolled version bits, or null. */
  versionBitsHex: string | null;
}

/** Bitcoin's consensus allows a block time up to 2 h past the node's clock; we stop at 7200 s too. */
export const MAX_NTIME_FUTURE_SEC = 7200;
/** Rolling ntime forward from the job's: ckpool's window. */
export const MAX_NTIME_ROLL_SEC = 7000;

/** What the connection knows that a share is checked against. */
export interface ShareContext {
  extranonce1: Buffer;
  /** `extranonce1` as hex (fixed per connection; part of the duplicate key). */
  extranonce1Hex: string;
  extranonce2Size: number;
  /** The negotiated BIP310 mask (0 when the miner never configured version rolling). */
  versionMask: number;
  /** Difficulty in force when `job` was sent to this connection; the current one if it never was. */
  difficultyForJob(job: Job): number;
  /** This miner's coinbase halves for the job's template (solo: payout and signature differ per user). */
  coinbaseFor(job: Job): CoinbaseParts;
}

export interface ShareVerdict {
  accepted: boolean;
  reason: RejectReason | null;
  /**
   * Difficulty credited for the share (hashrate, accounting, vardiff): the difficulty assigned to its job,
   * or 0 for an accepted block below its share target (it is still submitted as a block, but crediting
   * what it happened to reach would bias the hashrate upwards, since only hashes that are blocks are
   * seen from below the target); for a rejected
   * share the assigned difficulty it was judged at, or 0 when it never got that far.
   */
  difficulty: number;
  /** The share's own difficulty from its hash, or 0 when it was not hashed. */
  shareDifficulty: number;
  /** Met the network target. */
  block: boolean;
  /** When `block`: everything needed to submit it (the caller submits it at once, whatever the verdict). */
  candidate?: BlockCandidate;
  job: Job | null;
  /** Human detail for the reject, e.g. which limit was crossed. */
  detail?: string;
}

/**
 * Remembers accepted share identities per template; forgotten with the template. Keyed by the template,
 * not the job: every job on one template (the broadcast one and the refresh jobs minted by difficulty
 * changes) has the same coinbase and branch, so the same (extranonce1, extranonce2, ntime, nonce, version)
 * is the same header whatever job id it is submitted under. Only shares that met their target (or a
 * block) are recorded: recording every submit would let a client grow the set without doing any work
 * (random nonces at the message rate), so memory is bounded by real hashing.
 */
export class DuplicateFilter {
  private readonly seen = new WeakMap<TemplateWork, Set<string>>();
  private count = 0;

  has(job: Job, key: string): boolean {
    return this.seen.get(job.template)?.has(key) ?? false;
  }

  /** Records a share identity (after it passed the hash checks). */
  add(job: Job, key: string): void {
    let set = this.seen.get(job.template);
    if (!set) {
      set = new Set();
      this.seen.set(job.template, set);
    }
    if (set.has(key)) return;
    set.add(key);
    this.count++;
  }

  /** Shares recorded since start (for metrics). */
  get recorded(): number {
    return this.count;
  }
}

export interface ValidatorDeps {
  lookup(jobId: string, nowMs: number): JobLookup;
  duplicates: DuplicateFilter;
}

const targetCache = new Map<number, Buffer>();
/** Target bytes (LE) for a difficulty; cached because sessions reuse a handful of difficulties. */
export function targetLEForDifficulty(difficulty: number): Buffer {
  let t = targetCache.get(difficulty);
  if (!t) {
    if (targetCache.size > 10_000) targetCache.clear();
    t = targetToBufferLE(difficultyToTarget(difficulty));
    targetCache.set(difficulty, t);
  }
  return t;
}

/** Scratch for the share hash (one share at a time: validation is synchronous). */
const HEADER = Buffer.alloc(80);
const HASH = Buffer.alloc(32);
const EN2: Buffer[] = [];
function en2Scratch(size: number): Buffer {
  return (EN2[size] ??= Buffer.alloc(size));
}

/** Value of one lowercase hex digit, -1 for anything else. */
function nibble(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
}

/** Decodes lowercase hex of exactly 2 × out.length digits into `out` (a short loop beats Buffer#write's argument handling). */
function hexInto(hex: string, out: Buffer): boolean {
  if (hex.length !== out.length * 2) return false;
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

function reject(reason: RejectReason, job: Job | null, detail?: string, extra?: Partial<ShareVerdict>): ShareVerdict {
  return { accepted: false, reason, difficulty: 0, shareDifficulty: 0, block: false, job, detail, ...extra };
}

export function validateShare(deps: ValidatorDeps, ctx: ShareContext, p: SubmitParams, nowMs: number): ShareVerdict {
  // 2. job
  const found = deps.lookup(p.jobId, nowMs);
  if (found.kind === "unknown") return reject(RejectReason.JobNotFound, null, `job ${p.jobId} unknown or expired`);
  const job = found.job;

  // 3. extranonce2: exactly the size we announced (hex digits = 2 × bytes).
  if (p.extranonce2Hex.length !== ctx.extranonce2Size * 2) {
    return reject(RejectReason.BadExtranonce2, job, `extranonce2 must be ${ctx.extranonce2Size} bytes, got ${p.extranonce2Hex.length / 2}`);
  }

  // 4. ntime
  const ntime = parseInt(p.ntimeHex, 16) >>> 0;
  const nowSec = Math.floor(nowMs / 1000);
  if (ntime < job.ntime || ntime > job.ntime + MAX_NTIME_ROLL_SEC || ntime > nowSec + MAX_NTIME_FUTURE_SEC) {
    return reject(RejectReason.NtimeOutOfRange, job, `ntime ${ntime} outside [${job.ntime}, ${Math.min(job.ntime + MAX_NTIME_ROLL_SEC, nowSec + MAX_NTIME_FUTURE_SEC)}]`);
  }

  // 5. version rolling (BIP310): bits outside the negotiated mask are refused.
  const versionBits = p.versionBitsHex === null ? 0 : parseInt(p.versionBitsHex, 16) >>> 0;
  if ((versionBits & ~ctx.versionMask) >>> 0 !== 0) {
    return reject(RejectReason.BadVersion, job, `version bits ${versionBits.toString(16)} outside mask ${ctx.versionMask.toString(16)}`);
  }
  const version = ((job.template.version & ~ctx.versionMask) | (versionBits & ctx.versionMask)) >>> 0;

  // 6. duplicate: the identity as numbers, so hex case and leading zeros cannot dodge it.
  const nonce = parseInt(p.nonceHex, 16) >>> 0;
  const en2 = p.extranonce2Hex.toLowerCase();

  // Keyed per template (see DuplicateFilter) and, through extranonce1, per connection.
  const dupKey = `${ctx.extranonce1Hex}:${en2}:${ntime}:${nonce}:${version}`;
  if (deps.duplicates.has(job, dupKey)) return reject(RejectReason.Duplicate, job, "share already submitted");

  // 7. hash: one call (native when built, see share-hash.ts) into scratch buffers; copies only for a block.
  const parts = ctx.coinbaseFor(job);
  const en2Bytes = en2Scratch(ctx.extranonce2Size);
  if (!hexInto(en2, en2Bytes)) return reject(RejectReason.BadExtranonce2, job, "extranonce2 must be hex");
  const template = job.template;
  HEADER.writeUInt32LE(version, 0);
  template.prevhashLE.copy(HEADER, 4);
  HEADER.writeUInt32LE(ntime, 68);
  HEADER.writeUInt32LE(template.nbits >>> 0, 72);
  HEADER.writeUInt32LE(nonce, 76);
  // Merkle root from the coinbase txid up the job's precomputed branch: log2(txs) hashes, never the txs.
  shareHash(parts.coinb1, ctx.extranonce1, en2Bytes, parts.coinb2, concatBranch(template.merkleBranchLE), HEADER, HASH);
  const shareDifficulty = hashToDifficulty(HASH);
  const block = hashMeetsTargetBuffer(HASH, template.networkTargetLE);
  let candidate: BlockCandidate | undefined;
  if (block) {
    deps.duplicates.add(job, dupKey); // the same block twice is submitted once
    const coinbase = Buffer.concat([parts.coinb1, ctx.extranonce1, en2Bytes, parts.coinb2]);
    candidate = { job, header: Buffer.from(HEADER), coinbase, hashLE: Buffer.from(HASH), shareDifficulty };
  }

  if (found.kind === "stale") return reject(RejectReason.Stale, job, "job is from a previous block", { shareDifficulty, block, ...(candidate ? { candidate } : {}) });

  // 8. difficulty in force when the job was sent to this connection
  const difficulty = ctx.difficultyForJob(job);
  if (!block && !hashMeetsTargetBuffer(HASH, targetLEForDifficulty(difficulty))) {
    // One literal (no spread): the most common reject, and the same shape as every other verdict.
    return { accepted: false, reason: RejectReason.LowDifficulty, difficulty, shareDifficulty, block: false, job, detail: `share difficulty ${shareDifficulty.toPrecision(6)} below ${difficulty}` };
  }
  deps.duplicates.add(job, dupKey);
  // A block below its share target (a network easier than the share difficulty, e.g. regtest) is accepted
  // and submitted but credited 0: such hashes are seen only when they are blocks, so crediting their own
  // difficulty (or the assigned one) would overstate the hashrate. Shares at or above the target get
  // the assigned difficulty as usual.
  const credited = block && shareDifficulty < difficulty ? 0 : difficulty;
  return candidate ? { accepted: true, reason: null, difficulty: credited, shareDifficulty, block, job, candidate } : { accepted: true, reason: null, difficulty: credited, shareDifficulty, block, job };
}
