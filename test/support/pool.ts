/**
 * Test harness: the embedded bcoin regtest node and the pool, in-process, on free ports.
 * Logs go nowhere unless TBG_TEST_LOG=debug|info is set.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedNode, type EmbeddedNode, type EmbeddedNodeOptions } from "../../src/tools/regtest-node/embedded-node.ts";
import { devConfig, type DevOverrides } from "../../src/config/load.ts";
import { startPool, type PoolApp, type PoolAppOptions } from "../../src/app/run-pool.ts";
import { createLogger } from "../../src/app/logger.ts";
import type { PoolConfig } from "../../src/config/types.ts";
import { startBenchNode, type BenchNode } from "../../src/tools/bench-node/bench-node.ts";

export interface TestPool {
  node: EmbeddedNode;
  app: PoolApp;
  config: PoolConfig;
  port: number;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestNode(opts: EmbeddedNodeOptions = {}): Promise<EmbeddedNode> {
  return startEmbeddedNode(opts);
}

/** The btcd entry for an embedded node. */
export function btcdFor(node: EmbeddedNode, withZmq = false) {
  const u = new URL(node.rpcUrl);
  return { url: `${u.hostname}:${u.port}`, auth: node.rpcUser, pass: node.rpcPass, ...(withZmq ? { zmqnotify: node.zmqUrl } : {}) };
}

interface Launched {
  app: PoolApp;
  config: PoolConfig;
  port: number;
  url: string;
  dataDir: string;
  /** Closes the pool and removes its data dir (not the node). */
  closePool(): Promise<void>;
}

/** Starts the pool on one node with test defaults: loopback, free ports, quick polling, no sinks, silent logs. */
async function launch(btcd: DevOverrides["btcd"], opts: { overrides?: DevOverrides; app?: PoolAppOptions; patch?: (c: PoolConfig) => void; network?: "mainnet" }): Promise<Launched> {
  const dataDir = await mkdtemp(join(tmpdir(), "tbg-pool-"));
  const config = devConfig({
    ...(opts.network ? { network: opts.network } : {}),
    btcd,
    serverurl: ["127.0.0.1:0"],
    data_dir: dataDir,
    blockpoll: 100,
    events: { enabled: false, socket_path: join(dataDir, "events.sock") },
    health: { enabled: false, port: 0 },
    ...opts.overrides,
  });
  opts.patch?.(config);
  const app = await startPool(config, { logger: createLogger({ level: process.env.TBG_TEST_LOG ?? "silent", pretty: true }), ...opts.app });
  const port = app.stratumPorts[0];
  return {
    app,
    config,
    port,
    url: `stratum+tcp://127.0.0.1:${port}`,
    dataDir,
    async closePool() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startTestPool(opts: { node?: EmbeddedNode; overrides?: DevOverrides; app?: PoolAppOptions; zmq?: boolean; patch?: (c: PoolConfig) => void } = {}): Promise<TestPool> {
  const node = opts.node ?? (await startTestNode());
  const { closePool, ...pool } = await launch([btcdFor(node, opts.zmq)], opts);
  return {
    ...pool,
    node,
    async close() {
      await closePool();
      if (!opts.node) await node.close();
    },
  };
}

export interface BenchPool extends Omit<TestPool, "node"> {
  bench: BenchNode;
}

/**
 * The pool on the benchmark template source: mainnet-like bits, so a share is never a block —
 * what accept/reject protocol tests need (on regtest every valid share is also a block).
 */
export async function startBenchPool(opts: { overrides?: DevOverrides; txs?: 0 | 3000; zmq?: boolean; patch?: (c: PoolConfig) => void } = {}): Promise<BenchPool> {
  const bench = await startBenchNode({ txs: opts.txs ?? 0 });
  const u = new URL(bench.rpcUrl);
  const btcd = [{ url: `${u.hostname}:${u.port}`, auth: bench.user, pass: bench.pass, ...(opts.zmq ? { zmqnotify: bench.zmqUrl } : {}) }];
  const { closePool, ...pool } = await launch(btcd, {
    ...opts,
    network: "mainnet",
    patch: (c) => {
      // Below the config floor (0.0001 ≈ 430k hashes a share): tests grind many shares in-process.
      c.mindiff = 1e-7;
      c.startdiff = 1e-5;
      opts.patch?.(c);
    },
  });
  return {
    ...pool,
    bench,
    async close() {
      await closePool();
      await bench.close();
    },
  };
}
