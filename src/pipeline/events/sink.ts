/**
 * The interface between the publisher and where events go (Unix datagram socket, memory, later NATS).
 * A sink takes already-serialised events and must never block or throw: whatever it cannot deliver
 * it drops and reports through its observer, with a reason.
 */
import type { EventType } from "./types.ts";

/**
 * Why an event was not delivered.
 * - `queue_full`: the sink's bounded queue overflowed while the reader was slow (oldest dropped).
 * - `no_reader`: nobody is reading (socket file missing or stale) and the queue overflowed, or still no reader at shutdown.
 * - `too_large`: serialised event above the size limit (a producer bug).
 * - `invalid`: failed schema validation (only when the publisher validates).
 * - `error`: serialisation failed or the socket reported an unexpected error for this datagram.
 * - `closed`: emitted after close(), or still queued when close()'s flush deadline passed.
 * - `unconfirmed`: handed to a confirming reader that never confirmed it (it died with it, and resending
 *   gave up, the resend window overflowed, or the engine stopped first): possibly lost.
 */
export const DROP_REASONS = ["queue_full", "no_reader", "too_large", "invalid", "error", "closed", "unconfirmed"] as const;
/** See {@link DROP_REASONS}. */
export type DropReason = (typeof DROP_REASONS)[number];

/** Operational state of a sink, for logs and health. */
export type SinkState = "idle" | "ready" | "congested" | "no_reader" | "closed";

/** What a sink reports back to its publisher. */
export interface SinkObserver {
  /** One event was dropped. */
  dropped(reason: DropReason, type: EventType): void;
  /** The sink changed state (e.g. reader went away); `detail` is a short human reason. */
  stateChanged(state: SinkState, detail: string): void;
}

/** Counters every sink exposes. */
export interface SinkStats {
  state: SinkState;
  /** Events delivered (handed to the kernel / stored). */
  sent: number;
  /** Events held, not yet delivered (including one in flight). */
  queued: number;
  /** Drops by reason. */
  dropped: Record<DropReason, number>;
}

/** A destination for serialised events. */
export interface EventSink {
  /** Short unique name, used in stats (`unix:/run/tbg/events.sock`, `memory`). */
  readonly name: string;
  /** Called once by the publisher, before start(). */
  attach(observer: SinkObserver): void;
  /** Take one serialised event (UTF-8 JSON). Never throws, never blocks; copies nothing it does not keep. */
  send(datagram: Buffer, type: EventType): void;
  /** Snapshot of the counters. */
  stats(): SinkStats;
  start(): Promise<void>;
  /** Deliver what is queued within the sink's flush deadline, drop and count the rest, release resources. */
  close(): Promise<void>;
}

/** A zeroed drop counter record. */
export function emptyDropCounts(): Record<DropReason, number> {
  return { queue_full: 0, no_reader: 0, too_large: 0, invalid: 0, error: 0, closed: 0, unconfirmed: 0 };
}

/** Observer that ignores everything (a sink used without a publisher). */
export const NOOP_OBSERVER: SinkObserver = { dropped() {}, stateChanged() {} };
