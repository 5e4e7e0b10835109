/**
 * Why an input was refused before it reached the database, as a low-cardinality label for
 * `/metrics` and logs, plus a rate limiter for the log lines (a misbehaving sender must not turn the
 * collector's log into a second copy of its traffic).
 *
 * Pure module: no I/O; the clock is injected.
 */
/**
 * - `too_large`: above MAX_EVENT_BYTES (4 KiB, src/pipeline/events/types.ts): a producer bug, or a truncated datagram;
 * - `invalid_json`: not UTF-8 JSON, or JSON that is not an object;
 * - `unknown_type`: `event` is missing or names no known type;
 * - `schema`: a known type whose envelope or `data` fields are missing or of the wrong type/range.
 */
export const MALFORMED_REASONS = ["too_large", "invalid_json", "unknown_type", "schema"] as const;
/** See {@link MALFORMED_REASONS}. */
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

/**
 * Sorts a `validateEvent` error text (src/pipeline/events/schemas.ts) into a {@link MalformedReason}. The
 * prefixes matched here are the ones `validateEvent` writes; test/collector/malformed.test.ts pins
 * them against the real validator so a wording change there cannot silently turn into `schema`.
 */
export function malformedReason(error: string): MalformedReason {
  if (error.startsWith("(root): event is ") && error.includes("limit is")) return "too_large";
  if (error.startsWith("(root): not UTF-8 JSON") || error.startsWith("(root): expected a JSON object")) return "invalid_json";
  if (error.startsWith("event: unknown event type")) return "unknown_type";
  return "schema";
}

/** Zeroed per-reason counters. */
export function emptyMalformedCounts(): Record<MalformedReason, number> {
  return { too_large: 0, invalid_json: 0, unknown_type: 0, schema: 0 };
}

/** A log line allowed by {@link RateLimitedLog}: the key and how many notes were suppressed before it. */
export interface AllowedLine {
  key: string;
  /** Notes for this key swallowed since the previous allowed line. */
  suppressed: number;
}

/**
 * Lets one line per key through every `intervalMs` and counts the rest, so the next allowed line can
 * say how many were swallowed. Keys are few (input × reason), so the map stays small.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /** Returns the line to log, or null when this key logged less than `intervalMs` ago. */
  note(key: string): AllowedLine | null {
    const t = this.now();
    const s = this.last.get(key);
    if (s && t - s.atMs < this.intervalMs) {
      s.suppressed++;
      return null;
    }
    const suppressed = s?.suppressed ?? 0;
    this.last.set(key, { atMs: t, suppressed: 0 });
    return { key, suppressed };
  }
}

