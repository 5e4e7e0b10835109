/**
 * Two embedded regtest nodes peered over P2P (a block mined on one reaches the other), each with its
 * own RPC and ZMQ publisher, and the pool configured with both (the production layout: two nodes, each with its ZMQ endpoint).
 */
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";
import type { EngineEventMap } from "../../src/core/engine/engine.ts";
import type { ZmqEndpointState } from "../../src/core/bitcoind/zmq-subscriber.ts";
import type { DevOverrides } from "../../src/config/load.ts";
import { btcdFor, startTestNode, startTestPool, type TestPool } from "../support/pool.ts";

/** ZMQ timings short enough for a test (heartbeat timeout 300 ms, reconnect 50 → 200 ms). */
export const FAST_ZMQ = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300, heartbeatTtlMs: 1000, reconnectIntervalMs: 50, reconnectMaxIntervalMs: 200, connectTimeoutMs: 500 };

export interface TwoNodePool {
  node1: EmbeddedNode;
  node2: EmbeddedNode;
  pool: TestPool;
  /** Engine names of the nodes (`btcd[i] host:port`). */
  name1: string;
  name2: string;
  zmq(node: EmbeddedNode): ZmqEndpointState;
  /** Every engine bus event of these kinds, in order, since start. */
  templates: EngineEventMap["template"][0][];
  blocks: EngineEventMap["block"][0][];
  tips: EngineEventMap["newBlockNetwork"][0][];
  close(): Promise<void>;
}

export async function startTwoNodePool(opts: { zmq: boolean; overrides?: DevOverrides }): Promise<TwoNodePool> {
  const node1 = await startTestNode({ listen: true });
  const node2 = await startTestNode({ peers: [`127.0.0.1:${node1.p2pPort}`] });
  try {
    // A first block so both are past genesis and demonstrably peered.
    await node1.mine(1);
    await node2.waitForHeight(1);
    const pool = await startTestPool({
      node: node1,
      zmq: opts.zmq,
      app: { zmq: FAST_ZMQ },
      overrides: { btcd: [btcdFor(node1, opts.zmq), btcdFor(node2, opts.zmq)], ...opts.overrides },
    });
    const templates: TwoNodePool["templates"] = [];
    const blocks: TwoNodePool["blocks"] = [];
    const tips: TwoNodePool["tips"] = [];
    pool.app.engine.bus.on("template", (e) => templates.push(e));
    pool.app.engine.bus.on("block", (e) => blocks.push(e));
    pool.app.engine.bus.on("newBlockNetwork", (e) => tips.push(e));
    const [name1, name2] = pool.app.engine.status().nodes.map((n) => n.name);
    if (opts.zmq) await Promise.all([node1.waitForZmqSubscription(1), node2.waitForZmqSubscription(1)]);
    return {
      node1,
      node2,
      pool,
      name1,
      name2,
      templates,
      blocks,
      tips,
      zmq: (node) => {
        const s = pool.app.zmq?.status().find((z) => z.endpoint === node.zmqUrl);
        if (!s) throw new Error(`no ZMQ status for ${node.zmqUrl}`);
        return s;
      },
      async close() {
        await pool.close();
        await node2.close();
        await node1.close();
      },
    };
  } catch (err) {
    await node2.close();
    await node1.close();
    throw err;
  }
}
