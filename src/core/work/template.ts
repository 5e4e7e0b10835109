/**
 * A block template (from getblocktemplate) prepared once for mining: everything a share needs
 * that does not depend on the miner is computed here, once per template — the merkle branch above all,
 * so a share's cost never grows with the number of transactions.
 * Pure code.
 */
import { merkleBranch } from "../bitcoin/merkle.ts";
import { prevhashDisplayToLE, prevhashToStratum } from "../bitcoin/header.ts";
import { nbitsToTarget, nbitsToDifficulty, targetToBufferLE } from "../bitcoin/difficulty.ts";
import { u32hex } from "../../util/hex.ts";
import { TbgError } from "../../util/errors.ts";

/** The getblocktemplate fields the engine uses (BIP22/BIP23/BIP145). */
export interface GbtTemplate {
  version: number;
  previousblockhash: string;
  transactions: Array<{ data: string; txid: string; hash?: string; fee?: number; weight?: number }>;
  coinbasevalue: number | bigint;
  bits: string;
  curtime: number;
  mintime?: number;
  height: number;
  default_witness_commitment?: string;
  rules?: string[];
}

export class TemplateError extends TbgError {
  constructor(message: string) {
    super("TEMPLATE_INVALID", message);
  }
}

export interface TemplateWork {
  /** Engine-local sequence number of this template. */
  readonly seq: number;
  readonly height: number;
  /** Previous block hash in display (RPC) order. */
  readonly prevhashHex: string;
  readonly prevhashLE: Buffer;
  /** prevhash as mining.notify carries it: the display hash with its eight 4-byte words reversed. */
  readonly prevhashStratum: string;
  /** Block version from the template. Bits inside the version-rolling mask are cleared. */
  readonly version: number;
  readonly nbits: number;
  readonly nbitsHex: string;
  /** Template time (s); a job's ntime starts here. */
  readonly curtime: number;
  readonly coinbaseValueSats: bigint;
  readonly merkleBranchLE: readonly Buffer[];
  readonly merkleBranchHex: readonly string[];
  readonly txDataHex: readonly string[];
  readonly txCount: number;
  /** BIP141 commitment output script (`6a24aa21a9ed…`), when the template has one. */
  readonly witnessCommitmentScript: Buffer | null;
  readonly networkTarget: bigint;
  /** networkTarget as 32 little-endian bytes, for allocation-free comparison on the share path. */
  readonly networkTargetLE: Buffer;
  readonly networkDifficulty: number;
  /** Which node served it. */
  readonly source: string;
  readonly receivedAtMs: number;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Prepares a template. Throws TemplateError (naming the field) on anything malformed, so a node
 * that returns garbage never produces work.
 */
export function prepareTemplate(gbt: GbtTemplate, opts: { seq: number; versionMask: number; source: string; nowMs: number }): TemplateWork {
  if (!HEX64.test(gbt.previousblockhash ?? "")) throw new TemplateError("previousblockhash must be 64 hex digits");
  if (!Number.isInteger(gbt.height) || gbt.height < 0) throw new TemplateError("height must be a non-negative integer");
  if (!/^[0-9a-fA-F]{8}$/.test(gbt.bits ?? "")) throw new TemplateError("bits must be 8 hex digits");
  if (!Number.isInteger(gbt.version)) throw new TemplateError("version must be an integer");
  if (!Number.isInteger(gbt.curtime) || gbt.curtime <= 0) throw new TemplateError("curtime must be a positive integer");
  if (!Array.isArray(gbt.transactions)) throw new TemplateError("transactions must be an array");
  const value = typeof gbt.coinbasevalue === "bigint" ? gbt.coinbasevalue : BigInt(Math.trunc(Number(gbt.coinbasevalue)));
  if (value < 0n || value > 21_000_000n * 100_000_000n) throw new TemplateError("coinbasevalue out of range");

  const txidsLE: Buffer[] = [];
  const txDataHex: string[] = [];
  for (let i = 0; i < gbt.transactions.length; i++) {
    const tx = gbt.transactions[i];
    // One decode checks the txid too: Buffer.from stops at the first pair that is not hex (no regex per tx).
    const txid = tx && typeof tx.txid === "string" && tx.txid.length === 64 ? Buffer.from(tx.txid, "hex") : null;
    if (!txid || txid.length !== 32) throw new TemplateError(`transactions[${i}].txid must be 64 hex digits`);
    if (typeof tx.data !== "string" || tx.data.length < 20 || tx.data.length % 2 !== 0) throw new TemplateError(`transactions[${i}].data must be hex`);
    txidsLE.push(txid.reverse());
    txDataHex.push(tx.data);
  }
  let witnessCommitmentScript: Buffer | null = null;
  if (gbt.default_witness_commitment !== undefined) {
    if (!/^6a24aa21a9ed[0-9a-fA-F]{64}$/.test(gbt.default_witness_commitment)) throw new TemplateError("default_witness_commitment is malformed");
    witnessCommitmentScript = Buffer.from(gbt.default_witness_commitment, "hex");
  }
  const branch = merkleBranch(txidsLE);
  const nbits = parseInt(gbt.bits, 16) >>> 0;
  const networkTarget = nbitsToTarget(nbits);
  return {
    seq: opts.seq,
    height: gbt.height,
    prevhashHex: gbt.previousblockhash.toLowerCase(),
    prevhashLE: prevhashDisplayToLE(gbt.previousblockhash),
    prevhashStratum: prevhashToStratum(gbt.previousblockhash.toLowerCase()),
    version: (gbt.version & ~opts.versionMask) >>> 0,
    nbits,
    nbitsHex: u32hex(nbits),
    curtime: gbt.curtime,
    coinbaseValueSats: value,
    merkleBranchLE: branch,
    merkleBranchHex: branch.map((b) => b.toString("hex")),
    txDataHex,
    txCount: txDataHex.length,
    witnessCommitmentScript,
    networkTarget,
    networkTargetLE: targetToBufferLE(networkTarget),
    networkDifficulty: nbitsToDifficulty(nbits),
    source: opts.source,
    receivedAtMs: opts.nowMs,
  };
}
