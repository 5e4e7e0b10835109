/**
 * The bench node's state and RPC methods: a fake mainnet tip that advances on demand, serving one recorded
 * template (bench/fixtures) re-pointed at the current tip. Pure: the clock is injected; no sockets.
 * Answers follow Bitcoin Core's shapes and error codes (src/rpc/protocol.h) for the methods pools call.
 */
import { decodeAddress } from "../../core/bitcoin/address.ts";
import { nbitsToDifficulty } from "../../core/bitcoin/difficulty.ts";
import { AddressError } from "../../core/bitcoin/errors.ts";
import { blockSubsidySats, fakeBlockHash, type GbtTemplate, type TemplateFixture } from "./template-gen.ts";
import { decodeRawTransaction, emptyBlock, TxDecodeError } from "./raw.ts";

/** Bitcoin Core RPC error codes used here. */
export const RPC_MISC_ERROR = -1;
export const RPC_INVALID_PARAMETER = -8;
export const RPC_INVALID_ADDRESS_OR_KEY = -5;
export const RPC_DESERIALIZATION_ERROR = -22;
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
  /** Serialized block (blocks made by {@link BenchChain.advance}; the fixture's tip has none). */
  raw?: Buffer;
  merkleroot?: string;
  txids?: string[];
}

/**
 * Argument names of the methods, in order, as Bitcoin Core declares them: JSON-RPC named parameters
 * (`"params": {"template_request": {…}}`, which public-pool's client sends) map onto these.
 */
export const RPC_ARG_NAMES: Readonly<Record<string, readonly string[]>> = {
  getblocktemplate: ["template_request"],
  submitblock: ["hexdata", "dummy"],
  getblockhash: ["height"],
  getblockheader: ["blockhash", "verbose"],
  getblock: ["blockhash", "verbosity"],
  getrawtransaction: ["txid", "verbose", "blockhash"],
  decoderawtransaction: ["hexstring", "iswitness"],
  validateaddress: ["address"],
  preciousblock: ["blockhash"],
  getbestblockhash: [],
  getblockcount: [],
  getdifficulty: [],
  getblockchaininfo: [],
  getmininginfo: [],
  getnetworkinfo: [],
  getmempoolinfo: [],
  getconnectioncount: [],
  getrpcinfo: [],
  uptime: [],
  ping: [],
  bench_newblock: [],
  bench_stats: [],
};

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
  /** RPC calls answered, by method (shows how a pool under test learns of blocks: polls or ZMQ). */
  readonly calls: Record<string, number> = {};

  private readonly startedSec: number;
  private txByIdCache: Map<string, { data: string }> | undefined;

  constructor(private readonly opts: BenchChainOptions) {
    this.startedSec = opts.nowSec();
    this.template = opts.fixture.template;
    this.tipHash = this.template.previousblockhash;
    this.tipHeight = this.template.height - 1;
    this.addBlock({ hash: this.tipHash, height: this.tipHeight, prev: fakeBlockHash(`${this.tipHeight - 1}`), time: this.template.curtime - 600 });
  }

  /** The template's transactions by txid (getrawtransaction: they are the "mempool"). */
  private get txById(): Map<string, { data: string }> {
    this.txByIdCache ??= new Map(this.template.transactions.map((t) => [t.txid, t]));
    return this.txByIdCache;
  }

  /** Transactions in the served template. */
  get templateTxCount(): number {
    return this.template.transactions.length;
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

  /**
   * Advances the tip by one block: an empty block (coinbase only) on the current tip, whose hash is its
   * header's, so `hashblock`, `rawblock` and `getblock` agree. Returns its hash.
   */
  advance(): string {
    const height = this.tipHeight + 1;
    this.advances++;
    const tip = this.blocks.get(this.tipHash)!;
    const time = Math.max(this.opts.nowSec(), tip.time + 1);
    const b = emptyBlock({ version: this.template.version, prevHash: this.tipHash, time, bits: this.template.bits, height, nonce: this.advances, valueSats: blockSubsidySats(height) });
    this.addBlock({ hash: b.hash, height, prev: this.tipHash, time, raw: b.raw, merkleroot: b.coinbaseTxid, txids: [b.coinbaseTxid] });
    this.tipHash = b.hash;
    this.tipHeight = height;
    return b.hash;
  }

  /** The serialized tip block (for ZMQ `rawblock`); undefined before the first {@link advance}. */
  get tipRaw(): Buffer | undefined {
    return this.blocks.get(this.tipHash)?.raw;
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
    this.calls[method] = (this.calls[method] ?? 0) + 1;
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
          merkleroot: b.merkleroot ?? fakeBlockHash(`merkle/${b.hash}`),
          time: b.time,
          mediantime: b.time - 3000,
          nonce: 0,
          bits: this.template.bits,
          difficulty: this.difficulty(),
          previousblockhash: b.prev,
          ...(next ? { nextblockhash: next } : {}),
        };
      }
      case "getblock": {
        const b = typeof params[0] === "string" ? this.blocks.get(params[0]) : undefined;
        if (!b) throw new RpcMethodError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found");
        if (!b.raw) throw new RpcMethodError(RPC_MISC_ERROR, "Block not available (pruned data)");
        const verbosity = params[1] === undefined || params[1] === null ? 1 : params[1] === true ? 1 : params[1] === false ? 0 : params[1];
        if (verbosity === 0) return b.raw.toString("hex");
        const header = this.call("getblockheader", [b.hash]) as Record<string, unknown>;
        return { ...header, size: b.raw.length, strippedsize: b.raw.length, weight: b.raw.length * 4, nTx: b.txids!.length, tx: b.txids };
      }
      case "getrawtransaction": {
        const tx = typeof params[0] === "string" ? this.txById.get(params[0]) : undefined;
        if (!tx) throw new RpcMethodError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries.");
        return params[1] === true || (typeof params[1] === "number" && params[1] > 0) ? { ...decodeRawTransaction(tx.data), hex: tx.data } : tx.data;
      }
      case "decoderawtransaction":
        try {
          return decodeRawTransaction(params[0]);
        } catch (err) {
          if (err instanceof TxDecodeError) throw new RpcMethodError(RPC_DESERIALIZATION_ERROR, err.message);
          throw err;
        }
      case "getmempoolinfo": {
        const bytes = this.template.transactions.reduce((n, t) => n + t.data.length / 2, 0);
        return { loaded: true, size: this.template.transactions.length, bytes, usage: bytes * 2, total_fee: 0, maxmempool: 300_000_000, mempoolminfee: 0.00001, minrelaytxfee: 0.00001, incrementalrelayfee: 0.00001, unbroadcastcount: 0, fullrbf: true };
      }
      case "getconnectioncount":
        return 10;
      case "uptime":
        return Math.max(0, this.opts.nowSec() - this.startedSec);
      case "getrpcinfo":
        return { active_commands: [{ method: "getrpcinfo", duration: 0 }], logpath: "/dev/null/debug.log" };
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
