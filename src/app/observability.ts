/**
 * The app layer around the engine: best-difficulty records, the event emitter and its sinks, the
 * events bridge, metrics, and the health/metrics HTTP server. Every part follows the one lifecycle
 * (src/util/lifecycle.ts); `startPool` (run-pool.ts) lists them with the engine and starts them in order:
 *
 *   settings file → Observability (records loaded, sinks open, bridge subscribed before the engine
 *   starts, so it sees the first tip) → ZMQ → Engine → HealthServer (`obs.health`)
 *
 * and closes them in reverse: the health server first (stop answering health checks so GeoDNS drains
 * the region), then the engine (its disconnect events still flow), then this: bridge, records flush,
 * events flush.
 */
import type { PoolConfig } from "../config/types.ts";
import type { Engine } from "../core/engine/engine.ts";
import { MiningEventEmitter, parseEventTypes, type EmitterStats } from "../pipeline/events/emitter.ts";
import { createEventFactory, systemClockMs } from "../pipeline/events/envelope.ts";
import type { EventSink } from "../pipeline/events/sink.ts";
import { UnixDgramSink } from "../pipeline/events/sinks/unix-dgram.ts";
import { BestDiffRecords, type BeatenRecord } from "./records/best-diff.ts";
import { errorText } from "../util/errors.ts";
import { throwIfCancelled } from "../util/lifecycle.ts";
import { EventsBridge } from "./events-bridge.ts";
import { HealthServer } from "./health.ts";
import { AddressMask, StatusTracker, configSecrets } from "./status-snapshot.ts";
import type { Logger } from "./logger.ts";
import { PoolMetrics, type PoolMetricsOptions } from "./metrics.ts";
import type { ZmqEndpointStatus } from "./pool-status.ts";
import { EVENT_SUBJECT_PREFIX, MINING_EVENTS_STREAM } from "../pipeline/nats/subjects.ts";
import { join } from "node:path";

/** Options of {@link Observability}. */
export interface ObservabilityOptions {
  log: Logger;
  /** The engine whose bus feeds the bridge and the metrics (constructed, not necessarily started). */
  engine: Engine;
  /** Sinks added next to the Unix datagram socket (tests, `tbg dev`'s embedded store). */
  extraEventSinks?: EventSink[];
  /** Validate every event against its schema before sending (tests, `tbg dev`). Default false. */
  validateEvents?: boolean;
  /** ZMQ endpoint states for /health and /metrics (the ZMQ subscriber provides it). */
  zmqStatus?: () => ZmqEndpointStatus[];
  /** Relay state for /health (the relay component provides it). */
  relayStatus?: () => unknown;
  /** Clock for records (ISO week) and event timestamps. Default: the system clock. */
  now?: () => number;
  /** Period of hashrate_update events; 0 = off. Default 60 s. */
  hashrateIntervalMs?: number;
  /** Override `health.port` (e.g. `tbg dev --http-port`, 0 in tests). */
  healthPort?: number;
  /**
   * A Stratum worker process (`workers`): records stay in the primary (`records` is what the bridge
   * offers shares to instead: a forwarder), no health server, no periodic hashrate events (the primary
   * sends them for the whole pool), metrics as a worker's.
   */
  worker?: { records: Pick<BestDiffRecords, "observe" | "endSession">; index: number };
  /** The primary of Stratum worker processes: its /metrics merges the workers' registries. */
  workerMetrics?: NonNullable<PoolMetricsOptions["cluster"]>;
  /** The `events.nats` sink ({@link natsEventSink}), after the Unix datagram socket and the extra sinks. */
  natsSink?: EventSink;
}

/**
 * The JetStream sink of `events.nats`, or undefined when events do not go to NATS. Imported only then, so a
 * pool without NATS never loads the NATS client. `workerIndex`: a Stratum worker process spools apart (a
 * spool has one writer); its slot number keeps the spool across restarts.
 */
export async function natsEventSink(config: PoolConfig, log: Logger, workerIndex?: number): Promise<EventSink | undefined> {
  const n = config.events.nats;
  if (!config.events.enabled || !n) return undefined;
  if (n.stream !== MINING_EVENTS_STREAM || n.subject_prefix !== `${EVENT_SUBJECT_PREFIX}.${config.region}`) {
    log.warn({ stream: n.stream, subject_prefix: n.subject_prefix }, "events.nats: only stream %s with subjects %s.{region}.{type} are supported; using those", MINING_EVENTS_STREAM, EVENT_SUBJECT_PREFIX);
  }
  const { JetStreamSink } = await import("../pipeline/nats/jetstream-sink.ts");
  return new JetStreamSink({
    natsUrl: n.servers.join(","),
    region: config.region,
    spoolDir: join(config.data_dir, workerIndex === undefined ? "nats-spool" : `nats-spool-worker-${workerIndex}`),
    queueMax: config.events.queue_max,
    auth: { token: n.token, user: n.user, pass: n.pass, credsFile: n.creds_file, tlsCaFile: n.tls_ca_file, tlsCertFile: n.tls_cert_file, tlsKeyFile: n.tls_key_file },
    publisher: { spool: { retainMs: n.retain_sec * 1000, retainBytes: n.retain_mb * 1024 * 1024 } },
    onError: (err, context) => log.warn({ context, error: err.message }, "events to NATS: %s", context),
  });
}

/** Records, events, bridge and metrics of one pool; see the module comment. */
export class Observability {
  readonly records: BestDiffRecords;
  /** null when `events.enabled` is false and no extra sink was given. */
  readonly publisher: MiningEventEmitter | null;
  readonly metrics: PoolMetrics;
  readonly bridge: EventsBridge;
  /** Blocks found and reject reasons for the status page. */
  readonly statusTracker: StatusTracker;
  /** The /health + /metrics server (a component of its own, started after the engine); null when `health.enabled` is false. */
  readonly health: HealthServer | null;
  private readonly config: PoolConfig;
  private readonly opts: ObservabilityOptions;
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(config: PoolConfig, opts: ObservabilityOptions) {
    this.config = config;
    this.opts = opts;
    const log = opts.log;
    // Records a returning (evicted) user beat are known after their records were read back from disk.
    // A full disk fails every retry: warn once a minute, with how many failures were not logged.
    let lastWarnMs = -Infinity;
    let quiet = 0;
    this.records = new BestDiffRecords({
      onLateRecords: (beaten: BeatenRecord[]) => this.bridge.emitLateRecords(beaten),
      // A worker's own records are never used (memory only, never written).
      dataDir: opts.worker ? undefined : config.data_dir,
      now: opts.now,
      onError: (err) => {
        const nowMs = Date.now();
        if (nowMs - lastWarnMs < 60_000) {
          quiet++;
          return;
        }
        lastWarnMs = nowMs;
        log.warn({ code: err.code, error: err.message, suppressed: quiet }, "best-difficulty records: write failed (kept in memory, retrying; logged at most once a minute)");
        quiet = 0;
      },
    });
    const sinks: EventSink[] = [...(opts.extraEventSinks ?? [])];
    if (config.events.enabled) {
      sinks.unshift(
        new UnixDgramSink({
          socketPath: config.events.socket_path,
          queueMax: config.events.queue_max,
          batchMaxBytes: config.events.batch_max_bytes,
          ackSocketPath: config.events.ack_socket_path ?? undefined,
          ackWindow: config.events.ack_window,
        }),
      );
    }
    if (opts.natsSink) sinks.push(opts.natsSink);
    this.publisher =
      sinks.length > 0
        ? new MiningEventEmitter({
            factory: createEventFactory({ region: config.region, instance: config.instance, now: opts.now ?? systemClockMs }),
            sinks,
            enabledTypes: parseEventTypes(config.events.types),
            validate: opts.validateEvents ?? false,
          })
        : null;
    const engine = opts.engine;
    this.metrics = new PoolMetrics({
      engine,
      publisher: this.publisher,
      records: this.records,
      zmqStatus: opts.zmqStatus,
      bridgeStats: () => this.bridge?.stats() ?? null,
      cluster: opts.worker ? { role: "worker" } : opts.workerMetrics,
    });
    this.bridge = new EventsBridge({
      engine,
      publisher: this.publisher,
      records: opts.worker ? opts.worker.records : this.records,
      hashrateIntervalMs: opts.worker ? 0 : opts.hashrateIntervalMs,
      onError: (err, where) => log.error({ where, error: errorText(err) }, "events bridge listener failed"),
    });
    this.statusTracker = new StatusTracker(engine);
    const mask = new AddressMask(config.health.address_display);
    const secrets = configSecrets(config);
    this.health = config.health.enabled && !opts.worker
      ? new HealthServer({
          host: config.health.host,
          port: opts.healthPort ?? config.health.port,
          engine,
          metrics: this.metrics,
          publisher: this.publisher,
          zmqStatus: opts.zmqStatus,
          relayStatus: opts.relayStatus,
          onError: (err) => log.warn({ error: errorText(err) }, "health endpoint error"),
          status: config.health.status_page ? { tracker: this.statusTracker, records: this.records, mask, secrets } : null,
          privacy: { mask, secrets },
        })
      : null;
  }

  /** Load records, open the event sinks, subscribe the bridge. Idempotent; on failure what started is closed again. */
  start(signal?: AbortSignal): Promise<void> {
    this.starting ??= this.doStart(signal);
    return this.starting;
  }

  private async doStart(signal?: AbortSignal): Promise<void> {
    const log = this.opts.log;
    throwIfCancelled(signal, "events and records");
    try {
      await this.records.start();
      const publisher = this.publisher;
      if (publisher) {
        publisher.subscribe((u) => {
          if (u.kind !== "sink_state") return;
          const line = { sink: u.sink, state: u.state, detail: u.detail };
          if (u.state === "no_reader" || u.state === "congested") log.warn(line, "event sink %s: %s", u.sink, u.state);
          else log.info(line, "event sink %s: %s", u.sink, u.state);
        });
        await publisher.start();
        for (const [name, st] of Object.entries(publisher.stats().sinks)) {
          const err = (st as { confirm?: { error?: { code: string; message: string } | null } }).confirm?.error;
          if (err) log.warn({ sink: name, code: err.code }, "event sink %s: %s", name, err.message);
        }
      }
      throwIfCancelled(signal, "events and records");
      const storeStats = this.records.storeStats();
      log.info({ users: this.records.size.users, file: this.config.data_dir, skipped: storeStats?.skippedAtLoad ?? 0 }, "best-difficulty records loaded");
      this.bridge.start();
      this.statusTracker.start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** After the engine closed: stop the bridge, the status tracker and metrics, flush records, flush events. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const log = this.opts.log;
      const step = async (name: string, fn: () => Promise<void> | void) => {
        try {
          await fn();
        } catch (err) {
          log.warn({ component: name, error: errorText(err) }, "error while closing");
        }
      };
      await step("bridge", () => this.bridge.close());
      this.statusTracker.close();
      this.metrics.close();
      // Records first: they are local and quick, while closing the event sinks can wait on a slow NATS.
      await step("records", () => this.records.close());
      await step("events", () => this.publisher?.close());
      if (this.publisher) logEventSummary(log, this.publisher.stats());
    })();
    return this.closing;
  }
}

/**
 * One line at shutdown with what happened to the events of this run: emitted, dropped by reason, and
 * per sink sent / still queued / dropped (info when nothing was lost, warn otherwise).
 */
export function logEventSummary(log: Logger, s: EmitterStats): void {
  const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v > 0));
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  const sinks = Object.fromEntries(Object.entries(s.sinks).map(([name, k]) => [name, { sent: k.sent, queued: k.queued, dropped: nonZero(k.dropped) }]));
  const line = { emitted: s.emitted, filtered: s.filtered, dropped: nonZero(s.dropped), sinks };
  if (dropped > 0) log.warn(line, "events: %d emitted, %d dropped", s.emitted, dropped);
  else log.info(line, "events: %d emitted, none dropped", s.emitted);
}
