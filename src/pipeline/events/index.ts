/**
 * Public API of the event layer: types and schemas (pure), the envelope factory, the publisher,
 * its sinks, and the datagram reader used by the collector.
 */
export * from "./types.ts";
export {
  EVENT_DATA_SCHEMAS,
  EVENT_DESCRIPTIONS,
  EVENT_SCHEMAS,
  ENVELOPE_SCHEMA,
  REGION_PATTERN,
  buildEventJsonSchemas,
  formatJsonSchemaFile,
  validateEvent,
} from "./schemas.ts";
export type { EventValidation } from "./schemas.ts";
export { createEventFactory, createUuidV7, pooledRandom16, systemClockMs } from "./envelope.ts";
export type { EventFactory, EventFactoryOptions } from "./envelope.ts";
export { MiningEventEmitter, parseEventTypes } from "./emitter.ts";
export type { MiningEventEmitterOptions, EmitterListener, EmitterStats, EmitterUpdate } from "./emitter.ts";
export { DROP_REASONS, emptyDropCounts } from "./sink.ts";
export type { DropReason, EventSink, SinkObserver, SinkState, SinkStats } from "./sink.ts";
export { UnixDgramSink, UNIX_DGRAM_SINK_DEFAULTS } from "./sinks/unix-dgram.ts";
export type { NativeDgramSocket, SinkTimers, UnixDgramSinkOptions, UnixDgramSinkStats } from "./sinks/unix-dgram.ts";
export { MemorySink } from "./sinks/memory.ts";
export type { MemorySinkOptions } from "./sinks/memory.ts";
export { DgramReader } from "./dgram-reader.ts";
export type { DgramReaderOptions, DgramReaderStats, NativeDgramReaderSocket, ReaderMessage } from "./dgram-reader.ts";
export { EventSocketBindError, EventSocketInUseError, EventsConfigError } from "./errors.ts";
