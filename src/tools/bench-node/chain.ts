/**
 * The bench node's state and RPC methods: a fake mainnet tip that advances on demand, serving one recorded
 * template (bench/fixtures) re-pointed at the current tip. Pure: the clock is injected; no sockets.
 * Answers follow Bitcoin Core's shapes and error codes (src/rpc/protocol.h) for the methods pools call.
 */
import { decodeAddress } from "../../core/bitcoin/address.ts";
import { nbitsToDifficulty } from "../../core/bitcoin/difficulty.ts";
import { AddressError } from "../../core/bitcoin/errors.ts";
import { fakeBlockHash, type GbtTemplate, type TemplateFixture } from "./template-gen.ts";

/** Bitcoin Core RPC error codes used here. */
export const RPC_MISC_ERROR = -1;
export const RPC_INVALID_PARAMETER = -8;
export const RPC_INVALID_ADDRESS_OR_KEY = -5;
export const RPC_METHOD_NOT_FOUND = -32601;

/** A JSON-RPC error with Core's code. */
export class RpcMethodError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface BlockInfo {
  hash: string;
  height: number;
  prev: string;
  time: number;
}

/** Options for {@link BenchChain}. */
export interface BenchChainOptions {
  fixture: TemplateFixture;
  /** Seconds since the epoch. */
  nowSec: () => number;
  /** What submitblock answers: a BIP22 reason string, or null (= accepted). Default "rejected". */
  submitBlockResult?: string | null;
  /** Blocks kept for inspection (the count is always exact). Default 100. */
  keepSubmitted?: number;
}

/** Fake chain state behind the bench node's RPC. */
export class BenchChain {
  private readonly template: GbtTemplate;
  private readonly blocks = new Map<string, BlockInfo>();
  private readonly byHeight = new Map<number, string>();
  private tipHash: string;
  private tipHeight: number;
  /** Hex of the most recent submitblock calls. */
  readonly submitted: string[] = [];
  submittedCount = 0;
  gbtCalls = 0;
  /** Tip advances so far. */
  advances = 0;

  constructor(private readonly opts: BenchChainOptions) {
    this.template = opts.fixture.template;
    this.tipHash = this.template.previousblockhash;
    this.tipHeight = this.template.height - 1;
    this.addBlock({ hash: this.tipHash, height: this.tipHeight, prev: fakeBlockHash(`${this.tipHeight - 1}`), time: this.template.curtime - 600 });
  }

  /** Current tip (display hex). */
  get bestBlockHash(): string {
    return this.tipHash;
  }

  get height(): number {
    return this.tipHeight;
  }

  /** Long-poll id of the current template (changes with the tip). */
  get longpollid(): string {
    return `${this.tipHash}${this.template.transactions.length}`;
  }

  /** Advances the tip by one fake block; returns its hash. */
  advance(): string {
    const height = this.tipHeight + 1;
    this.advances++;
    const hash = fakeBlockHash(`${height}/${this.opts.fixture.generator.seed}/${this.advances}`);
    this.addBlock({ hash, height, prev: this.tipHash, time: this.opts.nowSec() });
    this.tipHash = hash;
    this.tipHeight = height;
    return hash;
  }

  private addBlock(b: BlockInfo): void {
    this.blocks.set(b.hash, b);
    this.byHeight.set(b.height, b.hash);
  }

  /** getblocktemplate result for the current tip. */
  blockTemplate(): GbtTemplate {
    this.gbtCalls++;
    const tip = this.blocks.get(this.tipHash)!;
    const curtime = Math.max(this.opts.nowSec(), tip.time + 1);
    return {
      ...this.template,
      previousblockhash: this.tipHash,
      height: this.tipHeight + 1,
      curtime,
      mintime: tip.time + 1,
      longpollid: this.longpollid,
    };
  }

  /** Handles one RPC call; throws {@link RpcMethodError} like Core would. */
  call(method: string, params: unknown[]): unknown {
    switch (method) {
      case "getblocktemplate": {
        const req = (params[0] ?? {}) as { rules?: unknown };
        if (!Array.isArray(req.rules) || !req.rules.includes("segwit")) {
          throw new RpcMethodError(RPC_INVALID_PARAMETER, 'getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})');
        }
        return this.blockTemplate();
      }
      case "submitblock": {
        if (typeof params[0] !== "string") throw new RpcMethodError(RPC_INVALID_PARAMETER, "submitblock: block hex required");
        this.submittedCount++;
        this.submitted.push(params[0]);
        if (this.submitted.length > (this.opts.keepSubmitted ?? 100)) this.submitted.shift();
        return this.opts.submitBlockResult === undefined ? "rejected" : this.opts.submitBlockResult;
      }
      case "getbestblockhash":
        return this.tipHash;
      case "getblockcount":
        return this.tipHeight;
      case "getdifficulty":
        return this.difficulty();
      case "getblockchaininfo": {
        const tip = this.blocks.get(this.tipHash)!;
        return {
          chain: "main",
          blocks: this.tipHeight,
          headers: this.tipHeight,
          bestblockhash: this.tipHash,
          difficulty: this.difficulty(),
          time: tip.time,
          mediantime: tip.time - 3000,
          verificationprogress: 1,
          initialblockdownload: false,
          chainwork: "0000000000000000000000000000000000000000a0000000000000000000000",
          size_on_disk: 700_000_000_000,
          pruned: false,
          warnings: [],
        };
      }
      case "getmininginfo":
        return { blocks: this.tipHeight, difficulty: this.difficulty(), networkhashps: 9e20, pooledtx: this.template.transactions.length, chain: "main", warnings: [] };
      case "getnetworkinfo":
        return { version: 270000, subversion: "/Satoshi:27.0.0(tbg-bench-node)/", protocolversion: 70016, connections: 10, networkactive: true, relayfee: 0.00001, warnings: "" };
      case "getblockhash": {
        const h = params[0];
        if (typeof h !== "number" || !Number.isInteger(h) || h < 0 || h > this.tipHeight) throw new RpcMethodError(RPC_INVALID_PARAMETER, "Block height out of range");
        return this.byHeight.get(h) ?? fakeBlockHash(`${h}`);
      }
      case "getblockheader": {
        const b = typeof params[0] === "string" ? this.blocks.get(params[0]) : undefined;
        if (!b) throw new RpcMethodError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found");
        const next = this.byHeight.get(b.height + 1);
        return {
          hash: b.hash,
          confirmations: this.byHeight.get(b.height) === b.hash ? this.tipHeight - b.height + 1 : -1,
          height: b.height,
          version: this.template.version,
          merkleroot: fakeBlockHash(`merkle/${b.hash}`),
          time: b.time,
          mediantime: b.time - 3000,
          nonce: 0,
          bits: this.template.bits,
          difficulty: this.difficulty(),
          previousblockhash: b.prev,
          ...(next ? { nextblockhash: next } : {}),
        };
      }
      case "validateaddress":
        return validateAddress(params[0]);
      case "preciousblock":
      case "ping":
        return null;
      default:
        throw new RpcMethodError(RPC_METHOD_NOT_FOUND, "Method not found");
    }
  }

  private difficulty(): number {
    return nbitsToDifficulty(parseInt(this.template.bits, 16));
  }
}

/** validateaddress for mainnet, in Core's result shape. */
export function validateAddress(address: unknown): Record<string, unknown> {
  if (typeof address !== "string") throw new RpcMethodError(RPC_INVALID_PARAMETER, "address must be a string");
  try {
    const d = decodeAddress(address, "mainnet");
    const out: Record<string, unknown> = {
      isvalid: true,
      address,
      scriptPubKey: d.script.toString("hex"),
      isscript: d.type === "p2sh" || d.type === "p2wsh" || d.type === "p2tr",
      iswitness: d.type === "p2wpkh" || d.type === "p2wsh" || d.type === "p2tr",
    };
    if (out.iswitness) {
      out.witness_version = d.type === "p2tr" ? 1 : 0;
      out.witness_program = d.script.subarray(2).toString("hex");
    }
    return out;
  } catch (err) {
    if (err instanceof AddressError) return { isvalid: false, error: err.message };
    throw err;
  }
}
