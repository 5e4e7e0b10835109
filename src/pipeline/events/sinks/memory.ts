/**
 * In-memory sink for tests and `tbg dev` wiring: keeps every datagram (bounded), parsed on demand.
 */
import { emptyDropCounts, NOOP_OBSERVER } from "../sink.ts";
import type { EventSink, SinkObserver, SinkStats } from "../sink.ts";
import type { EventType, MiningEvent } from "../types.ts";

/** Options of {@link MemorySink}. */
export interface MemorySinkOptions {
  /** Name in stats. Default `"memory"`. */
  name?: string;
  /** Most datagrams kept; older ones are dropped as `queue_full`. Default 100 000. */
  maxItems?: number;
}

/** Stores datagrams in an array. `received` are the raw datagrams, oldest first. */
export class MemorySink implements EventSink {
  readonly name: string;
  readonly received: Buffer[] = [];
  private readonly maxItems: number;
  private observer: SinkObserver = NOOP_OBSERVER;
  private readonly dropped = emptyDropCounts();
  private sent = 0;
  private closed = false;
  private readonly types: EventType[] = [];

  constructor(options: MemorySinkOptions = {}) {
    this.name = options.name ?? "memory";
    this.maxItems = options.maxItems ?? 100_000;
  }

  attach(observer: SinkObserver): void {
    this.observer = observer;
  }

  send(datagram: Buffer, type: EventType): void {
    if (this.closed) {
      this.dropped.closed++;
      this.observer.dropped("closed", type);
      return;
    }
    if (this.received.length >= this.maxItems) {
      this.received.shift();
      const old = this.types.shift() ?? type;
      this.dropped.queue_full++;
      this.observer.dropped("queue_full", old);
    }
    this.received.push(datagram);
    this.types.push(type);
    this.sent++;
  }

  /** The stored events, parsed. */
  events(): MiningEvent[] {
    return this.received.map((b) => JSON.parse(b.toString("utf8")) as MiningEvent);
  }

  /** Forget everything stored (counters stay). */
  clear(): void {
    this.received.length = 0;
    this.types.length = 0;
  }

  stats(): SinkStats {
    return { state: this.closed ? "closed" : "ready", sent: this.sent, queued: 0, dropped: { ...this.dropped } };
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
