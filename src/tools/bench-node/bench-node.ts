/**
 * `startBenchNode`: a small bitcoind stand-in for benchmarks. JSON-RPC over HTTP (Bitcoin Core's shapes,
 * basic auth, positional or named params, header lines ending in CRLF or a bare LF as ckpool sends them)
 * serving a recorded mainnet-size template, and a ZMQ publisher of `hashblock` and `rawblock` in Core's
 * 3-frame format. `newBlock()` (or the RPC `bench_newblock`) advances the fake tip so pools see a new block.
 * Composition root only: state and methods are in ./chain.ts, the HTTP and ZMQ adapters are the embedded
 * node's (src/tools/regtest-node).
 */
import { JsonRpcHttpServer, errorReply, type RpcReply } from "../regtest-node/rpc-server.ts";
import { HashblockPublisher } from "../regtest-node/zmq-publisher.ts";
import { BenchChain, RpcMethodError, RPC_ARG_NAMES, RPC_MISC_ERROR } from "./chain.ts";
import { loadFixture, type FixtureTxCount } from "./fixtures.ts";
import type { TemplateFixture } from "./template-gen.ts";

/** Defaults for {@link BenchNodeOptions}. */
export const BENCH_NODE_DEFAULTS = {
  host: "127.0.0.1",
  /** 0 = a free port. */
  rpcPort: 0,
  zmqPort: 0,
  user: "bench",
  pass: "bench",
  txs: 3000 as FixtureTxCount,
  /** Longest a long-poll getblocktemplate waits for a new tip (BIP22 long polling). */
  longpollTimeoutMs: 30_000,
} as const;

/** Options for {@link startBenchNode}. */
export interface BenchNodeOptions {
  host?: string;
  rpcPort?: number;
  zmqPort?: number;
  user?: string;
  pass?: string;
  /** Which recorded template to serve (0 or 3000 transactions). */
  txs?: FixtureTxCount;
  /** Serve this fixture instead of a recorded one. */
  fixture?: TemplateFixture;
  /** submitblock's answer (BIP22 reason, or null = accepted). Default "rejected". */
  submitBlockResult?: string | null;
  longpollTimeoutMs?: number;
  /** Seconds since the epoch; default wall clock. */
  nowSec?: () => number;
}

/** A running bench node. */
export interface BenchNode {
  /** `http://host:port` */
  rpcUrl: string;
  rpcPort: number;
  user: string;
  pass: string;
  /** `tcp://host:port` of the hashblock and rawblock publisher. */
  zmqUrl: string;
  zmqPort: number;
  /** The fake chain (tip, submitted blocks, call counters). */
  chain: BenchChain;
  /** Advances the tip and publishes hashblock, then rawblock; resolves with the new hash (display hex). */
  newBlock(): Promise<string>;
  /** hashblock subscriptions received so far (monotonic). */
  hashblockSubscribers(): number;
  /** rawblock subscriptions received so far (monotonic; public-pool subscribes to rawblock). */
  rawblockSubscribers(): number;
  /** Resolves once `count` hashblock subscriptions have arrived (avoids ZMQ's slow-joiner race in tests). */
  waitForSubscribers(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the RPC server and the ZMQ publisher. */
export async function startBenchNode(opts: BenchNodeOptions = {}): Promise<BenchNode> {
  const host = opts.host ?? BENCH_NODE_DEFAULTS.host;
  const user = opts.user ?? BENCH_NODE_DEFAULTS.user;
  const pass = opts.pass ?? BENCH_NODE_DEFAULTS.pass;
  const fixture = opts.fixture ?? loadFixture(opts.txs ?? BENCH_NODE_DEFAULTS.txs);
  const chain = new BenchChain({ fixture, nowSec: opts.nowSec ?? (() => Math.floor(Date.now() / 1000)), submitBlockResult: opts.submitBlockResult });
  const longpollTimeoutMs = opts.longpollTimeoutMs ?? BENCH_NODE_DEFAULTS.longpollTimeoutMs;
  const longpollers = new Set<() => void>();
  const zmq = new HashblockPublisher({ host, port: opts.zmqPort ?? BENCH_NODE_DEFAULTS.zmqPort });

  const newBlock = async (): Promise<string> => {
    const hash = chain.advance();
    for (const wake of [...longpollers]) wake();
    const sent = zmq.publishHashblock(hash);
    const raw = chain.tipRaw;
    await Promise.all([sent, raw ? zmq.publishRawblock(raw) : undefined]);
    return hash;
  };

  const handler = async ({ method, params, id }: { method: unknown; params: unknown; id: unknown }): Promise<RpcReply> => {
    const args = Array.isArray(params) ? params : [];
    try {
      if (method === "bench_newblock") return { result: await newBlock(), error: null, id };
      if (method === "bench_stats") {
        return {
          result: {
            height: chain.height,
            bestblockhash: chain.bestBlockHash,
            templateTxs: chain.templateTxCount,
            gbtCalls: chain.gbtCalls,
            submitted: chain.submittedCount,
            zmqSequence: zmq.sequence,
            zmqSubscriptions: { hashblock: zmq.subscriptionCount, rawblock: zmq.rawblockSubscriptionCount },
            calls: { ...chain.calls },
          },
          error: null,
          id,
        };
      }
      if (method === "getblocktemplate") {
        // BIP22 long polling: with the current longpollid, answer when the tip changes (or after a while).
        const lp = (args[0] as { longpollid?: unknown } | undefined)?.longpollid;
        if (typeof lp === "string" && lp === chain.longpollid) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              longpollers.delete(done);
              resolve();
            };
            const timer = setTimeout(done, longpollTimeoutMs);
            longpollers.add(done);
          });
        }
      }
      return { result: chain.call(String(method), args), error: null, id };
    } catch (err) {
      if (err instanceof RpcMethodError) return errorReply(err.rpcCode, err.message, id);
      return errorReply(RPC_MISC_ERROR, err instanceof Error ? err.message : String(err), id);
    }
  };

  const rpc = new JsonRpcHttpServer({ host, port: opts.rpcPort ?? BENCH_NODE_DEFAULTS.rpcPort, user, pass, handler, lenientHttp: true, namedParams: RPC_ARG_NAMES });
  await rpc.start();
  try {
    await zmq.start();
  } catch (err) {
    await rpc.close();
    throw err;
  }
  return {
    rpcUrl: `http://${host}:${rpc.port}`,
    rpcPort: rpc.port,
    user,
    pass,
    zmqUrl: zmq.endpoint,
    zmqPort: zmq.port,
    chain,
    newBlock,
    waitForSubscribers: (count, timeoutMs) => zmq.waitForSubscriptions(count, timeoutMs),
    hashblockSubscribers: () => zmq.subscriptionCount,
    rawblockSubscribers: () => zmq.rawblockSubscriptionCount,
    close: async () => {
      for (const wake of [...longpollers]) wake();
      await rpc.close();
      await zmq.dispose();
    },
  };
}
