/**
 * Live tail of committed events in Redis Streams: `XADD mining:{event_type} MAXLEN ~ 100000 *`.
 *
 * Entry fields (flattened envelope, so readers can filter without parsing JSON):
 *   event, event_id, timestamp (µs, decimal string), source, region, instance, data (JSON of `data`).
 *
 * Redis is best-effort after the database commit: `write()` only queues and
 * never blocks or throws. A drain loop sends the queue with node-redis auto-pipelining whenever the
 * client is ready; while Redis is down the queue is kept (bounded: the oldest entries are dropped and
 * counted past `maxBacklog`) and sent after the client reconnects by itself. Delivery is
 * at-least-once: an XADD whose reply was lost in a disconnect is sent again, so readers de-duplicate
 * on `event_id` if they must. Events committed before a crash but not yet sent are not re-sent.
 */
import { createClient } from "redis";
import type { MiningEvent } from "../events/types.ts";

/** Where committed events go after the database. */
export interface StreamSink {
  /** Queues committed events. Never throws, never waits. */
  write(events: readonly MiningEvent[]): void;
  /** Counters for /health and metrics. */
  stats(): StreamSinkStats;
  start(): Promise<void>;
  /** Tries to send what is queued (up to `timeoutMs`), then disconnects. */
  close(timeoutMs?: number): Promise<void>;
}

/** Counters of a {@link StreamSink}. */
export interface StreamSinkStats {
  /** Entries acknowledged by Redis. */
  written: number;
  /** Entries waiting to be sent. */
  backlog: number;
  /** Entries dropped because the backlog was full (Redis down too long) or still queued at close. */
  dropped: number;
  /** Failed XADD attempts plus connection errors. */
  errors: number;
  /** Client connected and ready. */
  connected: boolean;
  /** Last error text, if any. */
  lastError: string | undefined;
}

/** Options of {@link RedisStreamWriter}. Defaults are the values documented per field. */
export interface RedisStreamOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Key prefix; the key is prefix + event type. Default `mining:`. */
  keyPrefix?: string;
  /** Approximate stream length cap (`MAXLEN ~`). Default 100 000. */
  maxLen?: number;
  /** Most entries kept while Redis is unreachable; the oldest go first. Default 100 000. */
  maxBacklog?: number;
  /** Entries sent per pipelined round. Default 1 000. */
  chunkSize?: number;
  /** Longest wait between reconnect attempts, ms (exponential from 50 ms). Default 2 000. */
  reconnectMaxDelayMs?: number;
  /** Wait after a failed round while still connected (e.g. Redis OOM), ms. Default 1 000. */
  retryDelayMs?: number;
  /** Called with every client or command error (for logging). */
  onError?: (err: Error) => void;
}

type Entry = { key: string; fields: Record<string, string> };

/** The flattened Redis entry of one event (see module comment). */
export function streamEntry(e: MiningEvent, keyPrefix = "mining:"): Entry {
  return {
    key: `${keyPrefix}${e.event}`,
    fields: {
      event: e.event,
      event_id: e.event_id,
      timestamp: String(e.timestamp),
      source: e.source,
      region: e.region,
      instance: e.instance,
      data: JSON.stringify(e.data),
    },
  };
}

/** node-redis v6 implementation of {@link StreamSink}. */
export class RedisStreamWriter implements StreamSink {
  private readonly client: ReturnType<typeof createClient>;
  private readonly opts: Required<Omit<RedisStreamOptions, "onError">> & Pick<RedisStreamOptions, "onError">;
  private backlog: Entry[] = [];
  private draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  private readonly counters = { written: 0, dropped: 0, errors: 0 };
  private lastError: string | undefined;

  constructor(opts: RedisStreamOptions) {
    this.opts = {
      keyPrefix: "mining:", maxLen: 100_000, maxBacklog: 100_000, chunkSize: 1_000,
      reconnectMaxDelayMs: 2_000, retryDelayMs: 1_000, ...opts,
    };
    this.client = createClient({
      url: opts.url,
      // Our own bounded backlog replaces node-redis' unbounded offline queue.
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), this.opts.reconnectMaxDelayMs) },
    });
    // Without an 'error' listener node-redis crashes the process on the first network error.
    this.client.on("error", (err: Error) => this.noteError(err));
    this.client.on("ready", () => this.kick());
  }

  /** Starts connecting in the background; resolves at once (Redis down at start is fine). */
  async start(): Promise<void> {
    this.client.connect().catch((err: Error) => this.noteError(err));
  }

  write(events: readonly MiningEvent[]): void {
    if (this.closing) return;
    for (const e of events) this.backlog.push(streamEntry(e, this.opts.keyPrefix));
    const excess = this.backlog.length - this.opts.maxBacklog;
    if (excess > 0) {
      this.backlog.splice(0, excess);
      this.counters.dropped += excess;
    }
    this.kick();
  }

  stats(): StreamSinkStats {
    return { ...this.counters, backlog: this.backlog.length, connected: this.client.isReady, lastError: this.lastError };
  }

  /** Resolves when the backlog is empty (or after `timeoutMs`, default 5 000). Returns whether it emptied. */
  async flushed(timeoutMs = 5_000): Promise<boolean> {
    if (this.backlog.length === 0 && !this.draining) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return ok;
  }

  async close(timeoutMs = 5_000): Promise<void> {
    if (this.client.isReady) await this.flushed(timeoutMs);
    this.closing = true;
    clearTimeout(this.retryTimer);
    // Whatever could not be sent in time is lost to Redis (PostgreSQL has it): count it.
    this.counters.dropped += this.backlog.length;
    this.backlog = [];
    if (this.client.isOpen) this.client.destroy();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private noteError(err: Error): void {
    this.counters.errors++;
    this.lastError = err.message;
    this.opts.onError?.(err);
  }

  private kick(): void {
    if (this.draining || this.retryTimer || this.closing) return;
    void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // Bounded: each round either removes entries or stops.
      while (this.backlog.length > 0 && this.client.isReady && !this.closing) {
        const chunk = this.backlog.slice(0, this.opts.chunkSize);
        // Issued in one tick: node-redis pipelines them into one write.
        const results = await Promise.allSettled(chunk.map((en) => this.client.xAdd(en.key, "*", en.fields, {
          TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: this.opts.maxLen },
        })));
        const failed = chunk.filter((_, i) => results[i].status === "rejected");
        this.counters.written += chunk.length - failed.length;
        // The chunk is still at the head unless write() overflowed meanwhile and trimmed it.
        const stillHead = this.backlog[0] === chunk[0];
        this.backlog.splice(0, stillHead ? chunk.length : 0, ...(stillHead ? failed : []));
        if (failed.length > 0) {
          const first = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
          this.noteError(first?.reason instanceof Error ? first.reason : new Error(String(first?.reason)));
          // Still connected (e.g. OOM)? Pause before retrying. Disconnected? 'ready' restarts us.
          if (this.client.isReady) this.scheduleRetry();
          break;
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.backlog.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    // 'ready' may have fired while this round was in flight (its kick was ignored): go again.
    else if (this.client.isReady) this.kick();
  }

  private scheduleRetry(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.opts.retryDelayMs);
    this.retryTimer.unref();
  }
}
