/**
 * Mining event types: the envelope and the `data` payload of every event type.
 *
 * These are the wire contract between the engine and its consumers (collector, publisher,
 * game platform). Field names are snake_case because they go on the wire as-is.
 * The zod schemas in ./schemas.ts validate exactly these shapes (a compile-time check keeps
 * them equal) and the JSON Schemas in schemas/events/ are generated from them.
 *
 * Compatibility rule: consumers ignore fields they do not know; producers only ever *add*
 * optional fields to an existing type. A breaking change gets a new event type name.
 *
 * Pure module: no I/O, no clock.
 */

/** Every event type, in documentation order. */
export const ALL_EVENT_TYPES = [
  "share_submitted",
  "share_best_diff",
  "block_found",
  "miner_connected",
  "miner_disconnected",
  "diff_updated",
  "hashrate_update",
  "new_block_network",
  "relay_state",
] as const;

/** Name of an event type (the envelope's `event` field). */
export type EventType = (typeof ALL_EVENT_TYPES)[number];

/** The envelope's `source`: always `"hosted"` for this engine (future decentralised sources). */
export const EVENT_SOURCE = "hosted" as const;

/**
 * Largest serialised event (UTF-8 bytes of the compact JSON). Events larger than this are a bug
 * in the producer: the publisher refuses and counts them (`too_large`), the collector rejects them.
 * 4 KiB keeps every event far below the Unix datagram ceiling (~212 kB here).
 */
export const MAX_EVENT_BYTES = 4096;

/** Stratum share reject reasons carried in `share_submitted.data.reject_reason`. */
export const SHARE_REJECT_REASONS = [
  "unauthorized",
  "not_subscribed",
  "job_not_found",
  "stale",
  "bad_extranonce2",
  "ntime_out_of_range",
  "bad_version",
  "duplicate",
  "low_difficulty",
  "invalid_params",
  "other",
] as const;

/** Why a share was rejected. */
export type ShareRejectReason = (typeof SHARE_REJECT_REASONS)[number];

/** Scopes of a best-difficulty record. */
export const BEST_DIFF_SCOPES = ["session", "week", "alltime"] as const;
/** `session` resets on disconnect, `week` on Monday 00:00 UTC (ISO week), `alltime` never. */
export type BestDiffScope = (typeof BEST_DIFF_SCOPES)[number];

/** Why a miner's difficulty changed. */
export const DIFF_UPDATE_REASONS = ["vardiff", "suggest", "initial", "minimum"] as const;
/** `initial`: first difficulty of the session; `suggest`: mining.suggest_difficulty; `minimum`: clamped to the pool minimum. */
export type DiffUpdateReason = (typeof DIFF_UPDATE_REASONS)[number];

/** What became of a found block (`block_found.data.outcome`). */
export const BLOCK_OUTCOMES = ["accepted", "lost_race", "rejected"] as const;
/**
 * `accepted`: in a node's main chain; `lost_race`: valid and stored by a node (it answered `inconclusive`),
 * but another block at that height won (an orphan); `rejected`: every node refused it or failed.
 */
export type BlockOutcome = (typeof BLOCK_OUTCOMES)[number];

/** Relay operating modes. */
export const RELAY_STATES = ["passthrough", "independent", "connecting"] as const;
/** `passthrough`: work from the primary; `independent`: own templates (primary unreachable); `connecting`: handshake in progress. */
export type RelayState = (typeof RELAY_STATES)[number];

/** Hashrate windows of `hashrate_update`, in H/s. */
export const HASHRATE_WINDOWS = ["1m", "5m", "1h", "1d", "7d"] as const;
/** A hashrate window name. */
export type HashrateWindow = (typeof HASHRATE_WINDOWS)[number];

/** `share_submitted`: every share, accepted or rejected. */
export interface ShareSubmittedData {
  /** Payout address the miner authorised with. */
  user: string;
  /** Worker name (the part after the first `.` of the Stratum username; `""` when none). */
  worker: string;
  /** Stratum session id, lowercase hex. */
  session_id: string;
  /** Whether the pool accepted the share. */
  accepted: boolean;
  /** Why it was rejected; `null` if and only if `accepted`. */
  reject_reason: ShareRejectReason | null;
  /** Difficulty credited: the one assigned to the job the share was for; 0 for a block below its share target (submitted as a block, not credited for hashrate). */
  difficulty: number;
  /** Difficulty the share's hash actually meets (0 when it could not be computed). */
  share_difficulty: number;
  /** Stratum job id the share referenced. */
  job_id: string;
  /** Height of the block being mined. */
  height: number;
  /** The hash met the network target (a block candidate; see `block_found`). */
  block: boolean;
  /** Miner's IP address. */
  ip: string;
}

/** `share_best_diff`: a user beat one of their best-difficulty records. */
export interface ShareBestDiffData {
  /** Payout address. */
  user: string;
  /** Worker that submitted the record share. */
  worker: string;
  /** Which record was beaten. One share may beat several: one event per scope. */
  scope: BestDiffScope;
  /** Previous record in this scope; `null` when there was none. */
  old_best: number | null;
  /** New record (the share difficulty). */
  new_best: number;
  /** ISO week of a `week` record, e.g. `"2026-W47"`; present exactly when `scope` is `week`. */
  week?: string;
  /** Height of the block being mined. */
  height: number;
}

/** Result of submitting a found block to one node. */
export interface BlockSubmitResult {
  /** Node name from the config. */
  node: string;
  /** The node accepted the block (`submitblock` returned null, or `duplicate`). */
  accepted: boolean;
  /** Raw `submitblock` result string (`null` on success, e.g. `"duplicate"`, `"inconclusive"`, or an error text). */
  result: string | null;
  /** Round-trip time of the submission in milliseconds. */
  latency_ms: number;
}

/** `block_found`: a share met the network target and the block was submitted. */
export interface BlockFoundData {
  /** Finder's payout address (solo: the reward pays this address). */
  user: string;
  /** Finder's worker. */
  worker: string;
  /** Height of the found block. */
  height: number;
  /** Block hash, display (big-endian) hex. */
  hash: string;
  /** Coinbase output value in satoshis (subsidy + fees). */
  reward_sats: number;
  /** Text put into the coinbase scriptSig, e.g. `"/TheBitcoinGame/"`. */
  coinbase_signature: string;
  /** At least one node accepted the block. */
  accepted: boolean;
  /** What became of the block (see {@link BlockOutcome}); `accepted` is true exactly when it is `"accepted"`. Absent from producers older than this field. */
  outcome?: BlockOutcome;
  /** Per-node submission results: the nodes that had answered when the outcome was known (a hung node's answer is not waited for). */
  submit_results: BlockSubmitResult[];
  /** Difficulty the block hash meets. */
  share_difficulty: number;
  /** Network difficulty at that height. */
  network_difficulty: number;
}

/** `miner_connected`: a miner subscribed and authorised. */
export interface MinerConnectedData {
  /** Payout address. */
  user: string;
  /** Worker name. */
  worker: string;
  /** Stratum session id, lowercase hex. */
  session_id: string;
  /** Miner's IP address. */
  ip: string;
  /** User agent from `mining.subscribe`, `null` when not sent. */
  user_agent: string | null;
  /** Extranonce1 assigned to the session, lowercase hex. */
  extranonce1: string;
  /** Starting difficulty. */
  difficulty: number;
}

/** `miner_disconnected`: a session ended (for any reason, authorised or not). */
export interface MinerDisconnectedData {
  /** Payout address, `null` when the session never authorised. */
  user: string | null;
  /** Worker name, `null` when the session never authorised. */
  worker: string | null;
  /** Stratum session id, lowercase hex. */
  session_id: string;
  /** Miner's IP address. */
  ip: string;
  /** Why the session ended, e.g. `"client_closed"`, `"idle_timeout"`, `"shutdown"`. */
  reason: string;
  /** Session length in seconds. */
  session_seconds: number;
  /** Shares accepted during the session. */
  shares_accepted: number;
  /** Shares rejected during the session. */
  shares_rejected: number;
  /** Best share difficulty of the session, `null` when no share was accepted. */
  session_best: number | null;
}

/** `diff_updated`: a session's difficulty changed. */
export interface DiffUpdatedData {
  /** Payout address. */
  user: string;
  /** Worker name. */
  worker: string;
  /** Stratum session id, lowercase hex. */
  session_id: string;
  /** Previous difficulty, `null` for the first one (`reason: "initial"`). */
  old_difficulty: number | null;
  /** New difficulty. */
  new_difficulty: number;
  /** Why it changed. */
  reason: DiffUpdateReason;
}

/** `hashrate_update`: periodic hashrate estimate of a worker, or of a user when `worker` is `null`. */
export interface HashrateUpdateData {
  /** Payout address. */
  user: string;
  /** Worker name, `null` for the user's total. */
  worker: string | null;
  /** Hashrate over each window, in hashes per second. */
  hashrate_hs: Record<HashrateWindow, number>;
}

/** `new_block_network`: the network's chain tip changed. */
export interface NewBlockNetworkData {
  /** Height of the new tip. */
  height: number;
  /** Hash of the new tip, display hex. */
  hash: string;
  /** Hash of its parent, display hex; `null` when unknown. */
  prev_hash: string | null;
  /** How the engine learned of it: `"zmq:<endpoint>"`, `"poll"` or `"template"`. */
  source: string;
  /** The endpoint (ZMQ or RPC node) that reported it first; `null` when unknown. */
  first_seen_endpoint: string | null;
}

/** `relay_state`: a relay changed operating mode. */
export interface RelayStateData {
  /** New state. */
  state: RelayState;
  /** Previous state, `null` at start-up. */
  previous: RelayState | null;
  /** Why, e.g. `"primary_unreachable"`, `"primary_restored"`. */
  reason: string;
}

/** The `data` payload type of each event type. */
export interface EventDataMap {
  share_submitted: ShareSubmittedData;
  share_best_diff: ShareBestDiffData;
  block_found: BlockFoundData;
  miner_connected: MinerConnectedData;
  miner_disconnected: MinerDisconnectedData;
  diff_updated: DiffUpdatedData;
  hashrate_update: HashrateUpdateData;
  new_block_network: NewBlockNetworkData;
  relay_state: RelayStateData;
}

/**
 * One event on the wire. `MiningEvent` (no argument) is the union of all types,
 * discriminated by `event`.
 */
export type MiningEvent<T extends EventType = EventType> = T extends EventType
  ? {
      /** Event type. */
      event: T;
      /** UUIDv7 (RFC 9562 §5.7): unique, time-ordered; the de-duplication key downstream. */
      event_id: string;
      /** When the event happened, integer microseconds since the Unix epoch. */
      timestamp: number;
      /** Always `"hosted"`. */
      source: typeof EVENT_SOURCE;
      /** Region of the emitting instance (config; primary default `"eu"`). */
      region: string;
      /** Name of the emitting instance. */
      instance: string;
      /** Type-specific payload. */
      data: EventDataMap[T];
    }
  : never;

/** Type guard for event type names (e.g. from config or the wire). */
export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && (ALL_EVENT_TYPES as readonly string[]).includes(value);
}
