/**
 * SHA-256 primitives and byte-order helpers.
 *
 * `sha256d` runs once per submitted share (header hash), so it uses the one-shot `crypto.hash`
 * (Node >= 20.12 / 21.7) when available: it skips the Hash object allocation of `createHash`
 * (~20% faster on an 80-byte header here). Falls back to `createHash` on older runtimes.
 */
import * as crypto from "node:crypto";

type OneShotHash = (algorithm: string, data: Buffer, outputEncoding: "buffer") => Buffer;

const oneShot: OneShotHash | undefined =
  typeof (crypto as { hash?: unknown }).hash === "function" ? (crypto.hash as OneShotHash) : undefined;

/** SHA-256 of `buf` (32 bytes). */
export const sha256: (buf: Buffer) => Buffer = oneShot
  ? (buf) => oneShot("sha256", buf, "buffer")
  : (buf) => crypto.createHash("sha256").update(buf).digest();

/** Double SHA-256 (`SHA256(SHA256(buf))`), Bitcoin's hash for headers, txids and merkle nodes. */
export function sha256d(buf: Buffer): Buffer {
  return sha256(sha256(buf));
}

/** A reversed copy of `buf` (internal <-> display byte order). Does not modify `buf`. */
export function reverseBytes(buf: Buffer): Buffer {
  return Buffer.from(buf).reverse();
}

/**
 * Reverse the byte order of a hex string: display hex (RPC `hash`, `txid`) <-> internal-order hex.
 * Throws `TypeError` on an odd length or non-hex characters.
 */
export function reverseHex(hex: string): string {
  return reverseBytes(hexToBuffer(hex)).toString("hex");
}

/** Strict hex decode: `Buffer.from(hex, "hex")` silently stops at the first bad character. */
export function hexToBuffer(hex: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(`not an even-length hex string: ${hex.slice(0, 80)}`);
  }
  return Buffer.from(hex, "hex");
}
