/**
 * The embedded regtest node for `tbg dev`, `tbg node` and the test suite: bcoin 1.0.2 (a real, independent
 * consensus implementation; pure JavaScript here) in regtest, made to look like Bitcoin Core to the pool:
 * bitcoind-compatible JSON-RPC over HTTP (./rpc-server.ts + ./bitcoind-compat.ts), Core-style regtest
 * addresses and soft forks (./regtest.ts), and a real ZMQ socket publishing `hashblock` in Core's format
 * whenever the tip changes (./zmq-publisher.ts).
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { TbgError } from "../../util/errors.ts";
import { loadBcoin, type BcoinAddress, type BcoinBlock, type BcoinChainEntry, type BcoinFullNode, type BcoinModule } from "./bcoin.ts";
import { bitcoindCompatHandler } from "./bitcoind-compat.ts";
import { activateSoftforksFromGenesis, configureRegtestNetwork } from "./regtest.ts";
import { JsonRpcHttpServer } from "./rpc-server.ts";
import { RegtestWallet } from "./wallet.ts";
import { HashblockPublisher } from "./zmq-publisher.ts";

/** Options of {@link startEmbeddedNode}. */
export interface EmbeddedNodeOptions {
  /** JSON-RPC port; 0 (default) picks a free one. */
  rpcPort?: number;
  /** Interface for RPC, ZMQ and P2P. Default "127.0.0.1". */
  rpcHost?: string;
  /** ZMQ PUB port; 0 (default) picks a free one. */
  zmqPort?: number;
  /** RPC user. Default "tbg". */
  user?: string;
  /** RPC password. Default: 32 random hex chars. */
  pass?: string;
  /** Keep the chain on disk (LevelDB under `${dataDir}/regtest/`) instead of in memory. */
  dataDir?: string;
  /** P2P peers to connect to, "host:port" (another embedded node's `127.0.0.1:${p2pPort}`). */
  peers?: string[];
  /** Accept inbound P2P connections. Default false. */
  listen?: boolean;
  /** P2P listen port when `listen`; default: a free port. */
  p2pPort?: number;
  /** bcoin's own log level on the console. Default "none". */
  logLevel?: "none" | "error" | "warning" | "info" | "debug";
  /** Errors bcoin reports asynchronously (peer misbehaviour, relay failures). Default: ignored. */
  onError?: (err: Error) => void;
}

/** A running embedded regtest node. */
export interface EmbeddedNode {
  /** `http://127.0.0.1:PORT` (no credentials). */
  readonly rpcUrl: string;
  readonly rpcUser: string;
  readonly rpcPass: string;
  /** `tcp://127.0.0.1:PORT`, publishing `hashblock`. */
  readonly zmqUrl: string;
  /** P2P listen port, or null when not listening. */
  readonly p2pPort: number | null;
  /** Bech32 (`bcrt1q…`) address of the node's own key; `mine()` pays it by default. */
  readonly address: string;
  /** Current tip height. */
  height(): number;
  /** Current tip hash, display byte order. */
  tipHash(): string;
  /** Mines `n` blocks (with the mempool's transactions) paying `address` (default: {@link address}); returns their hashes. */
  mine(n: number, address?: string): Promise<string[]>;
  /** Puts `count` independent P2WPKH-spending transactions (with witness data) in the mempool; returns their txids. */
  fundAndCreateSegwitTransactions(count: number): Promise<string[]>;
  /** Number of transactions in the mempool. */
  mempoolSize(): number;
  /** Number of connected P2P peers. */
  peerCount(): number;
  /** Resolves when the tip reaches `height` (ZMQ-independent; for P2P tests). */
  waitForHeight(height: number, timeoutMs?: number): Promise<void>;
  /** `hashblock` subscribe requests received so far (monotonic; reconnecting subscribers count again). */
  zmqSubscriptionCount(): number;
  /** Resolves when {@link zmqSubscriptionCount} reaches `count`: a subscriber is really subscribed. */
  waitForZmqSubscription(count: number, timeoutMs?: number): Promise<void>;
  /** Closes the ZMQ socket (a dead publisher); tips are not announced until {@link reopenZmq}. */
  closeZmq(): Promise<void>;
  /** Re-binds the ZMQ socket on the same port; `resetSequence` restarts the sequence at 0 like a restarted bitcoind. */
  reopenZmq(opts?: { resetSequence?: boolean }): Promise<void>;
  /** Stops the RPC server (refusing connections, dropping keep-alive ones). */
  stopRpc(): Promise<void>;
  /** Starts the RPC server again on the same port. */
  startRpc(): Promise<void>;
  /** Stops everything. Idempotent. */
  close(): Promise<void>;
}

/** Failure starting or driving the embedded node. */
export class EmbeddedNodeError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EMBEDDED_NODE", message, options);
  }
}

/** Binds port 0 on `host` to learn a free port (bcoin's P2P server refuses port 0). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

class EmbeddedRegtestNode implements EmbeddedNode {
  readonly rpcUser: string;
  readonly rpcPass: string;
  readonly p2pPort: number | null;
  readonly #bcoin: BcoinModule;
  readonly #node: BcoinFullNode;
  readonly #rpc: JsonRpcHttpServer;
  readonly #zmq: HashblockPublisher;
  readonly #wallet: RegtestWallet;
  readonly #host: string;
  #walletLock: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(bcoin: BcoinModule, node: BcoinFullNode, rpc: JsonRpcHttpServer, zmq: HashblockPublisher, opts: { host: string; user: string; pass: string; p2pPort: number | null }) {
    this.#bcoin = bcoin;
    this.#node = node;
    this.#rpc = rpc;
    this.#zmq = zmq;
    this.#host = opts.host;
    this.rpcUser = opts.user;
    this.rpcPass = opts.pass;
    this.p2pPort = opts.p2pPort;
    this.#wallet = new RegtestWallet(bcoin, node);
    // Bitcoin Core's hashblock fires when the tip changes; after a reorg only the new tip is announced
    // (doc/zmq.md). bcoin's chain emits 'block' exactly for a new best tip (intermediate reorg steps
    // emit 'reconnect'), so that is the event to follow.
    node.chain.on("block", (_block: BcoinBlock, entry: BcoinChainEntry) => {
      void this.#zmq.publishHashblock(entry.rhash());
    });
  }

  get rpcUrl(): string {
    return `http://${this.#host}:${this.#rpc.port}`;
  }

  get zmqUrl(): string {
    return this.#zmq.endpoint;
  }

  get address(): string {
    return this.#wallet.address.toString("regtest");
  }

  height(): number {
    return this.#node.chain.height;
  }

  tipHash(): string {
    return this.#node.chain.tip.rhash();
  }

  mempoolSize(): number {
    return this.#node.mempool.map.size;
  }

  peerCount(): number {
    return this.#node.pool.peers.size();
  }

  async mine(n: number, address?: string): Promise<string[]> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`mine: n must be a non-negative integer, got ${n}`);
    let payTo: BcoinAddress = this.#wallet.address;
    if (address !== undefined && address !== this.address) {
      try {
        payTo = this.#bcoin.Address.fromString(address, "regtest");
      } catch (err) {
        throw new EmbeddedNodeError(`mine: '${address}' is not a regtest address bcoin understands: ${(err as Error).message}`, { cause: err });
      }
    }
    const ours = payTo === this.#wallet.address;
    const hashes: string[] = [];
    for (let i = 0; i < n; i++) {
      const block = await this.#node.miner.mineBlock(this.#node.chain.tip, payTo);
      const entry = await this.#node.chain.add(block);
      if (!entry) throw new EmbeddedNodeError(`mine: block ${block.rhash()} was not connected`);
      if (ours) this.#wallet.noteMinedBlock(block, entry.height);
      hashes.push(block.rhash());
    }
    return hashes;
  }

  fundAndCreateSegwitTransactions(count: number): Promise<string[]> {
    // Serialised: two concurrent calls would pick the same coins.
    const run = this.#walletLock.then(() => this.#wallet.createSegwitTransactions(count, (n) => this.mine(n)));
    this.#walletLock = run.catch(() => {});
    return run;
  }

  waitForHeight(height: number, timeoutMs = 10_000): Promise<void> {
    if (this.#node.chain.height >= height) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onBlock = () => {
        if (this.#node.chain.height < height) return;
        clearTimeout(timer);
        this.#node.chain.removeListener("block", onBlock);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#node.chain.removeListener("block", onBlock);
        reject(new EmbeddedNodeError(`height ${height} not reached within ${timeoutMs} ms (at ${this.#node.chain.height})`));
      }, timeoutMs);
      this.#node.chain.on("block", onBlock);
    });
  }

  zmqSubscriptionCount(): number {
    return this.#zmq.subscriptionCount;
  }

  waitForZmqSubscription(count: number, timeoutMs?: number): Promise<void> {
    return this.#zmq.waitForSubscriptions(count, timeoutMs);
  }

  closeZmq(): Promise<void> {
    return this.#zmq.close();
  }

  async reopenZmq(opts: { resetSequence?: boolean } = {}): Promise<void> {
    if (opts.resetSequence) this.#zmq.resetSequence();
    await this.#zmq.start();
  }

  stopRpc(): Promise<void> {
    return this.#rpc.close();
  }

  startRpc(): Promise<void> {
    return this.#rpc.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#rpc.close();
    await this.#zmq.dispose();
    await this.#walletLock;
    await this.#node.close();
  }
}

/**
 * Starts an embedded bcoin regtest node with bitcoind-compatible RPC and ZMQ `hashblock`.
 * Chain state: genesis (height 0) with csv and segwit active from genesis, like Bitcoin Core's regtest.
 */
export async function startEmbeddedNode(opts: EmbeddedNodeOptions = {}): Promise<EmbeddedNode> {
  const bcoin = loadBcoin();
  configureRegtestNetwork();
  const host = opts.rpcHost ?? "127.0.0.1";
  const user = opts.user ?? "tbg";
  const pass = opts.pass ?? randomBytes(16).toString("hex");
  const peers = opts.peers ?? [];
  const listen = opts.listen ?? false;
  const p2pPort = listen ? (opts.p2pPort ?? (await freePort(host))) : null;
  const logLevel = opts.logLevel ?? "none";

  const node = new bcoin.FullNode({
    network: "regtest",
    memory: opts.dataDir === undefined,
    prefix: opts.dataDir,
    workers: false, // worker processes would re-load bcoin through a file path tsx does not serve
    logLevel,
    logConsole: logLevel !== "none",
    seeds: [], // bcoin's regtest seed is 127.0.0.1:48444; never dial anything we were not given
    only: peers.length > 0 ? peers : undefined,
    listen,
    host,
    port: p2pPort ?? undefined,
    publicHost: listen ? host : undefined,
    publicPort: p2pPort ?? undefined,
  });
  // We serve RPC ourselves (Core-compatible); bcoin's HTTP/REST/websocket server stays off.
  node.http.open = async () => {};
  node.http.close = async () => {};
  // With `listen`, bcoin looks up its external IP through DNS (2 s timeouts) and tries UPnP: not on localhost.
  node.pool.discoverExternal = async () => {};
  node.pool.discoverGateway = async () => {};
  const onError = opts.onError ?? (() => {});
  node.on("error", onError); // an EventEmitter 'error' without a listener would throw
  node.rpc.on("error", onError);
  activateSoftforksFromGenesis(node.chain);

  const rpc = new JsonRpcHttpServer({ host, port: opts.rpcPort ?? 0, user, pass, handler: bitcoindCompatHandler(node) });
  const zmq = new HashblockPublisher({ host, port: opts.zmqPort ?? 0 });
  const embedded = new EmbeddedRegtestNode(bcoin, node, rpc, zmq, { host, user, pass, p2pPort });
  try {
    await node.ensure(); // creates `${dataDir}/regtest` when not in memory
    await node.open();
    if (listen || peers.length > 0) {
      await node.connect();
      node.startSync();
    }
    await zmq.start();
    await rpc.start();
  } catch (err) {
    await embedded.close().catch(() => {});
    if (err instanceof TbgError) throw err;
    throw new EmbeddedNodeError(`cannot start the embedded node: ${(err as Error).message}`, { cause: err });
  }
  return embedded;
}
