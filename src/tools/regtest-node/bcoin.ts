/**
 * Typed access to the parts of bcoin 1.0.2 (CommonJS, no type declarations) the embedded node uses.
 * Only what is listed here is used; everything else about bcoin stays behind this file.
 *
 * Hash conventions in bcoin 1.0.2: `hash` / `hash('hex')` are *internal* byte order hex strings,
 * `rhash()` and `txid()` / `wtxid()` are display (RPC) order.
 */
import { createRequire } from "node:module";

/**
 * bcoin's event emitters (bevent AsyncEmitter, and node's EventEmitter for some objects):
 * only `on` and `removeListener` exist on both (AsyncEmitter has no `off`).
 */
export interface BcoinEmitter {
  on(event: string, listener: (...args: never[]) => unknown): unknown;
  removeListener(event: string, listener: (...args: never[]) => unknown): unknown;
}

/** A block index entry. */
export interface BcoinChainEntry {
  /** Internal byte order hex. */
  hash: string;
  height: number;
  time: number;
  nonce: number;
  /** Display byte order hex. */
  rhash(): string;
}

export interface BcoinTX {
  /** Display order txid. */
  txid(): string;
  /** Display order wtxid. */
  wtxid(): string;
  /** Internal order hex when enc is "hex". */
  hash(enc: "hex"): string;
  hasWitness(): boolean;
  outputs: Array<{ value: number }>;
}

export interface BcoinBlock {
  txs: BcoinTX[];
  rhash(): string;
  hash(enc: "hex"): string;
}

/** bcoin's BIP9 deployment description (protocol/networks.js). */
export interface BcoinDeployment {
  name: string;
  bit: number;
}

export interface BcoinChain extends BcoinEmitter {
  tip: BcoinChainEntry;
  height: number;
  synced: boolean;
  add(block: BcoinBlock): Promise<BcoinChainEntry | null>;
  getState(prev: BcoinChainEntry, deployment: BcoinDeployment): Promise<number>;
  /** Hash at `height` on the main chain, internal order hex, or null. */
  getHash(height: number): Promise<string | null>;
  /** Entry by internal order hex hash, or null. */
  getEntry(hashHex: string): Promise<BcoinChainEntry | null>;
  getCoin(hashHex: string, index: number): Promise<BcoinCoin | null>;
}

export interface BcoinMempool extends BcoinEmitter {
  addTX(tx: BcoinTX): Promise<unknown>;
  map: Map<string, unknown>;
}

export interface BcoinMiner {
  mineBlock(tip: BcoinChainEntry | null, address: BcoinAddress): Promise<BcoinBlock>;
}

export interface BcoinPool extends BcoinEmitter {
  server: { address(): { port: number } };
  peers: { size(): number };
  discoverExternal(): Promise<void>;
  discoverGateway(): Promise<void>;
}

export interface BcoinRpc extends BcoinEmitter {
  /** bweb JSON-RPC entry: takes the parsed request body (object or batch array), returns the reply object(s). */
  call(body: unknown, query: Record<string, unknown>): Promise<unknown>;
  /** Drops the cached block template (bcoin keeps one for 10 s while the mempool changes). */
  refreshBlock(): void;
}

export interface BcoinFullNode extends BcoinEmitter {
  chain: BcoinChain;
  mempool: BcoinMempool;
  miner: BcoinMiner;
  pool: BcoinPool;
  rpc: BcoinRpc;
  http: { open(): Promise<void>; close(): Promise<void> };
  /** Creates the data directory (`prefix`); bcoin's open() does not. */
  ensure(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
  connect(): Promise<void>;
  startSync(): void;
}

export interface BcoinAddress {
  toString(network: string): string;
  isNull(): boolean;
  type: number;
  version: number;
  hash: Buffer;
}

export interface BcoinKeyRing {
  witness: boolean;
  getAddress(): BcoinAddress;
}

export interface BcoinCoin {
  value: number;
  height: number;
}

export interface BcoinMTX {
  addCoin(coin: BcoinCoin): void;
  addOutput(address: BcoinAddress, value: number): void;
  sign(ring: BcoinKeyRing): number;
  toTX(): BcoinTX;
}

export interface BcoinScript {
  toJSON(): string;
}

/** bcoin.Network instance fields the regtest configuration changes (protocol/network.js). */
export interface BcoinNetwork {
  type: string;
  block: { bip34height: number; bip65height: number; bip66height: number };
  addressPrefix: Record<string, number | string>;
  keyPrefix: Record<string, number | string>;
  deployments: Record<string, BcoinDeployment>;
}

/** The bcoin module surface used here. */
export interface BcoinModule {
  FullNode: new (options: Record<string, unknown>) => BcoinFullNode;
  Network: { get(type: string): BcoinNetwork };
  KeyRing: { generate(compressed?: boolean): BcoinKeyRing };
  MTX: new () => BcoinMTX;
  Coin: { fromTX(tx: BcoinTX, index: number, height: number): BcoinCoin };
  Address: { fromString(addr: string, network: string): BcoinAddress; types: Record<string, number> };
  Script: { fromAddress(addr: BcoinAddress): BcoinScript };
}

const require = createRequire(import.meta.url);

/** Loads bcoin (CommonJS) lazily so importing this module costs nothing until a node is started. */
export function loadBcoin(): BcoinModule {
  return require("bcoin") as BcoinModule;
}

/** bcoin's BIP9 threshold states (lib/blockchain/common.js `thresholdStates`). */
export function loadThresholdStates(): { DEFINED: number; STARTED: number; LOCKED_IN: number; ACTIVE: number; FAILED: number } {
  return (require("bcoin/lib/blockchain/common") as { thresholdStates: ReturnType<typeof loadThresholdStates> }).thresholdStates;
}
