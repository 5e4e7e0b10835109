/**
 * Targets and difficulties.
 *
 * difficulty = DIFF1_TARGET / target, with DIFF1_TARGET = 0xFFFF·2^208 (the target of nbits
 * 0x1d00ffff). A share's difficulty is DIFF1_TARGET / H with the header hash H read as a 256-bit
 * little-endian integer. Acceptance decisions should compare hashes with
 * targets (`hashMeetsTarget`), which is exact; `hashToDifficulty` is a double for stats and
 * best-share tracking.
 */
import { BitcoinValueError } from "./errors.ts";

/** Target of difficulty 1: 0x00000000FFFF0000…0000 = 0xFFFF·2^208. */
export const DIFF1_TARGET: bigint = 0xffffn << 208n;

/** Largest representable 256-bit target. */
export const MAX_TARGET: bigint = (1n << 256n) - 1n;

const DIFF1_NUMBER = Number(DIFF1_TARGET); // exact: 16 significant bits

/**
 * Expand a compact target (`nbits`) as Bitcoin Core's `arith_uint256::SetCompact` does.
 * Throws `BitcoinValueError` (`NBITS_INVALID`) for a negative or overflowing encoding, which
 * Core also refuses as a proof-of-work limit.
 */
export function nbitsToTarget(nbits: number): bigint {
  const bits = nbits >>> 0;
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (mantissa !== 0 && (bits & 0x00800000) !== 0) {
    throw new BitcoinValueError("NBITS_INVALID", `nbits ${hex8(bits)} is negative`);
  }
  let target: bigint;
  if (exponent <= 3) target = BigInt(mantissa >>> (8 * (3 - exponent)));
  else target = BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (target > MAX_TARGET) {
    throw new BitcoinValueError("NBITS_INVALID", `nbits ${hex8(bits)} overflows 256 bits`);
  }
  return target;
}

/** Compact encoding of a target as Bitcoin Core's `GetCompact` (inverse of `nbitsToTarget`, lossy). */
export function targetToNbits(target: bigint): number {
  if (target < 0n || target > MAX_TARGET) throw new RangeError("target out of range");
  let size = 0;
  for (let t = target; t > 0n; t >>= 8n) size++;
  let compact = size <= 3 ? Number(target << BigInt(8 * (3 - size))) : Number(target >> BigInt(8 * (size - 3)));
  // The 0x00800000 bit is the sign: shift the mantissa down and bump the exponent.
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  return ((size << 24) | compact) >>> 0;
}

/**
 * Target for a (possibly fractional) difficulty: floor(DIFF1_TARGET / difficulty), clamped to
 * MAX_TARGET. Exact: a double is m·2^e with an integer m, so the division is done in bigint as
 * floor(DIFF1_TARGET·2^-e / m). Works from tiny (1e-9 and below) to huge difficulties.
 */
export function difficultyToTarget(difficulty: number): bigint {
  if (!Number.isFinite(difficulty) || difficulty <= 0) {
    throw new BitcoinValueError("DIFFICULTY_INVALID", `difficulty must be a finite number > 0, got ${difficulty}`);
  }
  const { mantissa, exponent } = decomposeDouble(difficulty);
  let target: bigint;
  if (exponent >= 0) target = DIFF1_TARGET / (mantissa << BigInt(exponent));
  else target = (DIFF1_TARGET << BigInt(-exponent)) / mantissa;
  return target > MAX_TARGET ? MAX_TARGET : target;
}

/** Difficulty of a target (DIFF1_TARGET / target) as a double; Infinity for target 0. */
export function targetToDifficulty(target: bigint): number {
  if (target <= 0n) return Infinity;
  return DIFF1_NUMBER / Number(target);
}

/** Network difficulty of a compact target (`getdifficulty` semantics): 0x1d00ffff → 1. */
export function nbitsToDifficulty(nbits: number): number {
  return targetToDifficulty(nbitsToTarget(nbits));
}

/**
 * Share difficulty of a hash (internal byte order = little-endian 256-bit integer):
 * DIFF1_TARGET / H as a double, Infinity for H = 0. No allocation; relative error a few ulps.
 */
export function hashToDifficulty(hashLE: Buffer): number {
  let h = 0;
  // Horner from the most significant 32-bit word: multiplications by 2^32 are exact.
  for (let off = 28; off >= 0; off -= 4) h = h * 4294967296 + hashLE.readUInt32LE(off);
  return h === 0 ? Infinity : DIFF1_NUMBER / h;
}

/** A 256-bit integer as 32 little-endian bytes (the layout of a hash in internal order). */
export function targetToBufferLE(target: bigint): Buffer {
  if (target < 0n || target > MAX_TARGET) throw new RangeError("target out of range");
  const out = Buffer.alloc(32);
  let t = target;
  for (let off = 0; off < 32; off += 8) {
    out.writeBigUInt64LE(t & 0xffffffffffffffffn, off);
    t >>= 64n;
  }
  return out;
}

/** `hashLE ≤ targetLE`, both 32-byte little-endian integers. Allocation-free word comparison. */
export function hashMeetsTargetBuffer(hashLE: Buffer, targetLE: Buffer): boolean {
  for (let off = 28; off >= 0; off -= 4) {
    const h = hashLE.readUInt32LE(off);
    const t = targetLE.readUInt32LE(off);
    if (h !== t) return h < t;
  }
  return true;
}

// Tiny memo of the last targets converted to bytes: a share is checked against the same few
// targets (its job's share target, the network target) over and over. Pure: a value cache.
const TARGET_CACHE_SIZE = 4;
const cachedTargets: bigint[] = [];
const cachedBuffers: Buffer[] = [];
let cacheNext = 0;

function targetBuffer(target: bigint): Buffer {
  for (let i = 0; i < cachedTargets.length; i++) if (cachedTargets[i] === target) return cachedBuffers[i];
  const buf = targetToBufferLE(target);
  cachedTargets[cacheNext] = target;
  cachedBuffers[cacheNext] = buf;
  cacheNext = (cacheNext + 1) % TARGET_CACHE_SIZE;
  return buf;
}

/**
 * Proof-of-work check: the hash, read as a little-endian 256-bit integer, is ≤ `target`
 * (Bitcoin Core `CheckProofOfWork` uses `>` to reject). Allocation-free for recently seen targets.
 */
export function hashMeetsTarget(hashLE: Buffer, target: bigint): boolean {
  if (hashLE.length !== 32) throw new RangeError("hash must be 32 bytes");
  if (target < 0n) return false;
  if (target >= MAX_TARGET) return true;
  return hashMeetsTargetBuffer(hashLE, targetBuffer(target));
}

/** A 256-bit little-endian hash as a bigint (for tests and logs, not the hot path). */
export function hashToBigInt(hashLE: Buffer): bigint {
  return BigInt("0x" + (Buffer.from(hashLE).reverse().toString("hex") || "0"));
}

function decomposeDouble(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent: number;
  if (biased === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  return { mantissa, exponent };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
