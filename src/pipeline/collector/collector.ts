/**
 * The collector: inputs (the engine's Unix datagram socket and/or the JetStream durable
 * `event-pipeline`) → validation → Batcher → PostgreSQL or PGlite (one transaction per batch) → Redis
 * Streams, with its counters on /metrics and /health. Composition root for src/pipeline/collector; the parts
 * live in src/pipeline/storage (store, batcher, Redis writer, retention), src/pipeline/events (validation, datagram
 * reader) and src/pipeline/nats (stream and consumer helpers).
 *
 * Start order: metrics → batcher → Redis → socket (bound before anything slow, so an engine started
 * right after us finds it) → database (first attempt inline; while it is unreachable the batcher holds
 * events and retries, the store keeps trying to open in the background) → JetStream → HTTP.
 * Close order is the reverse of the data flow: HTTP, stop the inputs, flush the batcher, send the last
 * JetStream acks/naks, Redis, database.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { validateEvent } from "../events/schemas.ts";
import { sleep } from "../nats/nats-link.ts";
import { redactNatsServers } from "../events/nats-options.ts";
import { Batcher, type BatcherStats, type CommittedBatch } from "../storage/batcher.ts";
import { PgEventStore, PgliteEventStore, type EventStore, type SqlEventStore, type WriteResult } from "../storage/event-store.ts";
import { RedisStreamWriter, type StreamSinkStats } from "../storage/redis-streams.ts";
import { purgeExpired } from "../storage/retention.ts";
import { TbgError, errorText } from "../../util/errors.ts";
import { COLLECTOR_DEFAULTS } from "./config.ts";
import { CollectorHttpServer } from "./http.ts";
import { JetStreamInput, type JetStreamInputOptions, type JetStreamInputStats } from "./jetstream-input.ts";
import { RateLimitedLog, type MalformedReason } from "./malformed.ts";
import { CollectorMetrics } from "./metrics.ts";
import { SocketInput, type SocketInputStats } from "./socket-input.ts";
import { PlatformStatusSource } from "./platform-status.ts";
import { AddressMask, type AddressDisplay } from "../../util/text.ts";

/** Options of {@link Collector}; defaults in {@link COLLECTOR_DEFAULTS}. */
export interface CollectorOptions {
  /** Datagram socket to bind; null/absent = no socket input. */
  socketPath?: string | null;
  /** chmod of the socket file, e.g. 0o660. */
  socketMode?: number;
  /** NATS server URL(s); null/absent = no JetStream input. */
  natsUrl?: string | null;
  /** How often the socket path is checked against the socket bound there, ms. Default 1 000. */
  socketWatchIntervalMs?: number;
  /** JetStream consumer tuning (durable name, ack wait, …). */
  nats?: Omit<JetStreamInputOptions, "url" | "batcher" | "onMalformed" | "onError">;
  /** `postgres://…`; null/absent = embedded PGlite under `dataDir`. */
  databaseUrl?: string | null;
  /** PGlite lives in `${dataDir}/pgdata`. Ignored with `databaseUrl` or `store`. */
  dataDir?: string;
  /** A store to use instead of opening one (tests); the collector still starts and closes it. */
  store?: SqlEventStore;
  /** `redis://…`; null/absent = no Redis output. */
  redisUrl?: string | null;
  /** This collector's region (identity in /health and /metrics; events keep their own region). */
  region?: string;
  /** `/health` + `/metrics` listener; null = none. `port` 0 = ephemeral. */
  http?: { host: string; port: number } | null;
  /** The platform page (`/`, `/api/platform`) on that listener: addresses shown as `addressDisplay`; false = off. Default on, `short`. */
  statusPage?: { addressDisplay: AddressDisplay } | false;
  batch?: { maxEvents?: number; flushIntervalMs?: number; maxPendingEvents?: number; closeTimeoutMs?: number };
  /** Raw-row retention on the plain path (no-op under TimescaleDB); false = off. */
  retention?: { intervalMs?: number; firstRunDelayMs?: number; sharesDays?: number } | false;
  /** Backoff while the database cannot be opened, ms. */
  storeRetry?: { initialMs?: number; maxMs?: number };
  /** Where logs go. Default: nowhere. */
  log?: Logger;
  /** Node.js process metrics on /metrics. Default true. */
  defaultMetrics?: boolean;
  /** Clock, ms since the epoch. Default Date.now. */
  now?: () => number;
}

/** Everything /health and /metrics show. */
export interface CollectorStats {
  region: string;
  uptimeSeconds: number;
  database: {
    dialect: "postgres" | "pglite";
    /** URL without password, or the PGlite directory. */
    target: string;
    open: boolean;
    /** The last write attempt failed and the batcher is retrying. */
    failing: boolean;
    lastError: string | null;
  };
  batcher: BatcherStats;
  socket: SocketInputStats | null;
  nats: JetStreamInputStats | null;
  redis: StreamSinkStats | null;
  retention: { runs: number; deletedShares: number; deletedEvents: number; errors: number };
}

/** Migration problems no retry can fix (the code or the database must change). */
const FATAL_STORE_CODES = new Set(["MIGRATION_CHECKSUM_MISMATCH", "MIGRATION_DB_AHEAD", "MIGRATION_INVALID_FILE"]);

/** `postgres://user:secret@host/db` → `postgres://user@host/db` (for logs and /health). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "";
    return u.toString().replace(/:@/, "@");
  } catch {
    return "<invalid url>";
  }
}

/** See the module comment. */
export class Collector {
  readonly metrics: CollectorMetrics;
  private readonly store: SqlEventStore;
  private readonly batcher: Batcher;
  private readonly sink: RedisStreamWriter | undefined;
  private socket: SocketInput | undefined;
  private nats: JetStreamInput | undefined;
  private http: CollectorHttpServer | undefined;
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private readonly logLimiter: RateLimitedLog;
  private readonly abort = new AbortController();
  private storeOpen = false;
  private storeOpening: Promise<void> | undefined;
  private lastStoreError: string | null = null;
  private lastStoreErrorAtMs = 0;
  private lastCommitAtMs = 0;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly retention = { runs: 0, deletedShares: 0, deletedEvents: 0, errors: 0 };
  private closing: Promise<void> | undefined;
  private readonly dialect: "postgres" | "pglite";
  private readonly target: string;

  constructor(private readonly o: CollectorOptions) {
    this.now = o.now ?? Date.now;
    this.startedAtMs = this.now();
    this.logLimiter = new RateLimitedLog(COLLECTOR_DEFAULTS.logIntervalMs, this.now);
    if (!o.socketPath && !o.natsUrl) throw new TbgError("COLLECTOR_NO_INPUT", "collector: configure a socket path and/or a NATS URL");
    if (o.databaseUrl) {
      this.dialect = "postgres";
      this.target = redactUrl(o.databaseUrl);
    } else {
      this.dialect = "pglite";
      this.target = join(o.dataDir ?? COLLECTOR_DEFAULTS.dataDir, "pgdata");
    }
    this.store = o.store ?? (o.databaseUrl
      ? new PgEventStore({ url: o.databaseUrl, applicationName: "tbg-collector", onError: (err) => this.warn("database", "database connection error", err) })
      : new PgliteEventStore({ dataDir: this.target }));
    this.metrics = new CollectorMetrics({ stats: () => this.stats(), region: this.region, defaultMetrics: o.defaultMetrics });
    const timed: EventStore = {
      writeBatch: async (events): Promise<WriteResult> => {
        const t0 = performance.now();
        try {
          const r = await this.store.writeBatch(events);
          this.metrics.observeBatch((performance.now() - t0) / 1000, "ok");
          return r;
        } catch (err) {
          this.metrics.observeBatch((performance.now() - t0) / 1000, "error");
          throw err;
        }
      },
      close: () => this.store.close(),
    };
    this.sink = o.redisUrl
      ? new RedisStreamWriter({ url: o.redisUrl, onError: (err) => this.warn("redis", "redis error", err) })
      : undefined;
    this.batcher = new Batcher({
      store: timed,
      sink: this.sink,
      validate: validateEvent,
      maxBatchEvents: o.batch?.maxEvents ?? COLLECTOR_DEFAULTS.batchMaxEvents,
      flushIntervalMs: o.batch?.flushIntervalMs ?? COLLECTOR_DEFAULTS.flushIntervalMs,
      maxPendingEvents: o.batch?.maxPendingEvents ?? COLLECTOR_DEFAULTS.maxPendingEvents,
      now: this.now,
      onCommitted: (b) => this.onCommitted(b),
      onError: (err, ctx) => {
        if (ctx.event) {
          this.warn("rejected", "event rejected by the database", err, { event_id: ctx.event.event_id, type: ctx.event.event });
          return;
        }
        this.lastStoreError = err.message;
        this.lastStoreErrorAtMs = this.now();
        // Before the store is open every flush fails with "not open": the open loop logs that instead.
        if (this.storeOpen) this.warn("store", "database write failed; retrying the same batch", err, { retry_in_ms: ctx.retryInMs });
      },
    });
  }

  get region(): string {
    return this.o.region ?? COLLECTOR_DEFAULTS.region;
  }

  /** The bound /health + /metrics URL, if any. */
  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /** The store (its `database` works once it is open). */
  get eventStore(): SqlEventStore {
    return this.store;
  }

  /** True once migrations ran and writes can commit. */
  get databaseOpen(): boolean {
    return this.storeOpen;
  }

  /** Starts everything; see the module comment for the order. Throws on a socket in use or a fatal migration problem. */
  async start(): Promise<void> {
    const log = this.o.log;
    this.batcher.start();
    await this.sink?.start();
    try {
      if (this.o.socketPath) {
        this.socket = new SocketInput({
          socketPath: this.o.socketPath, socketMode: this.o.socketMode, batcher: this.batcher,
          onMalformed: (reason, error) => this.onMalformed("socket", reason, error),
          watchIntervalMs: this.o.socketWatchIntervalMs,
          onPathProblem: (problem) => {
            if (problem) log?.error({ socket: this.o.socketPath }, `event socket: ${problem}`);
            else log?.info({ socket: this.o.socketPath }, "event socket path names our socket again");
          },
        });
        await this.socket.start();
        log?.info({ socket: this.o.socketPath }, "event socket bound");
      }
      await this.openStoreOnce(true);
      if (!this.storeOpen) this.storeOpening = this.openStoreLoop();
      if (this.o.natsUrl) {
        this.nats = new JetStreamInput({
          ...this.o.nats, url: this.o.natsUrl, batcher: this.batcher,
          onMalformed: (reason, error) => this.onMalformed("nats", reason, error),
          onError: (err) => this.warn("nats", "NATS error", err),
          onStreamIssue: (issue) => this.o.log?.warn({ kind: issue.kind, missed: issue.missed, detail: issue.detail }, issue.kind === "reset" ? "JetStream stream reset" : "JetStream sequence gap: messages lost before this collector read them"),
        });
        this.nats.start();
        log?.info({ nats: redactNatsServers(this.o.natsUrl).split(","), durable: this.nats.stats().durable }, "consuming JetStream MINING_EVENTS");
      }
      if (this.o.http) {
        const page = this.o.statusPage ?? { addressDisplay: COLLECTOR_DEFAULTS.addressDisplay };
        const platform = page
          ? new PlatformStatusSource({ database: () => (this.storeOpen ? this.store.database : null), stats: () => this.stats(), mask: new AddressMask(page.addressDisplay), now: this.now })
          : null;
        this.http = new CollectorHttpServer({ ...this.o.http, metrics: this.metrics, health: () => this.stats(), platform });
        await this.http.start();
        log?.info({ url: this.http.url }, `collector health and metrics on ${this.http.url}`);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** For tests: waits until the JetStream input pulls (true) or `timeoutMs` passes (false). */
  async natsConsuming(timeoutMs = 10_000): Promise<boolean> {
    return (await this.nats?.whenConsuming(timeoutMs)) ?? false;
  }

  /** Writes everything received so far (tests, tools). */
  async flush(): Promise<void> {
    await this.batcher.flush();
  }

  stats(): CollectorStats {
    return {
      region: this.region,
      uptimeSeconds: Math.max(0, (this.now() - this.startedAtMs) / 1000),
      database: {
        dialect: this.dialect,
        target: this.target,
        open: this.storeOpen,
        failing: this.lastStoreErrorAtMs > this.lastCommitAtMs,
        lastError: this.lastStoreError,
      },
      batcher: this.batcher.stats(),
      socket: this.socket?.stats() ?? null,
      nats: this.nats?.stats() ?? null,
      redis: this.sink?.stats() ?? null,
      retention: { ...this.retention },
    };
  }

  /** Graceful shutdown (idempotent): stop inputs, commit what is queued, ack/nak, close outputs. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ---- internals -------------------------------------------------------------------------------

  private async doClose(): Promise<void> {
    const log = this.o.log;
    this.abort.abort();
    clearTimeout(this.retentionTimer);
    const step = async (name: string, fn: () => Promise<void> | undefined) => {
      try {
        await fn();
      } catch (err) {
        log?.warn({ component: name, error: errorText(err) }, "error while closing");
      }
    };
    await step("http", () => this.http?.close());
    await step("socket", () => this.socket?.close());
    await step("nats", () => this.nats?.stop());
    await step("batcher", () => this.batcher.close(this.o.batch?.closeTimeoutMs ?? COLLECTOR_DEFAULTS.closeTimeoutMs));
    await step("nats", () => this.nats?.close());
    await step("redis", () => this.sink?.close());
    await step("store", async () => {
      await this.storeOpening;
      await this.store.close();
    });
    const s = this.batcher.stats();
    log?.info({
      received: s.received, stored: s.stored, duplicates: s.duplicates, malformed: s.malformed, rejected: s.rejected, dropped: s.dropped,
      aborted: s.aborted, abandoned_writes: s.abandonedWrites,
    }, "collector stopped");
  }

  /** One attempt to open the database. `first`: a fatal migration problem is thrown instead of retried. */
  private async openStoreOnce(first: boolean): Promise<void> {
    try {
      // PGlite creates its directory but not the parents.
      if (this.dialect === "pglite" && !this.o.store) await mkdir(dirname(this.target), { recursive: true });
      await this.store.start();
      this.storeOpen = true;
      const m = this.store.migration;
      this.o.log?.info({ database: this.target, dialect: this.dialect, migrations_applied: m?.applied, schema_version: m?.current, capabilities: m?.capabilities }, "database open");
      this.scheduleRetention();
    } catch (err) {
      if (err instanceof TbgError && FATAL_STORE_CODES.has(err.code) && first) throw err;
      this.lastStoreError = errorText(err);
      this.lastStoreErrorAtMs = this.now();
      this.warn("open", "cannot open the database yet; events are held and retried", err, { database: this.target });
    }
  }

  private async openStoreLoop(): Promise<void> {
    let delay = this.o.storeRetry?.initialMs ?? COLLECTOR_DEFAULTS.storeRetryInitialMs;
    const max = this.o.storeRetry?.maxMs ?? COLLECTOR_DEFAULTS.storeRetryMaxMs;
    // Bounded by close() (abort).
    while (!this.storeOpen && !this.abort.signal.aborted) {
      await sleep(delay, this.abort.signal);
      if (this.abort.signal.aborted) return;
      await this.openStoreOnce(false);
      delay = Math.min(delay * 2, max);
    }
  }

  private scheduleRetention(): void {
    const r = this.o.retention;
    if (r === false) return;
    const every = r?.intervalMs ?? COLLECTOR_DEFAULTS.retentionIntervalMs;
    const run = () => {
      this.retentionTimer = undefined;
      void this.runRetention().finally(() => {
        if (this.abort.signal.aborted) return;
        this.retentionTimer = setTimeout(run, every);
        this.retentionTimer.unref();
      });
    };
    this.retentionTimer = setTimeout(run, r?.firstRunDelayMs ?? COLLECTOR_DEFAULTS.retentionFirstRunDelayMs);
    this.retentionTimer.unref();
  }

  private async runRetention(): Promise<void> {
    const r = this.o.retention || undefined;
    try {
      const rep = await purgeExpired(this.store.database, { sharesDays: r?.sharesDays, now: this.now });
      this.retention.runs++;
      this.retention.deletedShares += rep.shares;
      this.retention.deletedEvents += rep.eventLog;
      if (rep.shares + rep.eventLog > 0) this.o.log?.info({ shares: rep.shares, event_log: rep.eventLog }, "retention: expired raw rows deleted");
    } catch (err) {
      this.retention.errors++;
      this.warn("retention", "retention run failed", err);
    }
  }

  private onCommitted(b: CommittedBatch): void {
    const t = this.now();
    this.lastCommitAtMs = t;
    let oldestUs = Infinity;
    for (const e of b.events) oldestUs = Math.min(oldestUs, e.timestamp);
    if (Number.isFinite(oldestUs)) this.metrics.observeLag(Math.max(0, t / 1000 - oldestUs / 1e6));
  }

  private onMalformed(input: "socket" | "nats", reason: MalformedReason, error: string): void {
    const line = this.logLimiter.note(`malformed:${input}:${reason}`);
    if (line) this.o.log?.warn({ input, reason, error: error.slice(0, 300), suppressed: line.suppressed }, "malformed event skipped");
  }

  /** A rate-limited warning: one line per key per `COLLECTOR_DEFAULTS.logIntervalMs`. */
  private warn(key: string, msg: string, err: unknown, extra: Record<string, unknown> = {}): void {
    const line = this.logLimiter.note(key);
    if (line) this.o.log?.warn({ ...extra, error: errorText(err), suppressed: line.suppressed }, msg);
  }
}
