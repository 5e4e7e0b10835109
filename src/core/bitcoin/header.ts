/**
 * The 80-byte block header and the Stratum prevhash encoding.
 *
 * Header layout (all integers little-endian): version u32 | prevhash 32 | merkle root 32 |
 * time u32 | bits u32 | nonce u32. Hashes are in internal byte order.
 */
import { hexToBuffer } from "./hash.ts";

/** Size of a serialised block header in bytes. */
export const HEADER_SIZE = 80;

/** Header fields. Integers are uint32 values; hashes are 32 bytes in internal byte order. */
export interface HeaderFields {
  /** Block version as a uint32 (e.g. 0x20000000 | rolled bits). Signed input is accepted and wrapped. */
  version: number;
  /** Previous block hash, internal byte order (the reverse of RPC `previousblockhash`). */
  prevhashLE: Buffer;
  /** Merkle root, internal byte order (as `merkleRootFromBranch` returns it). */
  merkleRootLE: Buffer;
  /** Block time, seconds since the epoch (uint32). */
  ntime: number;
  /** Compact target (`bits`), e.g. 0x1d00ffff. */
  nbits: number;
  /** Nonce as a uint32. Stratum submits it as big-endian hex: parse it to a number first. */
  nonce: number;
}

/**
 * Write a header into `out` at `offset` without allocating (share-validation hot path).
 * Returns `out`.
 */
export function writeHeader(out: Buffer, fields: HeaderFields, offset = 0): Buffer {
  if (fields.prevhashLE.length !== 32 || fields.merkleRootLE.length !== 32) {
    throw new RangeError("prevhashLE and merkleRootLE must be 32 bytes");
  }
  out.writeUInt32LE(fields.version >>> 0, offset);
  fields.prevhashLE.copy(out, offset + 4);
  fields.merkleRootLE.copy(out, offset + 36);
  out.writeUInt32LE(fields.ntime >>> 0, offset + 68);
  out.writeUInt32LE(fields.nbits >>> 0, offset + 72);
  out.writeUInt32LE(fields.nonce >>> 0, offset + 76);
  return out;
}

/** Serialise a header into a new 80-byte Buffer. */
export function buildHeader(fields: HeaderFields): Buffer {
  return writeHeader(Buffer.allocUnsafe(HEADER_SIZE), fields);
}

/**
 * Stratum `mining.notify` prevhash from RPC display hex (`previousblockhash`): the eight 4-byte
 * words in reverse order, bytes inside each word unchanged. Equivalently:
 * internal byte order with each 4-byte word byte-swapped. That is why it *ends* in zeros.
 */
export function prevhashToStratum(prevhashDisplayHex: string): string {
  if (prevhashDisplayHex.length !== 64) throw new RangeError("prevhash must be 64 hex digits");
  hexToBuffer(prevhashDisplayHex); // validate hex
  let out = "";
  for (let w = 7; w >= 0; w--) out += prevhashDisplayHex.slice(w * 8, w * 8 + 8);
  return out.toLowerCase();
}

/** Inverse of `prevhashToStratum` (the word reversal is its own inverse). */
export function prevhashFromStratum(prevhashStratum: string): string {
  return prevhashToStratum(prevhashStratum);
}

/** Internal-order prevhash bytes (for `HeaderFields.prevhashLE`) from RPC display hex. */
export function prevhashDisplayToLE(prevhashDisplayHex: string): Buffer {
  if (prevhashDisplayHex.length !== 64) throw new RangeError("prevhash must be 64 hex digits");
  return hexToBuffer(prevhashDisplayHex).reverse();
}
