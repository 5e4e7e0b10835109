/**
 * The collector's write path: events in → batches of up to `maxBatchEvents` every
 * `flushIntervalMs` → `EventStore.writeBatch` (one transaction) → Redis (`StreamSink`) → commit hooks.
 *
 * Guarantees:
 * - Nothing lost: a batch that fails for a transient reason (database down, restarting, deadlock) is
 *   retried with exponential backoff until it commits or the batcher is closed. After a split, the
 *   retry carries only the events not yet settled (committed or rejected), so every event gets
 *   exactly one outcome and the counters count each once.
 * - Nothing doubled: the store's conflict keys turn a retried or replayed event into a duplicate.
 * - No poisoning: what PostgreSQL is known to refuse in any string of an event, known field or not
 *   (a NUL, a lone surrogate: src/util/text.ts `storageTextProblem`), is checked at `push()`: such an
 *   event is `rejected` there, at the cost of one check, and never reaches a batch (a `block_found` is
 *   stored with the offending strings sanitised instead: a found block is never lost to a string).
 *   A batch the database still refuses for its data is split in halves until the offending event(s)
 *   are isolated; those are reported `rejected`, the rest commit.
 * - Order: batches commit one at a time, in arrival order.
 * - Back-pressure: past `maxPendingEvents` queued events, `push()` refuses (returns false, outcome
 *   `dropped`), so a JetStream input naks and a datagram input counts the loss.
 *
 * Inputs acknowledge through the per-event `done` callback (e.g. JetStream `msg.ack()` on `stored` /
 * `duplicate`, `msg.term()` on `malformed` / `rejected`, `msg.nak()` on `dropped` / `aborted`) or the
 * batch-level `onCommitted` hook. Either runs only after the database commit.
 */
import type { MiningEvent } from "../events/types.ts";
import type { EventStore, WriteResult } from "./event-store.ts";
import { classifyStoreError, StoreDataError } from "./errors.ts";
import type { StreamSink } from "./redis-streams.ts";
import { withTimeout } from "../../util/async.ts";
import { sanitizeDeep, storageTextProblem } from "../../util/text.ts";
import { errorText } from "../../util/errors.ts";

/** What became of one pushed event. */
export type EventOutcome =
  | "stored"     // committed by this batcher
  | "duplicate"  // already in the database
  | "malformed"  // failed validation (pushRaw)
  | "rejected"   // valid, but the database refuses its data
  | "dropped"    // queue full
  | "aborted";   // the batcher closed before it could be stored

/** Per-event completion callback. */
export type DoneCallback = (outcome: EventOutcome, detail?: string) => void;

/** A committed batch, for {@link BatcherOptions.onCommitted}. */
export interface CommittedBatch {
  /** Every event of the batch that is now in the database (new and duplicates). */
  events: MiningEvent[];
  /** The ones this batch inserted. */
  inserted: MiningEvent[];
  duplicates: number;
}

/** Validator in the shape of src/pipeline/events `validateEvent`. */
export type EventValidator = (input: unknown) => { ok: true; event: MiningEvent } | { ok: false; error: string };

/** Options of {@link Batcher}. */
export interface BatcherOptions {
  store: EventStore;
  /** Redis live tail; optional (DB only without it). */
  sink?: StreamSink;
  /** Flush when this many events are queued. Default 5 000. */
  maxBatchEvents?: number;
  /** Flush at least this often while events are queued, ms. Default 1 000. */
  flushIntervalMs?: number;
  /** Refuse pushes beyond this many queued events. Default 200 000. */
  maxPendingEvents?: number;
  /** First retry delay after a transient store failure, ms; doubles per attempt. Default 100. */
  retryInitialMs?: number;
  /** Longest retry delay, ms. Default 5 000. */
  retryMaxMs?: number;
  /** For `pushRaw`; required to use it. */
  validate?: EventValidator;
  /** Called after each commit, before per-event callbacks. Exceptions are swallowed (and counted). */
  onCommitted?: (batch: CommittedBatch) => void;
  /** Store errors (each retry) and rejected events, for logging. */
  onError?: (err: Error, context: { retryInMs?: number; event?: MiningEvent }) => void;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
}

/** Counters and gauges of a {@link Batcher}. */
export interface BatcherStats {
  /** Events pushed (valid or not). */
  received: number;
  /** Inserted into the database. */
  stored: number;
  /** Already in the database. */
  duplicates: number;
  /** Failed validation. */
  malformed: number;
  /** Refused for their data: by the database, or before insert (counted in `precheckRejected` too). */
  rejected: number;
  /** Of `rejected`, refused at `push()` for a string PostgreSQL would refuse (no batch ever carried them). */
  precheckRejected: number;
  /** `block_found` events stored with strings sanitised rather than refused. */
  sanitized: number;
  /** Refused because the queue was full. */
  dropped: number;
  /** Queued, not yet committed (includes the batch in flight). */
  pending: number;
  /** Batches committed. */
  batches: number;
  /** Transient store failures (each retry counts). */
  storeErrors: number;
  /** Duration of the last committed batch including its retries, ms. */
  lastBatchMs: number;
  /** Longest batch so far, ms. */
  maxBatchMs: number;
  /** Commit time minus the oldest event timestamp of the last batch, ms (end-to-end lag). */
  lagMs: number;
  /** Exceptions thrown by hooks and callbacks. */
  hookErrors: number;
  /**
   * Events `close()` gave up on (outcome `aborted`): still queued, or in a write that had not finished
   * when the close timeout ran out (that write may still commit them; a redelivery is then a duplicate).
   */
  aborted: number;
  /** Writes `close()` stopped waiting for (a hung connection, say); their events are counted in `aborted`. */
  abandonedWrites: number;
}

interface Item {
  event: MiningEvent;
  done?: DoneCallback;
  /** Set once the event has its outcome; `done` is called exactly once. */
  outcome?: EventOutcome;
}

/** After the close timeout, how long close() still waits for a write in progress to finish. */
const CLOSE_GRACE_MS = 100;

const defaults = {
  maxBatchEvents: 5_000,
  flushIntervalMs: 1_000,
  maxPendingEvents: 200_000,
  retryInitialMs: 100,
  retryMaxMs: 5_000,
};

/** Batches validated events into the {@link EventStore}, then the {@link StreamSink}. */
export class Batcher {
  private readonly o: typeof defaults & BatcherOptions;
  private queue: Item[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private wakeRetry: (() => void) | undefined;
  private readonly s: Omit<BatcherStats, "pending"> = {
    received: 0, stored: 0, duplicates: 0, malformed: 0, rejected: 0, precheckRejected: 0, sanitized: 0, dropped: 0, batches: 0,
    storeErrors: 0, lastBatchMs: 0, maxBatchMs: 0, lagMs: 0, hookErrors: 0, aborted: 0, abandonedWrites: 0,
  };
  /** The batch being written, for close() to abort if the write hangs. */
  private current: Item[] | undefined;
  private readonly now: () => number;

  constructor(opts: BatcherOptions) {
    this.o = { ...defaults, ...opts };
    this.now = opts.now ?? Date.now;
  }

  /** Starts the flush timer. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.kick(), this.o.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Queues a validated event. Returns false (and calls `done("dropped")`) when the queue is full or closed. */
  push(event: MiningEvent, done?: DoneCallback): boolean {
    this.s.received++;
    if (this.closed || this.queue.length + this.inFlight >= this.o.maxPendingEvents) {
      this.s.dropped++;
      this.call(done, this.closed ? "aborted" : "dropped");
      return false;
    }
    let problem: string | null;
    try {
      problem = storageTextProblem(event);
    } catch (err) {
      // Whatever the value, a push never throws: an unwalkable event is malformed.
      this.s.malformed++;
      this.call(done, "malformed", errorText(err));
      return false;
    }
    if (problem) {
      if (event.event !== "block_found" || /nested deeper than/.test(problem)) {
        this.s.rejected++;
        this.s.precheckRejected++;
        this.o.onError?.(new StoreDataError(`refused before insert: ${problem}`, undefined, undefined), { event });
        this.call(done, "rejected", problem);
        return false;
      }
      try {
        event = sanitizeDeep(event);
      } catch (err) {
        this.s.malformed++;
        this.call(done, "malformed", errorText(err));
        return false;
      }
      this.s.sanitized++;
    }
    this.queue.push({ event, done });
    if (this.queue.length >= this.o.maxBatchEvents) this.kick();
    return true;
  }

  /** Validates raw input (datagram bytes, JSON text or a parsed value) and queues it; malformed is counted, never thrown. */
  pushRaw(input: unknown, done?: DoneCallback): boolean {
    if (!this.o.validate) throw new TypeError("Batcher.pushRaw needs the validate option");
    let v: ReturnType<EventValidator>;
    try {
      v = this.o.validate(input);
    } catch (err) {
      v = { ok: false, error: `cannot validate: ${errorText(err)}` };
    }
    if (!v.ok) {
      this.s.received++;
      this.s.malformed++;
      this.call(done, "malformed", v.error);
      return false;
    }
    return this.push(v.event, done);
  }

  /** Counts an event an input rejected before it reached the batcher (e.g. undecodable bytes). */
  countMalformed(): void {
    this.s.received++;
    this.s.malformed++;
  }

  stats(): BatcherStats {
    return { ...this.s, pending: this.queue.length + this.inFlight };
  }

  /** Writes everything queued so far; resolves when it is committed (or the batcher closed). */
  async flush(): Promise<void> {
    // Bounded: each pass commits at least one batch or the batcher is closed.
    while (this.queue.length > 0 || this.flushing) {
      if (this.closed && !this.flushing) return;
      this.kick();
      await this.flushing;
    }
  }

  /**
   * Stops accepting, tries to commit what is queued for up to `timeoutMs` (default 10 000), then
   * gives up: unstored events get `done("aborted")` (a JetStream input naks them for redelivery).
   * Returns within about `timeoutMs` even when a write never returns (a half-open connection): that
   * write is abandoned, its events aborted, and should it commit later their callbacks stay silent.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await withTimeout(this.flush(), timeoutMs);
    this.closed = true;
    this.wakeRetry?.();
    const flushing = this.flushing;
    // Still flushing means the timeout ran out. A retry sleep ends at once (wakeRetry); only a write in
    // progress can keep this waiting, and a hung one (half-open connection) must not hang shutdown.
    if (flushing && (await withTimeout(flushing.then(() => true), CLOSE_GRACE_MS)) !== true) {
      this.s.abandonedWrites++;
      for (const item of this.current ?? []) this.finish(item, "aborted");
      this.inFlight = 0;
    }
    for (const item of this.queue.splice(0)) this.finish(item, "aborted");
  }

  private kick(): void {
    if (this.flushing || this.queue.length === 0 || this.closed) return;
    this.flushing = this.runBatch().finally(() => {
      this.flushing = undefined;
      if (this.queue.length >= this.o.maxBatchEvents && !this.closed) this.kick();
    });
  }

  private async runBatch(): Promise<void> {
    const batch = this.queue.splice(0, this.o.maxBatchEvents);
    this.inFlight = batch.length;
    this.current = batch;
    const started = this.now();
    try {
      const unsettled = await this.writeWithRetry(batch);
      if (unsettled.length > 0) {
        // Closed while the store was down: hand back what has no outcome yet so close() aborts it.
        this.queue.unshift(...unsettled);
        return;
      }
      const ms = this.now() - started;
      this.s.lastBatchMs = ms;
      this.s.maxBatchMs = Math.max(this.s.maxBatchMs, ms);
    } finally {
      this.inFlight = 0;
      this.current = undefined;
    }
  }

  /**
   * Returns the items left without an outcome: none once the batch is written, the rest when the
   * batcher closed first. Each retry writes only the items not settled by an earlier attempt: a split
   * may have committed (or rejected) part of the batch before a transient error hit the remainder, and
   * writing that part again would report its events a second time (as duplicates).
   */
  private async writeWithRetry(batch: Item[]): Promise<Item[]> {
    let delay = this.o.retryInitialMs;
    for (let attempt = 0; ; attempt++) {
      const rest = batch.filter((i) => i.outcome === undefined);
      if (rest.length === 0 || this.closed) return rest;
      try {
        await this.writeSplitting(rest);
        return [];
      } catch (err) {
        this.s.storeErrors++;
        const e = classifyStoreError(err);
        this.o.onError?.(e, { retryInMs: delay });
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.o.retryMaxMs);
      }
    }
  }

  /**
   * Writes `items`; on a data error splits them to isolate the refused event(s). Every item committed
   * or rejected gets its outcome; transient errors propagate.
   */
  private async writeSplitting(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    let result: WriteResult;
    try {
      result = await this.o.store.writeBatch(items.map((i) => i.event));
    } catch (err) {
      const e = classifyStoreError(err);
      if (!(e instanceof StoreDataError)) throw e;
      if (items.length === 1) {
        this.s.rejected++;
        this.o.onError?.(e, { event: items[0].event });
        this.finish(items[0], "rejected", e.message);
        return;
      }
      const mid = Math.ceil(items.length / 2);
      await this.writeSplitting(items.slice(0, mid));
      await this.writeSplitting(items.slice(mid));
      return;
    }
    this.committed(items, result);
  }

  private committed(items: Item[], result: WriteResult): void {
    this.s.batches++;
    this.s.stored += result.inserted;
    this.s.duplicates += result.duplicates;
    let oldestUs = Infinity;
    for (const i of items) oldestUs = Math.min(oldestUs, i.event.timestamp);
    this.s.lagMs = Math.max(0, this.now() - oldestUs / 1000);
    if (result.insertedEvents.length > 0) {
      // Committed is committed: a throwing sink must not skip the outcomes below (nor cause a retry).
      try {
        this.o.sink?.write(result.insertedEvents);
      } catch {
        this.s.hookErrors++;
      }
    }
    if (this.o.onCommitted) {
      try {
        this.o.onCommitted({ events: items.map((i) => i.event), inserted: result.insertedEvents, duplicates: result.duplicates });
      } catch {
        this.s.hookErrors++;
      }
    }
    // The first copy of an id the store inserted is "stored"; repeats inside the batch are duplicates.
    const fresh = new Set(result.insertedEvents.map((e) => e.event_id.toLowerCase()));
    for (const i of items) this.finish(i, fresh.delete(i.event.event_id.toLowerCase()) ? "stored" : "duplicate");
  }

  /** Gives a queued event its outcome, once: later outcomes (a write abandoned at close that commits after all) are ignored. */
  private finish(item: Item, outcome: EventOutcome, detail?: string): void {
    if (item.outcome !== undefined) return;
    item.outcome = outcome;
    if (outcome === "aborted") this.s.aborted++;
    this.call(item.done, outcome, detail);
  }

  private call(done: DoneCallback | undefined, outcome: EventOutcome, detail?: string): void {
    if (!done) return;
    try {
      done(outcome, detail);
    } catch {
      this.s.hookErrors++;
    }
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeRetry = undefined;
        resolve();
      }, ms);
      this.wakeRetry = () => {
        clearTimeout(t);
        this.wakeRetry = undefined;
        resolve();
      };
    });
  }
}
