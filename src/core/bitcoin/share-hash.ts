/**
 * The share hash in one call: coinbase = coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 → double SHA-256
 * (its txid) → up the Stratum merkle branch → the merkle root written into the 80-byte header → the
 * header's double SHA-256.
 *
 * Two implementations of the same function:
 *   - native: the small Node-API addon in native/ (built by `npm install` / `npm ci` through
 *     scripts/build-native.mjs), SHA-256 with the CPU's SHA extensions where it has them, portable C
 *     otherwise; no Buffer is allocated and the coinbase is hashed in place (about 0.3 µs for the
 *     header, against ~2 µs for `crypto.hash`, and ~1 µs for a 12-level branch against ~10-18 µs);
 *   - JavaScript: node:crypto for the coinbase and the header, `sha256dPair` for the branch. Used when
 *     the addon is not built (a failed build only warns) or when `TBG_NATIVE=0` is set.
 * test/bitcoin/share-hash.test.ts checks that both give the same bytes on random inputs.
 */
import { createRequire } from "node:module";
import { sha256d, sha256dPair } from "./hash.ts";

/**
 * Writes the merkle root into `header` (bytes 36..67; every other field already written) and the
 * header's double SHA-256 into `out` (bytes 0..31). `branch` is the branch hashes concatenated, 32 bytes
 * each, internal byte order (see {@link concatBranch}).
 */
export type ShareHashFn = (coinb1: Buffer, en1: Buffer, en2: Buffer, coinb2: Buffer, branch: Buffer, header: Buffer, out: Buffer) => void;

interface NativeAddon {
  shareHash: ShareHashFn;
  sha256d(data: Buffer, out: Buffer): void;
  impl: string;
}

/** The JavaScript implementation (the fallback; also what the native one is tested against). */
export const jsShareHash: ShareHashFn = (coinb1, en1, en2, coinb2, branch, header, out) => {
  if (branch.length % 32 !== 0 || header.length !== 80 || out.length < 32) throw new RangeError("shareHash: branch must be 32-byte hashes, header 80 bytes, out at least 32");
  let root = sha256d(Buffer.concat([coinb1, en1, en2, coinb2]));
  for (let off = 0; off < branch.length; off += 32) root = sha256dPair(root, branch.subarray(off, off + 32));
  root.copy(header, 36);
  sha256d(header).copy(out, 0);
};

function loadNative(): NativeAddon | null {
  if (process.env.TBG_NATIVE === "0") return null;
  try {
    const require = createRequire(import.meta.url);
    const addon = require("../../../native/build/Release/tbg_sharehash.node") as NativeAddon;
    return typeof addon.shareHash === "function" ? addon : null;
  } catch {
    return null;
  }
}

const native = loadNative();

/** The share hash this process uses: the addon's when it loaded, else {@link jsShareHash}. */
export const shareHash: ShareHashFn = native ? native.shareHash : jsShareHash;

/** Which implementation {@link shareHash} is: "sha-ni" or "portable" (the addon), or "js". */
export const shareHashImpl: string = native ? native.impl : "js";

/** The addon's functions, or null when it is not loaded (for tests and benchmarks). */
export const nativeShareHash: NativeAddon | null = native;

const concatenated = new WeakMap<readonly Buffer[], Buffer>();

/** A merkle branch as one Buffer (32 bytes per level), made once per branch array and kept with it. */
export function concatBranch(branch: readonly Buffer[]): Buffer {
  let b = concatenated.get(branch);
  if (!b) {
    b = Buffer.concat(branch as Buffer[]);
    concatenated.set(branch, b);
  }
  return b;
}
