/**
 * MiningEventEmitter: the one place the mining path hands events to. `emit()` stamps the envelope,
 * applies the type mask, serialises once, enforces the size limit and gives the same bytes to
 * every sink. It never blocks and never throws (the mining path
 * does not wait for consumers); every event it does not deliver is counted with a reason.
 *
 * Observability stays outside: `stats()` is a snapshot, `subscribe()` streams
 * every emitted/filtered/dropped event so the app layer can drive prom-client counters and logs.
 */
import { EVENT_SCHEMAS } from "./schemas.ts";
import { DROP_REASONS, emptyDropCounts } from "./sink.ts";
import type { DropReason, EventSink, SinkState, SinkStats } from "./sink.ts";
import { ALL_EVENT_TYPES, MAX_EVENT_BYTES, isEventType } from "./types.ts";
import type { EventDataMap, EventType } from "./types.ts";
import type { EventFactory } from "./envelope.ts";
import { EventsConfigError } from "./errors.ts";

/** Options of {@link MiningEventEmitter}. */
export interface MiningEventEmitterOptions {
  /** Makes the envelopes (region, instance, clock, ids). */
  factory: EventFactory;
  /** Where events go. Each gets the same serialised bytes. */
  sinks: readonly EventSink[];
  /** Types to emit (config `events.types`). Default: all types. Others are counted as filtered. */
  enabledTypes?: Iterable<EventType>;
  /** Size limit of one serialised event in bytes. Default {@link MAX_EVENT_BYTES} (4096). */
  maxEventBytes?: number;
  /**
   * Validate every event against its schema before sending. Default false: the engine's types
   * already guarantee the shape and zod costs microseconds per share; tests and `tbg dev` turn it on.
   */
  validate?: boolean;
}

/** One observation streamed to {@link MiningEventEmitter.subscribe} listeners. */
export type EmitterUpdate =
  | { kind: "emitted"; type: EventType; bytes: number }
  | { kind: "filtered"; type: EventType }
  /** `sink` is null when the publisher itself refused the event (too_large, invalid, error, closed). */
  | { kind: "dropped"; type: EventType; reason: DropReason; sink: string | null }
  | { kind: "sink_state"; sink: string; state: SinkState; detail: string };

/** Snapshot returned by {@link MiningEventEmitter.stats}. */
export interface EmitterStats {
  /** Events serialised and handed to the sinks. */
  emitted: number;
  /** Events of disabled types (not serialised). */
  filtered: number;
  /** Events currently held by sinks, not yet delivered. */
  queued: number;
  /** Drops by reason: the publisher's own plus every sink's (an event dropped by two sinks counts twice). */
  dropped: Record<DropReason, number>;
  /** Per emitted type. */
  emittedByType: Record<EventType, number>;
  /** Each sink's own counters, by sink name. */
  sinks: Record<string, SinkStats>;
}

/** Listener of {@link MiningEventEmitter.subscribe}; must be cheap, exceptions are swallowed. */
export type EmitterListener = (update: EmitterUpdate) => void;

/** Parse a list of type names from config into a mask. Throws `EVENTS_CONFIG_INVALID` on unknown names. */
export function parseEventTypes(names: Iterable<string>): Set<EventType> {
  const out = new Set<EventType>();
  for (const name of names) {
    if (!isEventType(name)) {
      throw new EventsConfigError(`unknown event type ${JSON.stringify(name)} (known: ${ALL_EVENT_TYPES.join(", ")})`);
    }
    out.add(name);
  }
  return out;
}

/** Publishes mining events to sinks; see the module comment. */
export class MiningEventEmitter {
  private readonly factory: EventFactory;
  private readonly sinks: readonly EventSink[];
  private readonly maxEventBytes: number;
  private readonly validate: boolean;
  private enabled: Set<EventType>;
  private readonly listeners = new Set<EmitterListener>();
  private readonly ownDrops = emptyDropCounts();
  private readonly sinkDrops = emptyDropCounts();
  private readonly emittedByType = Object.fromEntries(ALL_EVENT_TYPES.map((t) => [t, 0])) as Record<EventType, number>;
  private emitted = 0;
  private filtered = 0;
  private state: "new" | "started" | "closed" = "new";

  constructor(options: MiningEventEmitterOptions) {
    this.factory = options.factory;
    this.sinks = options.sinks;
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
    this.validate = options.validate ?? false;
    this.enabled = new Set(options.enabledTypes ?? ALL_EVENT_TYPES);
    const names = new Set<string>();
    for (const sink of this.sinks) {
      if (names.has(sink.name)) throw new EventsConfigError(`two event sinks are named ${sink.name}`);
      names.add(sink.name);
      sink.attach({
        dropped: (reason, type) => {
          this.sinkDrops[reason]++;
          this.notify({ kind: "dropped", type, reason, sink: sink.name });
        },
        stateChanged: (state, detail) => this.notify({ kind: "sink_state", sink: sink.name, state, detail }),
      });
    }
  }

  /** Whether `type` is enabled: lets hot code skip building the data of a masked type. */
  isEnabled(type: EventType): boolean {
    return this.enabled.has(type);
  }

  /** Replace the type mask (config reload). */
  setEnabledTypes(types: Iterable<EventType>): void {
    this.enabled = new Set(types);
  }

  /**
   * Emit one event. Returns true when it was handed to the sinks (delivery itself is asynchronous
   * and may still drop, counted), false when filtered or refused. Never throws, never waits.
   */
  emit<T extends EventType>(type: T, data: EventDataMap[T]): boolean {
    try {
      if (!this.enabled.has(type)) {
        this.filtered++;
        this.notify({ kind: "filtered", type });
        return false;
      }
      if (this.state === "closed") return this.refuse(type, "closed");
      const event = this.factory.make(type, data);
      if (this.validate && !EVENT_SCHEMAS[type].safeParse(event).success) return this.refuse(type, "invalid");
      const datagram = Buffer.from(JSON.stringify(event), "utf8");
      if (datagram.length > this.maxEventBytes) return this.refuse(type, "too_large");
      this.emitted++;
      this.emittedByType[type]++;
      this.notify({ kind: "emitted", type, bytes: datagram.length });
      for (const sink of this.sinks) {
        try {
          sink.send(datagram, type);
        } catch {
          // A sink must not throw; if one does, count it against that event and carry on.
          this.sinkDrops.error++;
          this.notify({ kind: "dropped", type, reason: "error", sink: sink.name });
        }
      }
      return true;
    } catch {
      // JSON.stringify on a cycle or BigInt, a throwing clock or id generator, an unknown type.
      return this.refuse(type, "error");
    }
  }

  /** Stream of updates for metrics and logs. Returns the unsubscribe function. */
  subscribe(listener: EmitterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Snapshot of all counters. */
  stats(): EmitterStats {
    const sinks: Record<string, SinkStats> = {};
    let queued = 0;
    for (const sink of this.sinks) {
      const s = sink.stats();
      sinks[sink.name] = s;
      queued += s.queued;
    }
    const dropped = emptyDropCounts();
    for (const reason of DROP_REASONS) dropped[reason] = this.ownDrops[reason] + this.sinkDrops[reason];
    return {
      emitted: this.emitted,
      filtered: this.filtered,
      queued,
      dropped,
      emittedByType: { ...this.emittedByType },
      sinks,
    };
  }

  /** Start every sink. */
  async start(): Promise<void> {
    if (this.state !== "new") return;
    this.state = "started";
    for (const sink of this.sinks) await sink.start();
  }

  /** Stop accepting events, then flush and close every sink (each bounded by its own flush deadline). */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await Promise.all(this.sinks.map((s) => s.close()));
  }

  private refuse(type: EventType, reason: DropReason): false {
    this.ownDrops[reason]++;
    this.notify({ kind: "dropped", type, reason, sink: null });
    return false;
  }

  private notify(update: EmitterUpdate): void {
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(update);
      } catch {
        // Observability must never break the mining path.
      }
    }
  }
}
