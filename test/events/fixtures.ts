/**
 * One valid example event per type (the same ones docs/events.md shows). Other test suites
 * (collector, publisher) may import these.
 */
import type { EventDataMap, EventType, MiningEvent } from "../../src/pipeline/events/types.ts";

export const EXAMPLE_DATA: { [K in EventType]: EventDataMap[K] } = {
  share_submitted: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    session_id: "8f3a21c0",
    accepted: true,
    reject_reason: null,
    difficulty: 4096,
    share_difficulty: 18734.22,
    job_id: "6a1",
    height: 923456,
    block: false,
    ip: "203.0.113.7",
  },
  share_best_diff: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    scope: "week",
    old_best: 1250000.5,
    new_best: 3981223.75,
    week: "2026-W47",
    height: 923456,
  },
  block_found: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    height: 923457,
    hash: "00000000000000000001b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b",
    reward_sats: 314159265,
    coinbase_signature: "/TheBitcoinGame/",
    accepted: true,
    submit_results: [
      { node: "primary", accepted: true, result: null, latency_ms: 41.7 },
      { node: "backup", accepted: true, result: "duplicate", latency_ms: 88.2 },
    ],
    share_difficulty: 152000000000000,
    network_difficulty: 126411437451912.23,
  },
  miner_connected: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    session_id: "8f3a21c0",
    ip: "203.0.113.7",
    user_agent: "bitaxe/BM1370/v2.4.0",
    extranonce1: "8f3a21c0",
    difficulty: 1024,
  },
  miner_disconnected: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    session_id: "8f3a21c0",
    ip: "203.0.113.7",
    reason: "client_closed",
    session_seconds: 86412.5,
    shares_accepted: 20931,
    shares_rejected: 12,
    session_best: 3981223.75,
  },
  diff_updated: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    session_id: "8f3a21c0",
    old_difficulty: 1024,
    new_difficulty: 4096,
    reason: "vardiff",
  },
  hashrate_update: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "bitaxe-1",
    hashrate_hs: { "1m": 1.21e12, "5m": 1.18e12, "1h": 1.2e12, "1d": 1.19e12, "7d": 1.05e12 },
  },
  new_block_network: {
    height: 923457,
    hash: "00000000000000000001b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b",
    prev_hash: "0000000000000000000094c1e3a7d1b2f0e9d8c7b6a5948372615049382716ab",
    source: "zmq:tcp://10.0.0.5:28332",
    first_seen_endpoint: "tcp://10.0.0.5:28332",
  },
  relay_state: {
    state: "independent",
    previous: "passthrough",
    reason: "primary_unreachable",
  },
};

/** Wrap example data in a fixed, valid envelope. */
export function exampleEvent<T extends EventType>(type: T, data: EventDataMap[T] = EXAMPLE_DATA[type]): MiningEvent<T> {
  return {
    event: type,
    event_id: "019a8f3e-4c1b-7d2e-9f10-3a4b5c6d7e8f",
    timestamp: 1763769600123456,
    source: "hosted",
    region: "eu",
    instance: "pool-eu-1",
    data,
  } as MiningEvent<T>;
}
