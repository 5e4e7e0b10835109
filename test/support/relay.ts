/**
 * A primary and a relay pool in-process (real TCP relay link, real Stratum), each on its own embedded
 * regtest node; the nodes peer over P2P (relay node → primary node) unless `peered: false`.
 */
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";
import type { EngineEventMap } from "../../src/core/engine/engine.ts";
import type { DevOverrides } from "../../src/config/load.ts";
import type { PoolAppOptions } from "../../src/app/run-pool.ts";
import { startTestNode, startTestPool, type TestPool } from "./pool.ts";
import { FAST_ZMQ } from "../multinode/two-nodes.ts";

export const RELAY_TOKEN = "relay-test-secret-0123456789";

export interface RelayPair {
  primaryNode: EmbeddedNode;
  relayNode: EmbeddedNode;
  primary: TestPool;
  relay: TestPool;
  relayStates: EngineEventMap["relayState"][0][];
  relayBlocks: EngineEventMap["block"][0][];
  primaryBlocks: EngineEventMap["block"][0][];
  close(): Promise<void>;
}

export async function startRelayPair(
  opts: {
    peered?: boolean;
    zmq?: boolean;
    failoverSec?: number;
    /** Connect the relay through this (e.g. a delay proxy) instead of straight to the primary's ports. */
    via?: (ports: { control: number; push: number }) => Promise<{ control: number; push: number }>;
    relayOverrides?: DevOverrides;
    /** The token the relay presents (default RELAY_TOKEN, the primary's). */
    relayToken?: string;
    /** primary.reconnect_interval of the relay, seconds (default 0.2). */
    reconnectSec?: number;
    relayApp?: PoolAppOptions;
  } = {},
): Promise<RelayPair> {
  const primaryNode = await startTestNode({ listen: true });
  const relayNode = await startTestNode(opts.peered === false ? {} : { peers: [`127.0.0.1:${primaryNode.p2pPort}`] });
  const closers: Array<() => Promise<void>> = [() => relayNode.close(), () => primaryNode.close()];
  try {
    await primaryNode.mine(1);
    if (opts.peered !== false) await relayNode.waitForHeight(1);
    else await relayNode.mine(1);
    const primary = await startTestPool({
      node: primaryNode,
      zmq: opts.zmq,
      app: { zmq: FAST_ZMQ },
      overrides: { region: "eu", relay_server: { host: "127.0.0.1", port: 0, template_push_port: 0, auth_token: RELAY_TOKEN } },
    });
    closers.unshift(() => primary.close());
    const primaryBlocks: RelayPair["primaryBlocks"] = [];
    primary.app.engine.bus.on("block", (b) => primaryBlocks.push(b));
    const ports = primary.app.relayServer!.ports;
    const target = opts.via ? await opts.via(ports) : ports;
    const relayStates: RelayPair["relayStates"] = [];
    const relayBlocks: RelayPair["relayBlocks"] = [];
    const relay = await startTestPool({
      node: relayNode,
      zmq: opts.zmq,
      app: {
        zmq: FAST_ZMQ,
        ...opts.relayApp,
        relayLink: { pingIntervalMs: 100, submitTimeoutMs: 5000 },
        onEngine: (engine) => {
          engine.bus.on("relayState", (s) => relayStates.push(s));
          engine.bus.on("block", (b) => relayBlocks.push(b));
        },
      },
      overrides: {
        mode: "passthrough",
        region: "us-east",
        instance_id: 1,
        failover_threshold: opts.failoverSec ?? 10,
        primary: { host: "127.0.0.1", port: target.control, template_push_port: target.push, auth_token: opts.relayToken ?? RELAY_TOKEN, reconnect_interval: opts.reconnectSec ?? 0.2 },
        ...opts.relayOverrides,
      },
    });
    closers.unshift(() => relay.close());
    return {
      primaryNode,
      relayNode,
      primary,
      relay,
      relayStates,
      relayBlocks,
      primaryBlocks,
      async close() {
        for (const c of closers) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
}
