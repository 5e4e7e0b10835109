/**
 * Builds event envelopes: UUIDv7 `event_id`, integer-microsecond `timestamp`, `source: "hosted"`,
 * region and instance. Clock and randomness are injected; the defaults are exported
 * separately so tests never depend on them.
 */
import { randomFillSync } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { EventsConfigError } from "./errors.ts";
import { REGION_PATTERN } from "./schemas.ts";
import { EVENT_SOURCE } from "./types.ts";
import type { EventDataMap, EventType, MiningEvent } from "./types.ts";

/** Options of {@link createEventFactory}. */
export interface EventFactoryOptions {
  /** Region of this instance, lowercase (`eu`, `us-east`); primary default `"eu"` lives in the config layer. */
  region: string;
  /** Name of this instance (1–128 chars), e.g. the host name. */
  instance: string;
  /** Wall clock in milliseconds since the epoch, fractional allowed. Default {@link systemClockMs}. */
  now?: () => number;
  /** Override the event id generator (tests). Default: monotonic UUIDv7 from `now` and `random`. */
  uuid?: () => string;
  /** 16 random bytes per call. Default: pooled `crypto.randomFillSync`. */
  random?: () => Uint8Array;
}

/** Makes envelopes for one instance. */
export interface EventFactory {
  readonly region: string;
  readonly instance: string;
  /** Wrap `data` into a complete event of type `type`, stamped now. Does not validate `data`. */
  make<T extends EventType>(type: T, data: EventDataMap[T]): MiningEvent<T>;
}

/**
 * Default clock: wall time with sub-millisecond resolution (Date.now() only has milliseconds, so µs
 * timestamps could not order events within one ms). `performance.now()` supplies the fraction, but it is
 * monotonic from process start: it ignores NTP steps and stops during a VM suspend. So the offset to wall
 * time is re-read from Date.now() at most once a second, and event time follows the wall clock (as the
 * records' ISO weeks do) within a second of any step.
 */
export function systemClockMs(): number {
  const mono = performance.now();
  if (mono - clockAnchorMono > 1000) {
    clockOffsetMs = Date.now() - mono;
    clockAnchorMono = mono;
  }
  return mono + clockOffsetMs;
}
let clockAnchorMono = performance.now();
let clockOffsetMs = Date.now() - clockAnchorMono;

const POOL_UUIDS = 256;
/** Default randomness: one randomFillSync per 256 ids instead of one per id (shares are hot path). */
export function pooledRandom16(): () => Uint8Array {
  const pool = new Uint8Array(16 * POOL_UUIDS);
  let next = POOL_UUIDS;
  return () => {
    if (next === POOL_UUIDS) {
      randomFillSync(pool);
      next = 0;
    }
    const out = pool.subarray(next * 16, next * 16 + 16);
    next++;
    return out;
  };
}

/**
 * Monotonic UUIDv7 generator, fed the clock reading of each event (RFC 9562 §6.2 method 1: a counter seeded randomly each new ms).
 * uuid's own `v7()` keeps such state only when it reads `Date.now()` itself; with an injected clock
 * we keep it here so ids stay strictly increasing even if the clock steps backwards.
 */
export function createUuidV7(random: () => Uint8Array): (nowMs: number) => string {
  let lastMs = -Infinity;
  let seq = 0;
  return (nowMs: number) => {
    const rnds = random();
    const ms = Math.floor(nowMs);
    if (ms > lastMs) {
      lastMs = ms;
      // 31 random bits, as uuid does, leaving headroom for the counter within one ms.
      seq = ((rnds[6] & 0x7f) << 24) | (rnds[7] << 16) | (rnds[8] << 8) | rnds[9];
    } else {
      seq = (seq + 1) | 0;
      if (seq === 0) lastMs++; // counter wrapped: borrow the next ms (still ordered)
    }
    return uuidv7({ msecs: lastMs, seq, random: rnds });
  };
}

/** Create the envelope factory. Throws `EVENTS_CONFIG_INVALID` on a bad region or instance. */
export function createEventFactory(options: EventFactoryOptions): EventFactory {
  const { region, instance } = options;
  if (!REGION_PATTERN.test(region)) {
    throw new EventsConfigError(`region ${JSON.stringify(region)} must match ${REGION_PATTERN}`);
  }
  if (instance.length < 1 || instance.length > 128) {
    throw new EventsConfigError("instance must be 1–128 characters");
  }
  const now = options.now ?? systemClockMs;
  const custom = options.uuid;
  const nextId = createUuidV7(options.random ?? pooledRandom16());
  return {
    region,
    instance,
    make<T extends EventType>(type: T, data: EventDataMap[T]): MiningEvent<T> {
      // One clock read per event: the id's millisecond and the µs timestamp agree.
      const nowMs = now();
      const event = {
        event: type,
        event_id: custom ? custom() : nextId(nowMs),
        timestamp: Math.floor(nowMs * 1000),
        source: EVENT_SOURCE,
        region,
        instance,
        data,
      };
      return event as unknown as MiningEvent<T>;
    },
  };
}
