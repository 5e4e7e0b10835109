/** Valid mining events for storage and publisher tests (deterministic given the inputs). */
import { v7 as uuidv7 } from "uuid";
import type { EventDataMap, EventType, MiningEvent } from "../../src/pipeline/events/types.ts";

/** 2026-11-16 (a Monday) 00:00:00 UTC in µs. */
export const BASE_US = Date.UTC(2026, 10, 16) * 1000;

/** Builds one event; `timestampUs` defaults to BASE_US, event_id is a UUIDv7 of that millisecond. */
export function makeEvent<T extends EventType>(event: T, data: EventDataMap[T], opts: { timestampUs?: number; region?: string; instance?: string } = {}): MiningEvent<T> {
  const timestamp = opts.timestampUs ?? BASE_US;
  return {
    event,
    event_id: uuidv7({ msecs: Math.floor(timestamp / 1000) }),
    timestamp,
    source: "hosted",
    region: opts.region ?? "eu",
    instance: opts.instance ?? "eu-1",
    data,
  } as unknown as MiningEvent<T>;
}

/** Payout address of test user `i`. */
export const address = (i: number) => `bc1qtestuser${String(i).padStart(6, "0")}`;

/**
 * `n` share events spread over `users` users × 2 workers, one every `stepUs` µs from `startUs`;
 * every 10th is rejected.
 */
export function makeShares(n: number, opts: { users?: number; startUs?: number; stepUs?: number } = {}): Array<MiningEvent<"share_submitted">> {
  const users = opts.users ?? 20;
  const start = opts.startUs ?? BASE_US;
  const step = opts.stepUs ?? 1_000;
  const out: Array<MiningEvent<"share_submitted">> = [];
  for (let i = 0; i < n; i++) {
    const accepted = i % 10 !== 0;
    out.push(makeEvent("share_submitted", {
      user: address(i % users),
      worker: `rig${Math.floor(i / users) % 2}`,
      session_id: `0000${(i % users).toString(16).padStart(4, "0")}`,
      accepted,
      reject_reason: accepted ? null : "low_difficulty",
      difficulty: 1024,
      share_difficulty: accepted ? 1024 + (i % 997) : 12.5,
      job_id: (i % 50).toString(16),
      height: 900_000,
      block: false,
      ip: "203.0.113.7",
    }, { timestampUs: start + i * step }));
  }
  return out;
}

/** Polls `cond` every `everyMs` until it holds; throws after `timeoutMs`. Bounded: no open-ended waits. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
