/**
 * From a Stratum job to hashable work and back to a submit. Pure.
 *
 * - coinbase = coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 (non-witness serialisation, so its hash is the txid);
 * - merkle root = sha256d(root ‖ branch_i) over the notify's branch, starting from the coinbase txid;
 * - notify version/nbits/ntime are big-endian hex of uint32s; the header stores them little-endian;
 * - notify prevhash is internal byte order with every 4-byte word byte-reversed: undone here;
 * - the nonce is submitted as big-endian hex of the uint32 the header holds little-endian;
 * - BIP310: version = (job version & ~mask) | (bits & mask); the 6th submit param is the rolled bits.
 */
import { sha256d } from "../../core/bitcoin/hash.ts";
import { merkleRootFromBranch } from "../../core/bitcoin/merkle.ts";
import { buildHeader, prevhashDisplayToLE, prevhashFromStratum } from "../../core/bitcoin/header.ts";
import {
  difficultyToTarget,
  hashMeetsTargetBuffer,
  hashToDifficulty,
  nbitsToTarget,
  targetToBufferLE,
} from "../../core/bitcoin/difficulty.ts";
import type { NotifyJob } from "./messages.ts";

/** What a job needs besides itself: the session state when it arrived (see JobContext). */
export interface WorkContext {
  job: NotifyJob;
  extranonce1Hex: string;
  extranonce2Size: number;
  /** Share difficulty for this job. */
  difficulty: number;
  /** Negotiated version-rolling mask (0 = none). */
  versionMask: number;
}

/** One hashable unit: a fixed header (except the nonce) plus what a submit needs. */
export interface Work {
  jobId: string;
  extranonce2Hex: string;
  ntimeHex: string;
  /** 6th submit param (rolled bits, 8 hex), or undefined when no mask was negotiated. */
  versionBitsHex: string | undefined;
  /** Rolled block version (uint32). */
  version: number;
  /** 80-byte header with nonce 0. */
  header: Buffer;
  /** Share difficulty this work is judged at. */
  difficulty: number;
  shareTarget: bigint;
  /** Target from the job's nbits: a hash at or below it is a block. */
  networkTarget: bigint;
  /** Targets as 32-byte little-endian buffers (fast compare). */
  shareTargetLE: Buffer;
  networkTargetLE: Buffer;
}

/** The part of {@link Work} a nonce scan needs (what a hashing thread receives). */
export type ScanWork = Pick<Work, "header" | "shareTargetLE" | "networkTargetLE">;

/** A nonce whose hash meets the share target or the network target. */
export interface FoundShare {
  nonce: number;
  /** Header hash, internal byte order. */
  hashLE: Buffer;
  /** Share difficulty of the hash. */
  hashDifficulty: number;
  /** Meets the share target (the pool should accept it). */
  meetsShareTarget: boolean;
  /** Meets the network target from nbits: a block. */
  isBlock: boolean;
}

/** BIP320's general-purpose bits: what ASICs roll. */
export const BIP320_MASK = 0x1fffe000;

/** Internal-order prevhash (header bytes 4..36) from the notify's word-swapped form. */
export function prevhashStratumToLE(prevhashStratum: string): Buffer {
  return prevhashDisplayToLE(prevhashFromStratum(prevhashStratum));
}

/** Bits this client rolls: the BIP320 range inside the granted mask (a pool granting `ffffffff` would
 * otherwise let us produce versions below 4), or the whole mask when it has no BIP320 bits. */
export function rollableMask(versionMask: number): number {
  const m = (versionMask & BIP320_MASK) >>> 0;
  return m !== 0 ? m : versionMask >>> 0;
}

/** Number of distinct version-bit values under `mask` (2^popcount), capped at 2^16. */
export function versionRollSpace(mask: number): number {
  let bits = 0;
  for (let m = mask >>> 0; m !== 0; m &= m - 1) bits++;
  return 2 ** Math.min(bits, 16);
}

/** Deposits the low bits of `counter` into the set bits of `mask`, lowest first (a software PDEP). */
export function versionBitsFromCounter(mask: number, counter: number): number {
  let out = 0;
  let c = counter;
  for (let bit = 0; bit < 32 && c > 0; bit++) {
    const b = 2 ** bit;
    if (((mask >>> bit) & 1) === 1) {
      if (c % 2 === 1) out += b;
      c = Math.floor(c / 2);
    }
  }
  return out >>> 0;
}

/** BIP310 rolled version: `(version & ~mask) | (bits & mask)`. */
export function rollVersion(version: number, mask: number, bits: number): number {
  return ((version & ~mask) | (bits & mask)) >>> 0;
}

/** extranonce2 bytes for a counter, big-endian, exactly `size` bytes (the counter wraps). */
export function extranonce2FromCounter(counter: bigint, size: number): Buffer {
  const out = Buffer.alloc(size);
  let c = counter;
  for (let i = size - 1; i >= 0 && c > 0n; i--) {
    out[i] = Number(c & 0xffn);
    c >>= 8n;
  }
  return out;
}

/** uint32 → 8 hex digits, big-endian (Stratum's encoding of nonce, ntime, version bits). */
export function u32Hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** The coinbase transaction (non-witness) for one extranonce2. */
export function buildCoinbase(job: NotifyJob, extranonce1Hex: string, extranonce2: Buffer): Buffer {
  return Buffer.concat([Buffer.from(job.coinb1Hex, "hex"), Buffer.from(extranonce1Hex, "hex"), extranonce2, Buffer.from(job.coinb2Hex, "hex")]);
}

/** Merkle root (internal order) for one extranonce2. */
export function merkleRootFor(job: NotifyJob, extranonce1Hex: string, extranonce2: Buffer): Buffer {
  const coinbaseTxidLE = sha256d(buildCoinbase(job, extranonce1Hex, extranonce2));
  return merkleRootFromBranch(coinbaseTxidLE, job.merkleBranchHex.map((h) => Buffer.from(h, "hex")));
}

/**
 * Builds work for one (extranonce2, version bits) pair. `versionBits` outside the negotiated mask are
 * dropped. Throws RangeError when extranonce2 has the wrong length.
 */
export function buildWork(ctx: WorkContext, extranonce2: Buffer, versionBits = 0): Work {
  if (extranonce2.length !== ctx.extranonce2Size) throw new RangeError(`extranonce2 must be ${ctx.extranonce2Size} bytes`);
  const { job } = ctx;
  const jobVersion = parseInt(job.versionHex, 16) >>> 0;
  const mask = ctx.versionMask >>> 0;
  const bits = (versionBits & mask) >>> 0;
  const version = rollVersion(jobVersion, mask, bits);
  const nbits = parseInt(job.nbitsHex, 16) >>> 0;
  const header = buildHeader({
    version,
    prevhashLE: prevhashStratumToLE(job.prevhashStratum),
    merkleRootLE: merkleRootFor(job, ctx.extranonce1Hex, extranonce2),
    ntime: parseInt(job.ntimeHex, 16) >>> 0,
    nbits,
    nonce: 0,
  });
  const shareTarget = difficultyToTarget(ctx.difficulty);
  const networkTarget = nbitsToTarget(nbits);
  return {
    jobId: job.jobId,
    extranonce2Hex: extranonce2.toString("hex"),
    ntimeHex: job.ntimeHex.toLowerCase(),
    versionBitsHex: mask !== 0 ? u32Hex(bits) : undefined,
    version,
    header,
    difficulty: ctx.difficulty,
    shareTarget,
    networkTarget,
    shareTargetLE: targetToBufferLE(shareTarget),
    networkTargetLE: targetToBufferLE(networkTarget),
  };
}

/** Header hash (internal order) of `work` with `nonce`. Writes the nonce into `work.header`. */
export function hashNonce(work: Work, nonce: number): Buffer {
  work.header.writeUInt32LE(nonce >>> 0, 76);
  return sha256d(work.header);
}

/** Judges one nonce fully (no fast path): what the pool will compute. */
export function checkNonce(work: Work, nonce: number): FoundShare {
  const hashLE = hashNonce(work, nonce);
  return {
    nonce: nonce >>> 0,
    hashLE,
    hashDifficulty: hashToDifficulty(hashLE),
    meetsShareTarget: hashMeetsTargetBuffer(hashLE, work.shareTargetLE),
    isBlock: hashMeetsTargetBuffer(hashLE, work.networkTargetLE),
  };
}

/** Most significant 32 bits of a little-endian 256-bit target. */
const topWord = (targetLE: Buffer): number => targetLE.readUInt32LE(28);

/**
 * Hashes nonces `[startNonce, startNonce + count)` (wrapping at 2^32) and returns those meeting the
 * share target or the network target (on regtest the network target is far easier than any share
 * target, so a block need not be a share). A top-word check skips the exact compare for almost every hash.
 */
export function scanNonces(work: ScanWork, startNonce: number, count: number): FoundShare[] {
  const found: FoundShare[] = [];
  const limit = Math.max(topWord(work.shareTargetLE), topWord(work.networkTargetLE));
  const header = work.header;
  for (let i = 0; i < count; i++) {
    const nonce = (startNonce + i) >>> 0;
    header.writeUInt32LE(nonce, 76);
    const hashLE = sha256d(header);
    if (hashLE.readUInt32LE(28) > limit) continue;
    const meetsShareTarget = hashMeetsTargetBuffer(hashLE, work.shareTargetLE);
    const isBlock = hashMeetsTargetBuffer(hashLE, work.networkTargetLE);
    if (meetsShareTarget || isBlock) found.push({ nonce, hashLE, hashDifficulty: hashToDifficulty(hashLE), meetsShareTarget, isBlock });
  }
  return found;
}

/** `mining.submit` params: `[worker, job_id, extranonce2, ntime, nonce(, version_bits)]`. */
export function submitParams(work: Work, worker: string, nonce: number): string[] {
  const params = [worker, work.jobId, work.extranonce2Hex, work.ntimeHex, u32Hex(nonce)];
  if (work.versionBitsHex !== undefined) params.push(work.versionBitsHex);
  return params;
}
