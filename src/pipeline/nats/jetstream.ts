/**
 * JetStream layout of the event pipeline:
 *
 * - Subjects `mining.events.{region}.{event_type}`, all captured by stream `MINING_EVENTS`.
 * - LIMITS retention (not work-queue: a work-queue stream refuses a second durable on the same
 *   subjects, errors 10099/10100), so every durable consumer (`event-pipeline`, `game-engine`, …)
 *   sees every event; messages age out after `max_age` (24 h) or past `max_bytes`.
 * - `duplicate_window` 2 min: a re-publish with the same `Nats-Msg-Id` (= event_id) is dropped.
 * - Durable pull consumers with explicit ack and a single `filter_subject` (nats-server 2.9 has no
 *   `filter_subjects`).
 *
 * nats.js 3.4 has no `addOrUpdate`, hence the `info()` → `add()` / `update()` helpers here.
 */
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, jetstreamManager, RetentionPolicy,
  StorageType, type ConsumerConfig, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";

import { EVENT_SUBJECT_PREFIX, MINING_EVENTS_STREAM } from "./subjects.ts";

export { EVENT_SUBJECT_PREFIX, MINING_EVENTS_STREAM, eventSubject } from "./subjects.ts";
/** The durable consumers the platform runs. */
export const DURABLE_CONSUMERS = ["event-pipeline", "game-engine"] as const;

/** Stream settings; defaults per field. */
export interface EventStreamOptions {
  /** Oldest message kept, ms. Default 24 h. */
  maxAgeMs?: number;
  /** Byte cap of the stream (oldest discarded first). Default 10 GiB. */
  maxBytes?: number;
  /** De-duplication window for `Nats-Msg-Id`, ms. Default 2 min. Must be ≤ maxAgeMs. */
  duplicateWindowMs?: number;
  /** Largest message, bytes. Default 8 KiB (events are ≤ 4 KiB). */
  maxMsgSize?: number;
  /** Replicas (clustered JetStream). Default 1. */
  replicas?: number;
}

/** The full stream config for {@link ensureEventStream}. */
export function eventStreamConfig(opts: EventStreamOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: MINING_EVENTS_STREAM,
    subjects: [`${EVENT_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(opts.maxAgeMs ?? 24 * 3_600_000),
    max_bytes: opts.maxBytes ?? 10 * 1024 ** 3,
    max_msg_size: opts.maxMsgSize ?? 8 * 1024,
    duplicate_window: nanos(opts.duplicateWindowMs ?? 2 * 60_000),
    num_replicas: opts.replicas ?? 1,
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound);
}

/**
 * Creates `MINING_EVENTS` or brings an existing one to these settings (subjects, limits, window).
 * Returns the stream info. Retention and storage of an existing stream cannot change (server rule).
 */
export async function ensureEventStream(nc: NatsConnection, opts: EventStreamOptions = {}): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const want = eventStreamConfig(opts);
  try {
    const info = await jsm.streams.info(want.name);
    const c = info.config;
    const same = c.max_age === want.max_age && c.max_bytes === want.max_bytes && c.duplicate_window === want.duplicate_window &&
      c.max_msg_size === want.max_msg_size && JSON.stringify(c.subjects) === JSON.stringify(want.subjects);
    if (same) return info;
    const { name: _name, retention: _r, storage: _s, ...changes } = want;
    return await jsm.streams.update(want.name, changes);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return await jsm.streams.add(want);
  }
}

/** A durable pull consumer's settings; defaults per field. */
export interface DurableConsumerOptions {
  /** Durable name, e.g. `event-pipeline`. */
  name: string;
  /** Subject filter. Default `mining.events.>` (everything). */
  filterSubject?: string;
  /**
   * Redelivery after this long without an ack, ms. Default 30 000: larger than the worst batch
   * commit latency.
   */
  ackWaitMs?: number;
  /** Unacked messages the server hands out before pausing; size it for batching. Default 20 000. */
  maxAckPending?: number;
  /** Deliveries before giving up on a message. Default -1 (unlimited: the DB is idempotent). */
  maxDeliver?: number;
}

/** Creates the durable consumer if missing (or updates its mutable settings). */
export async function ensureDurableConsumer(nc: NatsConnection, opts: DurableConsumerOptions): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const cfg: Partial<ConsumerConfig> = {
    durable_name: opts.name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: opts.filterSubject ?? `${EVENT_SUBJECT_PREFIX}.>`,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: opts.maxAckPending ?? 20_000,
    max_deliver: opts.maxDeliver ?? -1,
  };
  try {
    await jsm.consumers.info(MINING_EVENTS_STREAM, opts.name);
    const { durable_name: _d, ack_policy: _a, deliver_policy: _p, ...mutable } = cfg;
    await jsm.consumers.update(MINING_EVENTS_STREAM, opts.name, mutable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(MINING_EVENTS_STREAM, cfg);
  }
}
