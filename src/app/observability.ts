/**
 * Wires the app layer around the engine (STYLE.md §8): best-difficulty records, the event
 * publisher and its sinks, the user settings file, the events bridge, metrics and the health
 * server. `startPool` calls it in three steps so the order is explicit:
 *
 *   const obs = await Observability.start(config, …)  // records loaded, publisher and settings started
 *   const engine = new Engine({ signatures: obs.signatures, … }); obs.attach(engine)  // before engine.start(): sees the first tip
 *   await engine.start(); await obs.startHttp()
 *
 * and closes it in reverse around the engine: `closeHttp()` first (stop answering health checks
 * so GeoDNS drains the region), then the engine (its disconnect events still flow), then
 * `close()`: bridge, publisher flush, records flush, settings watcher.
 */
import type { PoolConfig } from "../config/types.ts";
import type { Engine, SignatureSource } from "../engine/engine.ts";
import { EventPublisher, parseEventTypes, type PublisherStats } from "../events/emitter.ts";
import { createEventFactory, systemClockMs } from "../events/envelope.ts";
import type { EventSink } from "../events/sink.ts";
import { UnixDgramSink } from "../events/sinks/unix-dgram.ts";
import { BestDiffRecords, type BeatenRecord } from "../records/best-diff.ts";
import { errorText } from "../util/errors.ts";
import { EventsBridge } from "./events-bridge.ts";
import { HealthServer } from "./health.ts";
import { AddressMask, StatusTracker, configSecrets } from "./status-snapshot.ts";
import type { Logger } from "./logger.ts";
import { PoolMetrics } from "./metrics.ts";
import type { ZmqEndpointStatus } from "./pool-status.ts";
import { UserSettingsFile } from "./signatures.ts";
import { JetStreamSink } from "../events/sinks/jetstream.ts";
import { EVENT_SUBJECT_PREFIX, MINING_EVENTS_STREAM } from "../publisher/jetstream.ts";
import { join } from "node:path";

/** Options of {@link Observability.start}. */
export interface ObservabilityOptions {
  log: Logger;
  /** Use this instead of `user_settings_file`. */
  signatures?: SignatureSource;
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
}

/** The app-layer components of one pool; see the module comment. */
export class Observability {
  readonly records: BestDiffRecords;
  /** null when `events.enabled` is false and no extra sink was given. */
  readonly publisher: EventPublisher | null;
  /** What the engine should use for per-user signatures (undefined: none configured). */
  readonly signatures: SignatureSource | undefined;
  readonly settingsFile: UserSettingsFile | null;
  metrics: PoolMetrics | null = null;
  bridge: EventsBridge | null = null;
  health: HealthServer | null = null;
  /** Blocks found and reject reasons for the status page. */
  statusTracker: StatusTracker | null = null;
  private engine: Engine | null = null;
  private readonly config: PoolConfig;
  private readonly opts: ObservabilityOptions;

  private constructor(config: PoolConfig, opts: ObservabilityOptions, parts: { records: BestDiffRecords; publisher: EventPublisher | null; settingsFile: UserSettingsFile | null }) {
    this.config = config;
    this.opts = opts;
    this.records = parts.records;
    this.publisher = parts.publisher;
    this.settingsFile = parts.settingsFile;
    this.signatures = opts.signatures ?? parts.settingsFile ?? undefined;
  }

  /** Load records, start the publisher and the settings file. On failure, what started is closed again. */
  static async start(config: PoolConfig, opts: ObservabilityOptions): Promise<Observability> {
    const log = opts.log;
    // Records a returning (evicted) user beat are known after their records were read back from disk.
    let late: ((beaten: BeatenRecord[]) => void) | null = null;
    // A full disk fails every retry: warn once a minute, with how many failures were not logged.
    let lastWarnMs = -Infinity;
    let quiet = 0;
    const records = new BestDiffRecords({
      onLateRecords: (beaten) => late?.(beaten),
      dataDir: config.data_dir,
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
    await records.start();
    const undo: Array<() => Promise<void>> = [() => records.close()];
    try {
      const sinks: EventSink[] = [...(opts.extraEventSinks ?? [])];
      if (config.events.enabled) {
        sinks.unshift(new UnixDgramSink({
          socketPath: config.events.socket_path,
          queueMax: config.events.queue_max,
          ackSocketPath: config.events.ack_socket_path ?? undefined,
          ackWindow: config.events.ack_window,
        }));
      }
      if (config.events.enabled && config.events.nats) {
        const n = config.events.nats;
        if (n.stream !== MINING_EVENTS_STREAM || n.subject_prefix !== `${EVENT_SUBJECT_PREFIX}.${config.region}`) {
          log.warn({ stream: n.stream, subject_prefix: n.subject_prefix }, "events.nats: only stream %s with subjects %s.{region}.{type} are supported; using those", MINING_EVENTS_STREAM, EVENT_SUBJECT_PREFIX);
        }
        sinks.push(
          new JetStreamSink({
            natsUrl: n.servers.join(","),
            region: config.region,
            spoolDir: join(config.data_dir, "nats-spool"),
            queueMax: config.events.queue_max,
            auth: { token: n.token, user: n.user, pass: n.pass, credsFile: n.creds_file, tlsCaFile: n.tls_ca_file, tlsCertFile: n.tls_cert_file, tlsKeyFile: n.tls_key_file },
            publisher: { spool: { retainMs: n.retain_sec * 1000, retainBytes: n.retain_mb * 1024 * 1024 } },
            onError: (err, context) => log.warn({ context, error: err.message }, "events to NATS: %s", context),
          }),
        );
      }
      let publisher: EventPublisher | null = null;
      if (sinks.length > 0) {
        publisher = new EventPublisher({
          factory: createEventFactory({ region: config.region, instance: config.instance, now: opts.now ?? systemClockMs }),
          sinks,
          enabledTypes: parseEventTypes(config.events.types),
          validate: opts.validateEvents ?? false,
        });
        publisher.subscribe((u) => {
          if (u.kind !== "sink_state") return;
          const line = { sink: u.sink, state: u.state, detail: u.detail };
          if (u.state === "no_reader" || u.state === "congested") log.warn(line, "event sink %s: %s", u.sink, u.state);
          else log.info(line, "event sink %s: %s", u.sink, u.state);
        });
        await publisher.start();
        const p = publisher;
        undo.unshift(() => p.close());
      }
      let settingsFile: UserSettingsFile | null = null;
      if (!opts.signatures && config.user_settings_file) {
        settingsFile = new UserSettingsFile({
          path: config.user_settings_file,
          onLoaded: (info) => {
            log.info({ path: info.path, users: info.users, signatures: info.signatures }, "user settings loaded");
            for (const w of info.warnings) log.warn({ path: info.path }, "user settings: %s", w);
          },
          onError: (err) => log.error({ code: err.code, error: err.message }, "user settings not applied"),
        });
        await settingsFile.start();
      }
      const storeStats = records.storeStats();
      log.info({ users: records.size.users, file: config.data_dir, skipped: storeStats?.skippedAtLoad ?? 0 }, "best-difficulty records loaded");
      const obs = new Observability(config, opts, { records, publisher, settingsFile });
      late = (beaten) => obs.bridge?.emitLateRecords(beaten);
      return obs;
    } catch (err) {
      for (const u of undo) await u().catch(() => undefined);
      throw err;
    }
  }

  /** Subscribe the bridge and metrics to the engine's bus. Call before `engine.start()`. */
  attach(engine: Engine): void {
    if (this.engine) return;
    this.engine = engine;
    const log = this.opts.log;
    this.metrics = new PoolMetrics({ engine, publisher: this.publisher, records: this.records, zmqStatus: this.opts.zmqStatus, bridgeStats: () => this.bridge?.stats() ?? null });
    this.bridge = new EventsBridge({
      engine,
      publisher: this.publisher,
      records: this.records,
      hashrateIntervalMs: this.opts.hashrateIntervalMs,
      onError: (err, where) => log.error({ where, error: errorText(err) }, "events bridge listener failed"),
    });
    this.bridge.start();
    this.statusTracker = new StatusTracker(engine);
    this.statusTracker.start();
  }

  /** Start the health/metrics HTTP server (when `health.enabled`). Call after `engine.start()`. */
  async startHttp(): Promise<HealthServer | null> {
    if (!this.engine || !this.metrics) throw new Error("Observability.startHttp() before attach()");
    if (!this.config.health.enabled) return null;
    const log = this.opts.log;
    const mask = new AddressMask(this.config.health.address_display);
    const secrets = configSecrets(this.config);
    this.health = new HealthServer({
      host: this.config.health.host,
      port: this.opts.healthPort ?? this.config.health.port,
      engine: this.engine,
      metrics: this.metrics,
      publisher: this.publisher,
      zmqStatus: this.opts.zmqStatus,
      relayStatus: this.opts.relayStatus,
      onError: (err) => log.warn({ error: errorText(err) }, "health endpoint error"),
      status: this.config.health.status_page && this.statusTracker ? { tracker: this.statusTracker, records: this.records, mask, secrets } : null,
      privacy: { mask, secrets },
    });
    await this.health.start();
    log.info({ url: this.health.url, status_page: this.config.health.status_page }, "health and metrics on %s", this.health.url);
    return this.health;
  }

  /** Stop the HTTP server first on shutdown. */
  async closeHttp(): Promise<void> {
    await this.health?.close();
  }

  /** After the engine closed: stop the bridge, flush records, flush events, stop watching settings. */
  async close(): Promise<void> {
    const log = this.opts.log;
    const step = async (name: string, fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (err) {
        log.warn({ component: name, error: errorText(err) }, "error while closing");
      }
    };
    await step("health", () => this.health?.close());
    await step("bridge", () => this.bridge?.close());
    this.statusTracker?.close();
    this.metrics?.close();
    // Records first: they are local and quick, while closing the event sinks can wait on a slow NATS.
    await step("records", () => this.records.close());
    await step("events", () => this.publisher?.close());
    if (this.publisher) logEventSummary(log, this.publisher.stats());
    await step("user settings", () => this.settingsFile?.close());
  }
}

/**
 * One line at shutdown with what happened to the events of this run: emitted, dropped by reason, and
 * per sink sent / still queued / dropped (info when nothing was lost, warn otherwise).
 */
export function logEventSummary(log: Logger, s: PublisherStats): void {
  const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v > 0));
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  const sinks = Object.fromEntries(Object.entries(s.sinks).map(([name, k]) => [name, { sent: k.sent, queued: k.queued, dropped: nonZero(k.dropped) }]));
  const line = { emitted: s.emitted, filtered: s.filtered, dropped: nonZero(s.dropped), sinks };
  if (dropped > 0) log.warn(line, "events: %d emitted, %d dropped", s.emitted, dropped);
  else log.info(line, "events: %d emitted, none dropped", s.emitted);
}
