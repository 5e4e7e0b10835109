/**
 * Slim templates: what a Stratum worker process needs to mine a template, without its transactions.
 *
 * The primary process prepares each node template once ({@link prepareTemplate}) and pushes the workers
 * a {@link SlimTemplate}: the header fields, the coinbase value and its extra output (the witness
 * commitment), the merkle branch it already computed, the transaction count and the template's id (the
 * primary's template seq). A worker makes a {@link TemplateWork} of it with no transaction data
 * ({@link prepareSlimTemplate}); a block found on it goes back to the primary as header + coinbase + id
 * ({@link SlimBlock}), and the primary assembles the full block with its own copy of that template's
 * transactions ({@link RetainedTemplates}, {@link assembleSlimBlock}).
 * Pure code.
 */
import { prepareTemplate, TemplateError, type GbtTemplate, type TemplateWork } from "./template.ts";
import { merkleRootFromBranch } from "../bitcoin/merkle.ts";
import { coinbaseTxWithWitness } from "../bitcoin/coinbase.ts";
import { serializeBlock } from "../bitcoin/block.ts";
import { reverseBytes, sha256d } from "../bitcoin/hash.ts";

/** The slim push (JSON): getblocktemplate's field names where there is one. */
export interface SlimTemplate {
  /** The primary's template seq: names the template when a block found on it comes back. */
  templateid: number;
  version: number;
  previousblockhash: string;
  bits: string;
  curtime: number;
  height: number;
  coinbasevalue: number;
  default_witness_commitment?: string;
  /** The coinbase's merkle branch, little-endian hex, bottom up (as mining.notify carries it). */
  merklebranch: string[];
  /** Transactions in the template besides the coinbase. */
  txcount: number;
}

/** A TemplateWork made from a slim push: no transaction data; blocks on it are assembled by the primary. */
export type RemoteTemplateWork = TemplateWork & { readonly remoteTemplateId: number };

/** A block found on a slim template, as a worker sends it to the primary. */
export interface SlimBlock {
  templateId: number;
  /** The 80-byte header, hex. */
  headerHex: string;
  /** The coinbase without witness (txid form), hex. */
  coinbaseHex: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The slim push of a prepared template. */
export function slimTemplateOf(t: TemplateWork): SlimTemplate {
  const slim: SlimTemplate = {
    templateid: t.seq,
    version: t.version,
    previousblockhash: t.prevhashHex,
    bits: t.nbitsHex,
    curtime: t.curtime,
    height: t.height,
    coinbasevalue: Number(t.coinbaseValueSats),
    merklebranch: [...t.merkleBranchHex],
    txcount: t.txCount,
  };
  if (t.witnessCommitmentScript) slim.default_witness_commitment = t.witnessCommitmentScript.toString("hex");
  return slim;
}

/** Whether a pushed template object is a slim one. */
export function isSlimTemplate(o: object): o is SlimTemplate {
  return "merklebranch" in o && !("transactions" in o);
}

/** Levels of the coinbase's merkle branch in a block of `txCount` + 1 transactions. */
export function branchLevels(txCount: number): number {
  return txCount === 0 ? 0 : Math.ceil(Math.log2(txCount + 1));
}

/** Prepares a slim push like {@link prepareTemplate} (same checks on the shared fields). Throws TemplateError. */
export function prepareSlimTemplate(slim: SlimTemplate, opts: { seq: number; versionMask: number; source: string; nowMs: number }): RemoteTemplateWork {
  if (!Number.isInteger(slim.templateid)) throw new TemplateError("templateid must be an integer");
  if (!Number.isInteger(slim.txcount) || slim.txcount < 0) throw new TemplateError("txcount must be a non-negative integer");
  if (!Array.isArray(slim.merklebranch) || slim.merklebranch.length !== branchLevels(slim.txcount)) throw new TemplateError(`merklebranch must have ${branchLevels(slim.txcount)} entries for ${slim.txcount} transactions`);
  for (const [i, h] of slim.merklebranch.entries()) if (typeof h !== "string" || !HEX64.test(h)) throw new TemplateError(`merklebranch[${i}] must be 64 lowercase hex digits`);
  const { merklebranch, txcount, templateid, ...fields } = slim;
  const base = prepareTemplate({ ...(fields as Omit<GbtTemplate, "transactions">), transactions: [] }, opts);
  return { ...base, merkleBranchLE: merklebranch.map((h) => Buffer.from(h, "hex")), merkleBranchHex: merklebranch, txCount: txcount, remoteTemplateId: templateid };
}

/** The primary's template id a worker's template came from, or null for a template with its transactions. */
export function remoteTemplateIdOf(t: TemplateWork): number | null {
  const id = (t as Partial<RemoteTemplateWork>).remoteTemplateId;
  return typeof id === "number" ? id : null;
}

/**
 * Assembles the full block of a worker's {@link SlimBlock} from the primary's own copy of the template.
 * Throws TemplateError when the header does not commit to this template (other parent, other merkle root).
 */
export function assembleSlimBlock(t: TemplateWork, b: SlimBlock): { blockHex: string; hashHex: string } {
  const header = Buffer.from(b.headerHex, "hex");
  const coinbase = Buffer.from(b.coinbaseHex, "hex");
  if (header.length !== 80 || b.headerHex.length !== 160) throw new TemplateError("header must be 80 bytes");
  if (coinbase.length === 0 || coinbase.length * 2 !== b.coinbaseHex.length) throw new TemplateError("coinbase must be hex");
  if (!header.subarray(4, 36).equals(t.prevhashLE)) throw new TemplateError(`header's previous block is not template ${t.seq}'s`);
  const root = merkleRootFromBranch(sha256d(coinbase), t.merkleBranchLE);
  if (!header.subarray(36, 68).equals(root)) throw new TemplateError(`header's merkle root does not match template ${t.seq} with this coinbase`);
  const cb = t.witnessCommitmentScript ? coinbaseTxWithWitness(coinbase) : coinbase;
  return { blockHex: serializeBlock(header, cb, t.txDataHex as string[]), hashHex: reverseBytes(sha256d(header)).toString("hex") };
}

/**
 * The primary's templates by seq, kept while a worker may still hold a job on them: the current one,
 * and each replaced one for `keepMs` after it was replaced (a job lives at most job_expiry from its making,
 * which is no later than the replacement; a previous block's jobs less).
 */
export class RetainedTemplates {
  private readonly byId = new Map<number, { t: TemplateWork; replacedAtMs: number | null }>();
  private current: number | null = null;

  constructor(private readonly keepMs: number) {}

  add(t: TemplateWork, nowMs: number): void {
    if (this.current !== null) {
      const prev = this.byId.get(this.current);
      if (prev) prev.replacedAtMs = nowMs;
    }
    this.byId.set(t.seq, { t, replacedAtMs: null });
    this.current = t.seq;
    for (const [id, e] of this.byId) if (e.replacedAtMs !== null && nowMs - e.replacedAtMs > this.keepMs) this.byId.delete(id);
  }

  get(id: number): TemplateWork | null {
    return this.byId.get(id)?.t ?? null;
  }

  get size(): number {
    return this.byId.size;
  }
}
