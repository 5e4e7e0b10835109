/**
 * Events straight to NATS JetStream from the engine (config `events.nats`): subject
 * `mining.events.{region}.{event_type}`, `Nats-Msg-Id` = `event_id`, through the same disk spool as
 * `tbg publisher`, so nothing is lost while NATS is down and a restart replays what was not acknowledged.
 * The mining path only pushes a buffer onto a bounded in-memory queue; validation, spooling and
 * publishing happen on a later turn of the event loop (setImmediate), in batches.
 */
import { JetStreamPublisher, type JetStreamPublisherOptions } from "./publisher.ts";
import { emptyDropCounts, type DropReason, type EventSink, type SinkObserver, type SinkState, type SinkStats } from "../events/sink.ts";
import type { EventType } from "../events/types.ts";
import { redactNatsServers } from "../events/nats-options.ts";

export interface JetStreamSinkOptions {
  natsUrl: string;
  region: string;
  /** Where the spool lives (e.g. `data_dir/nats-spool`). */
  spoolDir: string;
  /** Most events held in memory before the spool takes them (oldest dropped past it). Default 100 000. */
  queueMax?: number;
  /** Events handed to the spool per event-loop turn. Default 2 000. */
  batch?: number;
  auth?: JetStreamPublisherOptions["auth"];
  onError?: (err: Error, context: string) => void;
  /** For tests: extra publisher options (stream settings, window, timeouts). */
  publisher?: Partial<JetStreamPublisherOptions>;
}

export class JetStreamSink implements EventSink {
  readonly name: string;
  private observer: SinkObserver | null = null;
  private readonly publisher: JetStreamPublisher;
  private queue: Array<{ buf: Buffer; type: EventType }> = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  private sent = 0;
  private readonly dropped = emptyDropCounts();
  private state: SinkState = "idle";
  private readonly queueMax: number;
  private readonly batch: number;

  constructor(private readonly o: JetStreamSinkOptions) {
    this.name = `nats:${redactNatsServers(o.natsUrl)}`;
    this.queueMax = o.queueMax ?? 100_000;
    this.batch = o.batch ?? 2_000;
    this.publisher = new JetStreamPublisher({
      natsUrl: o.natsUrl,
      region: o.region,
      spoolDir: o.spoolDir,
      auth: o.auth,
      onStreamReset: (reason) => o.onError?.(new Error(`${reason}: publishing the retained spool again`), "stream reset"),
      ...o.publisher,
      // State follows the link, not the traffic: "ready" as soon as it connects, "congested" when it drops.
      onNatsReady: () => this.updateState(),
      onError: (err, context) => {
        o.onError?.(err, context);
        if (context === "nats") this.updateState();
      },
    });
  }

  attach(observer: SinkObserver): void {
    this.observer = observer;
  }

  send(datagram: Buffer, type: EventType): void {
    if (this.closed) return this.drop("closed", type);
    if (this.queue.length - this.head >= this.queueMax) {
      const oldest = this.queue[this.head++];
      this.drop("queue_full", oldest.type);
    }
    this.queue.push({ buf: datagram, type });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drop(reason: DropReason, type: EventType): void {
    this.dropped[reason]++;
    this.observer?.dropped(reason, type);
  }

  private drain(): void {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + this.batch);
    for (; this.head < end; this.head++) {
      const { buf, type } = this.queue[this.head];
      if (this.publisher.ingest(buf)) this.sent++;
      else this.drop("queue_full", type); // the spool is at its size cap (block_found is never refused)
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
    this.updateState();
  }

  private updateState(): void {
    if (this.closed) return;
    const s = this.publisher.stats();
    // Not ready yet and nothing failed: still connecting (idle), not "unreachable".
    const next: SinkState = s.nats.ready ? "ready" : s.nats.errors > 0 || s.nats.disconnects > 0 ? "congested" : this.state;
    if (next !== this.state) {
      this.state = next;
      this.observer?.stateChanged(next, next === "ready" ? "connected to JetStream" : "NATS unreachable: spooling to disk");
    }
  }

  stats(): SinkStats {
    const s = this.publisher.stats();
    return { state: this.closed ? "closed" : this.state, sent: this.sent, queued: this.queue.length - this.head + s.spool.unacked, dropped: { ...this.dropped } };
  }

  /** Counters of the underlying spool and NATS link, for /health. */
  publisherStats() {
    return this.publisher.stats();
  }

  async start(): Promise<void> {
    await this.publisher.start();
  }

  /** Moves everything queued into the spool, then closes (what is not yet acknowledged stays spooled for the next run). */
  async close(): Promise<void> {
    while (this.head < this.queue.length) this.drain();
    this.closed = true;
    await this.publisher.close();
  }
}
