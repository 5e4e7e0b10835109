/**
 * Merkle trees as Bitcoin builds them (duplicate-last on odd levels), the Stratum merkle branch for
 * the coinbase, and the BIP141 witness commitment.
 *
 * All hashes are 32-byte Buffers in internal byte order (`...LE`). GBT `txid`/`hash` hex is display
 * order: reverse it first (`reverseHex` / `reverseBytes`).
 */
import { sha256d, sha256dPair } from "./hash.ts";

/** A merkle node: sha256d(left || right). JavaScript SHA-256 on preallocated arrays (see hash.ts). */
const hashPair = sha256dPair;

function nextLevel(level: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < level.length; i += 2) {
    // Bitcoin Core ComputeMerkleRoot: an odd last node is paired with itself.
    out.push(hashPair(level[i], level[i + 1] ?? level[i]));
  }
  return out;
}

/**
 * Merkle root of `hashesLE` (txids in block order, coinbase first). Throws on an empty list.
 * Note: like Bitcoin Core this does not detect the CVE-2012-2459 duplicate-subtree ambiguity;
 * we only build roots for templates bitcoind gave us.
 */
export function merkleRoot(hashesLE: Buffer[]): Buffer {
  if (hashesLE.length === 0) throw new RangeError("merkleRoot of an empty list");
  let level = hashesLE;
  while (level.length > 1) level = nextLevel(level);
  return Buffer.from(level[0]);
}

/**
 * The Stratum `mining.notify` merkle branch for a coinbase at position 0.
 *
 * `txidsLE` are the template's *other* transactions (not the coinbase) in template order, as
 * txids (not wtxids) in internal byte order. Computed once per template: a share then
 * costs `branch.length` hashes regardless of the transaction count.
 * Returns [] for a coinbase-only block (root = coinbase txid).
 */
export function merkleBranch(txidsLE: Buffer[]): Buffer[] {
  const branch: Buffer[] = [];
  // `level` holds the current tree level with a placeholder at index 0 for the coinbase path node;
  // we never need its value, only its siblings.
  let level: (Buffer | null)[] = [null, ...txidsLE];
  while (level.length > 1) {
    const sibling = level[1] as Buffer;
    branch.push(Buffer.from(sibling));
    const next: (Buffer | null)[] = [null];
    for (let i = 2; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      next.push(hashPair(left, (level[i + 1] ?? left) as Buffer));
    }
    level = next;
  }
  return branch;
}

/**
 * The merkle root from the coinbase txid and its Stratum branch: `root = sha256d(root || b_i)`
 * for each branch hash in order (the coinbase is always the left child).
 */
export function merkleRootFromBranch(coinbaseHashLE: Buffer, branch: readonly Buffer[]): Buffer {
  let root = coinbaseHashLE;
  if (branch.length === 0) return Buffer.from(root);
  // On the share path: sha256dPair skips crypto.hash's per-call overhead on the ~12 levels of a full block.
  for (const b of branch) root = sha256dPair(root, b);
  return root;
}

/** BIP141 commitment header: OP_RETURN, push 36, then the 4-byte tag 0xaa21a9ed. */
export const WITNESS_COMMITMENT_HEADER = Buffer.from("6a24aa21a9ed", "hex");

/** BIP141 witness reserved value used by this pool: 32 zero bytes (the coinbase's witness). */
export const WITNESS_RESERVED_VALUE = Buffer.alloc(32);

/**
 * BIP141 witness commitment hash: `sha256d(witnessRoot || reservedValue)`, where the witness root is
 * the merkle root over the block's wtxids with 32 zero bytes in place of the coinbase's wtxid.
 * `wtxidsLE` are the non-coinbase transactions' wtxids (GBT `hash`, reversed) in template order.
 */
export function witnessCommitment(wtxidsLE: Buffer[]): Buffer {
  const root = merkleRoot([Buffer.alloc(32), ...wtxidsLE]);
  return sha256d(Buffer.concat([root, WITNESS_RESERVED_VALUE]));
}

/** The 38-byte commitment output script `6a24aa21a9ed<commitment>` (BIP141). */
export function witnessCommitmentScript(commitment: Buffer): Buffer {
  if (commitment.length !== 32) throw new RangeError("witness commitment must be 32 bytes");
  return Buffer.concat([WITNESS_COMMITMENT_HEADER, commitment]);
}
