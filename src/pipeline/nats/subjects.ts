/**
 * Names of the event stream and its subjects (no NATS client import: the pool checks its config against
 * them without loading the client when NATS is not configured). src/pipeline/nats/jetstream.ts re-exports them.
 */

/** The stream name. */
export const MINING_EVENTS_STREAM = "MINING_EVENTS";
/** Subject prefix of every event. */
export const EVENT_SUBJECT_PREFIX = "mining.events";

/** Subject of one event: `mining.events.{region}.{event_type}`. */
export function eventSubject(region: string, eventType: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${region}.${eventType}`;
}
