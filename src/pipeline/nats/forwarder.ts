/**
 * Spool → JetStream. Reads up to `window` records from the spool, publishes them concurrently (in
 * order on the wire) with `Nats-Msg-Id` = event_id, and acks the spool up to the longest prefix that
 * got PubAcks. On any failure it rewinds to the acked position and retries after a backoff (or as soon
 * as NATS is back): records already stored by JetStream come back as `duplicate` PubAcks inside the
 * 2-minute window and are dropped by the database's conflict key after it.
 */
import type { Spool, SpoolRecord } from "./spool.ts";
import { eventSubject } from "./jetstream.ts";
import { sleep, type NatsLink } from "./nats-link.ts";

/** Options of {@link Forwarder}; defaults per field. */
export interface ForwarderOptions {
  spool: Spool;
  link: Pick<NatsLink, "ready" | "whenReady" | "publish"> & Partial<Pick<NatsLink, "recheck">>;
  /** Region in the subject `mining.events.{region}.{event_type}`. */
  region: string;
  /** Records in flight at once. Default 256. */
  window?: number;
  /** Wait for each PubAck, ms. Default 5 000. */
  publishTimeoutMs?: number;
  /** First retry delay after a failed round, ms; doubles up to `retryMaxMs`. Default 100. */
  retryInitialMs?: number;
  /** Default 2 000. */
  retryMaxMs?: number;
  /** Publish failures (for logging). */
  onError?: (err: Error) => void;
  /** A new PubAck carried a stream sequence at or below one already acknowledged: the stream was reset under us. */
  onSequenceBackwards?: (seq: number, previous: number) => void;
}

/** Counters of a {@link Forwarder}. */
export interface ForwarderStats {
  /** Records JetStream stored (new PubAcks). */
  published: number;
  /** PubAcks flagged duplicate (re-sends inside the duplicate window). */
  duplicates: number;
  /** Failed publish rounds (each retry counts once). */
  failedRounds: number;
  /** Spool records that were not a decodable event (skipped). */
  undecodable: number;
  /** Highest stream sequence JetStream acknowledged (0 before the first). */
  lastSeq: number;
}

/** See the module comment. */
export class Forwarder {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly s: ForwarderStats = { published: 0, duplicates: 0, failedRounds: 0, undecodable: 0, lastSeq: 0 };
  private replayWanted = false;
  /** Sequence floor of the round in flight: a new PubAck at or below it means the stream went backwards. */
  private roundFloor = 0;
  private roundMax = 0;
  private backwards: { seq: number; previous: number } | undefined;
  private readonly window: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: ForwarderOptions) {
    this.window = o.window ?? 256;
    this.timeoutMs = o.publishTimeoutMs ?? 5_000;
  }

  start(): void {
    this.loop ??= this.supervise();
  }

  /** Runs the publish loop; an unexpected failure (e.g. a spool read error) is reported and the loop restarts. */
  private async supervise(): Promise<void> {
    const signal = this.abort.signal;
    let delay = this.o.retryInitialMs ?? 100;
    while (!signal.aborted) {
      try {
        await this.run();
        return;
      } catch (err) {
        this.o.onError?.(err instanceof Error ? err : new Error(String(err)));
        this.o.spool.rewind();
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.o.retryMaxMs ?? 2_000);
      }
    }
  }

  stats(): ForwarderStats {
    return { ...this.s };
  }

  /** Publish the spool's retained (already acknowledged) records again before new ones, from the next round on. */
  requestReplay(): void {
    this.replayWanted = true;
  }

  /** Forget the sequence high-water mark (a reset stream starts again at 1). */
  resetSequence(seq = 0): void {
    this.s.lastSeq = seq;
  }

  /** Stops after the round in flight (its outcome is still acked or rewound). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const initial = this.o.retryInitialMs ?? 100;
    let delay = initial;
    while (!signal.aborted) {
      await this.o.link.whenReady(signal);
      await this.o.spool.waitForData(signal);
      if (signal.aborted) break;
      if (!this.o.link.ready) continue;
      if (this.replayWanted) {
        this.replayWanted = false;
        this.o.spool.rewind();
        this.o.spool.replayRetained();
      }
      const records = await this.o.spool.read(this.window);
      if (records.length === 0) continue;
      this.roundFloor = this.s.lastSeq;
      this.roundMax = 0;
      this.backwards = undefined;
      const results = await Promise.allSettled(records.map((r) => this.publishOne(r)));
      const b = this.backwards as { seq: number; previous: number } | undefined;
      if (b) {
        this.s.lastSeq = this.roundMax;
        this.o.onSequenceBackwards?.(b.seq, b.previous);
      } else if (this.roundMax > this.s.lastSeq) this.s.lastSeq = this.roundMax;
      let ok = 0;
      while (ok < results.length && results[ok].status === "fulfilled") ok++;
      if (ok > 0) this.o.spool.ack(records[ok - 1].end, ok);
      if (ok === records.length) {
        delay = initial;
        continue;
      }
      this.s.failedRounds++;
      const failure = results[ok] as PromiseRejectedResult;
      this.o.onError?.(failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason)));
      this.o.spool.rewind();
      if (this.o.link.ready) this.o.link.recheck?.(); // connected yet failing: is the stream still there?
      await sleep(delay, signal);
      delay = Math.min(delay * 2, this.o.retryMaxMs ?? 2_000);
    }
  }

  private async publishOne(r: SpoolRecord): Promise<void> {
    let head: { event?: unknown; event_id?: unknown };
    try {
      head = JSON.parse(r.payload.toString("utf8")) as typeof head;
    } catch {
      head = {};
    }
    if (typeof head.event !== "string" || typeof head.event_id !== "string") {
      this.s.undecodable++;
      return;
    }
    const ack = await this.o.link.publish(eventSubject(this.o.region, head.event), r.payload, head.event_id, this.timeoutMs);
    if (ack.duplicate) this.s.duplicates++;
    else {
      this.s.published++;
      if (ack.seq <= this.roundFloor && !this.backwards) this.backwards = { seq: ack.seq, previous: this.roundFloor };
    }
    if (ack.seq > this.roundMax) this.roundMax = ack.seq;
  }
}
