/**
 * The pool's composition root (shared by `tbg pool` and `tbg dev`): logger, engine, block notifications,
 * event sinks, health/metrics — wired together, started in order, closed in reverse.
 */
import type { PoolConfig } from "../config/types.ts";
import { Engine, type EngineOptions, type SignatureSource } from "../core/engine/engine.ts";
import { UserSettingsFile } from "./signatures.ts";
import { throwIfCancelled, type Lifecycle } from "../util/lifecycle.ts";
import { createLogger, type LoggerHandle } from "./logger.ts";
import { logEngine } from "./log-engine.ts";
import { errorText } from "../util/errors.ts";
import { Observability, natsEventSink, type ObservabilityOptions } from "./observability.ts";
import { ZmqBlockNotifier, type ZmqNotifierTiming } from "../core/bitcoind/zmq-subscriber.ts";
import { logZmqNotifier } from "./log-zmq.ts";
import { checkPortsFree } from "../util/ports.ts";
import { registerRelayMetrics, relayHealth, startRelayServer } from "./relay-app.ts";
import type { RelayServer } from "../core/relay/server.ts";
import { isStratumWorker, runStratumWorker, startPoolWithWorkers } from "./workers.ts";
import { shareHashImpl } from "../core/bitcoin/share-hash.ts";

export interface PoolAppOptions {
  pretty?: boolean;
  /** Use this logger instead of creating one. */
  logger?: LoggerHandle;
  signatures?: SignatureSource;
  now?: () => number;
  /** Events, records, health/metrics options (extra sinks, ZMQ/relay status hooks, health port override). */
  observability?: Omit<ObservabilityOptions, "log" | "engine" | "now">;
  /** ZMQ socket timing (heartbeats, reconnect backoff); defaults in ZMQ_NOTIFIER_DEFAULTS. Tests shorten them. */
  zmq?: Partial<ZmqNotifierTiming>;
  /** Relay link timing (keepalive, block submit timeout); tests shorten it. */
  relayLink?: EngineOptions["relayLink"];
  /** Called with the engine before it starts (tests subscribe to its bus here). */
  onEngine?: (engine: Engine) => void;
  /**
   * Stratum worker processes (src/app/workers.ts): the engine binds no Stratum port and reads its
   * connection views from the workers; `workers` is the part that runs them, started right after the
   * engine (which has the network and the first template by then) and closed right before it.
   */
  stratumWorkers?: { engine: NonNullable<EngineOptions["stratumWorkers"]>; part(engine: Engine, obs: Observability, log: LoggerHandle): Lifecycle };
}

export interface PoolApp {
  engine: Engine;
  log: LoggerHandle;
  /** Stratum ports actually bound. */
  stratumPorts: number[];
  /** Records, event emitter, bridge, metrics, health server. */
  obs: Observability;
  /** The ZMQ block notifier; null when no endpoint is configured. */
  zmq: ZmqBlockNotifier | null;
  /** The template push server for relays (`relay_server`); null when not configured. */
  readonly relayServer: RelayServer | null;
  close(): Promise<void>;
}

export async function startPool(config: PoolConfig, opts: PoolAppOptions = {}, signal?: AbortSignal): Promise<PoolApp> {
  // Ports first: one already in use is reported now, not after the node has answered.
  await checkPortsFree([
    ...config.serverurl.map((s) => ({ component: "Stratum", host: s.host, port: s.port, setting: "serverurl" })),
    ...(config.health.enabled ? [{ component: "health/metrics HTTP", host: config.health.host, port: config.health.port, setting: "health.port" }] : []),
    ...(config.relay_server
      ? [
          { component: "relay control", host: config.relay_server.host, port: config.relay_server.port, setting: "relay_server.port" },
          { component: "relay template push", host: config.relay_server.host, port: config.relay_server.template_push_port, setting: "relay_server.template_push_port" },
        ]
      : []),
  ]);
  const log = opts.logger ?? createLogger({ level: config.log.level, logdir: config.logdir, pretty: opts.pretty });
  // Everything is built first (nothing opens a socket or a timer), so no part needs a forward reference;
  // then each part is started in order, and closed in reverse.
  const settingsFile =
    !opts.signatures && config.user_settings_file
      ? new UserSettingsFile({
          path: config.user_settings_file,
          onLoaded: (info) => {
            log.logger.info({ path: info.path, users: info.users, signatures: info.signatures }, "user settings loaded");
            for (const w of info.warnings) log.logger.warn({ path: info.path }, "user settings: %s", w);
          },
          onError: (err) => log.logger.error({ code: err.code, error: err.message }, "user settings not applied"),
        })
      : null;
  const engine = new Engine({ config, now: opts.now, signatures: opts.signatures ?? settingsFile ?? undefined, relayLink: opts.relayLink, stratumWorkers: opts.stratumWorkers?.engine });
  opts.onEngine?.(engine);
  // Block notifications: every configured endpoint at once; the first copy of a block becomes an engine
  // hint, a reconnect triggers an immediate tip check (messages are lost while down).
  const zmq =
    config.zmqEndpoints.length > 0
      ? new ZmqBlockNotifier({
          ...opts.zmq,
          endpoints: config.zmqEndpoints,
          now: opts.now,
          onBlock: (hashHex, endpoint) => engine.newBlockHint(hashHex, `zmq:${endpoint}`),
          onReconnect: () => engine.checkTip(),
        })
      : null;
  const zmqStatus = opts.observability?.zmqStatus ?? (zmq ? () => zmq.status() : undefined);
  // Relay hook (src/app/relay-app.ts): /health shows the relay server's peers on a primary, the link state on a relay.
  let relayServer: RelayServer | null = null;
  let relayStale = () => 0;
  const relayStatus = opts.observability?.relayStatus ?? (() => relayServer?.status() ?? relayHealth(engine, relayStale));
  const obs = new Observability(config, { natsSink: await natsEventSink(config, log.logger, opts.observability?.worker?.index), ...opts.observability, zmqStatus, relayStatus, engine, log: log.logger, now: opts.now });
  if (config.mode === "passthrough" || config.relay_server) relayStale = registerRelayMetrics(obs.metrics.registry, engine, config, () => relayServer).stalePercent;
  const relayPending = config.relay_server ? startRelayServer(engine, config, config.relay_server, log.logger) : null;
  logEngine(engine, log.logger);
  if (zmq) logZmqNotifier(zmq, log.logger);

  const parts: Array<{ name: string } & Lifecycle> = [];
  if (settingsFile) parts.push({ name: "user settings", start: () => settingsFile.start(), close: () => settingsFile.close() });
  // Records, event sinks, the bridge: subscribed before the engine starts, so they see the first tip.
  parts.push({ name: "events, records", start: (s) => obs.start(s), close: () => obs.close() });
  if (zmq) {
    // Subscribed before the first template so no announcement is missed while it is fetched.
    parts.push({ name: "zmq", start: async () => zmq.start(), close: () => zmq.close() });
  }
  parts.push({ name: "engine", start: (s) => engine.start(s), close: () => engine.close() });
  if (opts.stratumWorkers) parts.push({ name: "stratum workers", ...opts.stratumWorkers.part(engine, obs, log) });
  if (relayPending) parts.push({ name: "relay server", start: async () => void (relayServer = await relayPending.start()), close: async () => relayServer?.close() });
  const health = obs.health;
  if (health) {
    parts.push({
      name: "health",
      start: async () => {
        await health.start();
        log.logger.info({ url: health.url }, "health and metrics on %s", health.url);
      },
      close: () => health.close(),
    });
  }
  if (!zmq) log.logger.info({ blockpollMs: config.blockpoll }, "no ZMQ endpoint configured: new blocks are found by polling every %d ms", config.blockpoll);

  const started: Array<{ name: string } & Lifecycle> = [];
  let closing: Promise<void> | null = null;
  const closeAll = (): Promise<void> => {
    closing ??= (async () => {
      for (const c of started.reverse()) {
        try {
          await c.close();
        } catch (err) {
          log.logger.warn({ component: c.name, error: errorText(err) }, "error while closing");
        }
      }
    })();
    return closing;
  };
  try {
    for (const part of parts) {
      throwIfCancelled(signal, "pool");
      started.push(part); // a part is closed even when its start fails half-way
      await part.start(signal);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const listening = engine.status().listening;
  const stratumPorts = listening.map((b) => b.port);
  log.logger.info({ network: engine.status().network, stratum: listening.map((b) => `${b.host}:${b.port}`), region: config.region, instance: config.instance, shareHash: shareHashImpl }, "pool started");

  let stopped: Promise<void> | null = null;
  return {
    engine,
    log,
    stratumPorts,
    obs,
    zmq,
    get relayServer() {
      return relayServer;
    },
    close() {
      stopped ??= closeAll().then(() => {
        log.logger.info("pool stopped");
        log.flush();
      });
      return stopped;
    },
  };
}

/**
 * Runs a service until SIGINT/SIGTERM, then shuts it down cleanly (bounded) and resolves to the exit code.
 * The handlers are installed before start-up: a stop signal during start-up cancels it (`signal` aborts,
 * the start closes what it opened) and exits 0. A start-up failure for any other reason rejects.
 * The bound is hard: should a handle outlive `close()` (or `close()` hang), the process is exited
 * anyway `EXIT_GRACE_MS` after the code is known — a supervisor's stop must never wait on a leak.
 */
export function runWithSignals(log: LoggerHandle, start: (signal: AbortSignal) => Promise<{ close(): Promise<void> }>, graceMs = 10_000): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const abort = new AbortController();
    let app: { close(): Promise<void> } | null = null;
    let stopping = false;
    let timer: NodeJS.Timeout | undefined;
    const onUsr1 = () => log.reopen();
    process.on("SIGUSR1", onUsr1);
    const finish = (code: number) => {
      clearTimeout(timer);
      process.off("SIGUSR1", onUsr1);
      resolve(code);
      // unref: a clean exit is not delayed; it only fires if something keeps the event loop alive.
      setTimeout(() => {
        log.flush();
        process.exit(code);
      }, EXIT_GRACE_MS).unref();
    };
    const closeApp = (a: { close(): Promise<void> }) => a.close().then(() => finish(0), () => finish(1));
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.logger.info({ signal: sig }, app ? "shutting down" : "shutting down during start-up");
      timer = setTimeout(() => {
        log.logger.error("shutdown took too long; exiting");
        finish(1);
      }, graceMs);
      timer.unref();
      abort.abort();
      if (app) void closeApp(app);
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    start(abort.signal).then(
      (a) => {
        if (stopping) void closeApp(a); // the signal came as start-up finished
        else app = a;
      },
      (err) => {
        if (stopping) return finish(0); // cancelled by the stop signal; the start closed what it opened
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
        process.off("SIGUSR1", onUsr1);
        reject(err);
      },
    );
  });
}

/** {@link runWithSignals} for a service that is already started. */
export function runUntilSignal(app: { close(): Promise<void>; log: LoggerHandle }, graceMs = 10_000): Promise<number> {
  return runWithSignals(app.log, async () => app, graceMs);
}

/** How long a process may linger after shutdown finished (or timed out) before it is exited. */
const EXIT_GRACE_MS = 2000;

/**
 * `tbg pool`: one process when `workers` is 1, else a primary and `workers` Stratum worker processes
 * (src/app/workers.ts); in a worker process, that worker.
 */
export async function runPool(config: PoolConfig, opts: PoolAppOptions = {}): Promise<number> {
  if (isStratumWorker()) return runStratumWorker(config, opts);
  const log = opts.logger ?? createLogger({ level: config.log.level, logdir: config.logdir, pretty: opts.pretty });
  if (config.workers > 1) return runWithSignals(log, (signal) => startPoolWithWorkers(config, { ...opts, logger: log }, signal));
  return runWithSignals(log, (signal) => startPool(config, { ...opts, logger: log }, signal));
}
