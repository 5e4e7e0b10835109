/**
 * The pool's composition root (shared by `tbg pool` and `tbg dev`): logger, engine, block notifications,
 * event sinks, health/metrics — wired together, started in order, closed in reverse.
 */
import type { PoolConfig } from "../config/types.ts";
import { Engine, type EngineOptions, type SignatureSource } from "../engine/engine.ts";
import { createLogger, type LoggerHandle } from "./logger.ts";
import { logEngine } from "./log-engine.ts";
import { errorText } from "../util/errors.ts";
import { Observability, type ObservabilityOptions } from "./observability.ts";
import { ZmqBlockNotifier, type ZmqNotifierTiming } from "../node/zmq-subscriber.ts";
import { logZmqNotifier } from "./log-zmq.ts";
import { checkPortsFree } from "../util/ports.ts";
import { registerRelayMetrics, relayHealth, startRelayServer } from "./relay-app.ts";
import type { RelayServer } from "../relay/server.ts";

export interface PoolAppOptions {
  pretty?: boolean;
  /** Use this logger instead of creating one. */
  logger?: LoggerHandle;
  signatures?: SignatureSource;
  now?: () => number;
  /** Events, records, health/metrics options (extra sinks, ZMQ/relay status hooks, health port override). */
  observability?: Omit<ObservabilityOptions, "log" | "signatures" | "now">;
  /** ZMQ socket timing (heartbeats, reconnect backoff); defaults in ZMQ_NOTIFIER_DEFAULTS. Tests shorten them. */
  zmq?: Partial<ZmqNotifierTiming>;
  /** Relay link timing (keepalive, block submit timeout); tests shorten it. */
  relayLink?: EngineOptions["relayLink"];
  /** Called with the engine before it starts (tests subscribe to its bus here). */
  onEngine?: (engine: Engine) => void;
}

/** Something started alongside the engine, closed in reverse order. */
export interface Closeable {
  name: string;
  close(): Promise<void> | void;
}

export interface PoolApp {
  engine: Engine;
  log: LoggerHandle;
  /** Stratum ports actually bound. */
  stratumPorts: number[];
  /** Records, event publisher, metrics, health server. */
  obs: Observability;
  /** The ZMQ block notifier; null when no endpoint is configured. */
  zmq: ZmqBlockNotifier | null;
  /** The template push server for relays (`relay_server`); null when not configured. */
  relayServer: RelayServer | null;
  close(): Promise<void>;
}

export async function startPool(config: PoolConfig, opts: PoolAppOptions = {}): Promise<PoolApp> {
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
  const started: Closeable[] = [];
  // Block notifications (SPEC §2): every configured endpoint at once; the first copy of a block
  // becomes an engine hint, a reconnect triggers an immediate tip check (messages are lost while down).
  let engineRef: Engine | null = null;
  const zmq =
    config.zmqEndpoints.length > 0
      ? new ZmqBlockNotifier({
          ...opts.zmq,
          endpoints: config.zmqEndpoints,
          now: opts.now,
          onBlock: (hashHex, endpoint) => engineRef?.newBlockHint(hashHex, `zmq:${endpoint}`),
          onReconnect: () => void engineRef?.templateSource?.checkTip(),
        })
      : null;
  // Records load → events/settings → engine (bridge subscribed first) → ZMQ → health; closed in reverse.
  // Relay hook (src/app/relay-app.ts): /health shows the relay server's peers on a primary, the link state on a relay.
  let relayServer: RelayServer | null = null;
  let relayStale = () => 0;
  const observability = {
    ...opts.observability,
    zmqStatus: opts.observability?.zmqStatus ?? (zmq ? () => zmq.status() : undefined),
    relayStatus: opts.observability?.relayStatus ?? (() => relayServer?.status() ?? (engineRef ? relayHealth(engineRef, relayStale) : null)),
  };
  const obs = await Observability.start(config, { ...observability, log: log.logger, signatures: opts.signatures, now: opts.now });
  started.push({ name: "events, records", close: () => obs.close() });
  const engine = new Engine({ config, now: opts.now, signatures: obs.signatures, relayLink: opts.relayLink });
  engineRef = engine;
  opts.onEngine?.(engine);
  logEngine(engine, log.logger);
  obs.attach(engine);
  if (obs.metrics && (config.mode === "passthrough" || config.relay_server)) relayStale = registerRelayMetrics(obs.metrics.registry, engine, () => relayServer).stalePercent;
  try {
    if (zmq) {
      // Subscribed before the first template so no announcement is missed while it is fetched.
      logZmqNotifier(zmq, log.logger);
      started.push({ name: "zmq", close: () => zmq.close() });
      zmq.start();
    } else log.logger.info({ blockpollMs: config.blockpoll }, "no ZMQ endpoint configured: new blocks are found by polling every %d ms", config.blockpoll);
    started.push({ name: "engine", close: () => engine.close() }); // also undoes a half-done start
    const relayPending = config.relay_server ? startRelayServer(engine, config.relay_server, log.logger) : null;
    await engine.start();
    if (relayPending) {
      relayServer = await relayPending.start();
      started.push({ name: "relay server", close: () => relayServer?.close() });
    }
    await obs.startHttp();
    started.push({ name: "health", close: () => obs.closeHttp() });
  } catch (err) {
    for (const c of started.reverse()) await Promise.resolve(c.close()).catch(() => undefined);
    throw err;
  }
  const stratumPorts = engine.server!.bound.map((b) => b.port);
  log.logger.info({ network: engine.network, stratum: engine.server!.bound.map((b) => `${b.host}:${b.port}`), region: config.region, instance: config.instance }, "pool started");

  let closing: Promise<void> | null = null;
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
      closing ??= (async () => {
        for (const c of started.reverse()) {
          try {
            await c.close();
          } catch (err) {
            log.logger.warn({ component: c.name, error: errorText(err) }, "error while closing");
          }
        }
        log.logger.info("pool stopped");
        log.flush();
      })();
      return closing;
    },
  };
}

/**
 * Runs until SIGINT/SIGTERM, then shuts down cleanly (bounded) and resolves to the exit code.
 * The bound is hard: should a handle outlive `close()` (or `close()` hang), the process is exited
 * anyway `EXIT_GRACE_MS` after the code is known — a supervisor's stop must never wait on a leak.
 */
export async function runUntilSignal(app: { close(): Promise<void>; log: LoggerHandle }, graceMs = 10_000): Promise<number> {
  return new Promise<number>((resolve) => {
    const onUsr1 = () => app.log.reopen();
    process.on("SIGUSR1", onUsr1);
    const finish = (code: number) => {
      resolve(code);
      // unref: a clean exit is not delayed; it only fires if something keeps the event loop alive.
      setTimeout(() => {
        app.log.flush();
        process.exit(code);
      }, EXIT_GRACE_MS).unref();
    };
    const stop = (sig: string) => {
      app.log.logger.info({ signal: sig }, "shutting down");
      const timer = setTimeout(() => {
        app.log.logger.error("shutdown took too long; exiting");
        finish(1);
      }, graceMs);
      timer.unref();
      app.close().then(
        () => {
          clearTimeout(timer);
          process.off("SIGUSR1", onUsr1);
          finish(0);
        },
        () => finish(1),
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}

/** How long a process may linger after shutdown finished (or timed out) before it is exited. */
const EXIT_GRACE_MS = 2000;

export async function runPool(config: PoolConfig, opts: PoolAppOptions = {}): Promise<number> {
  const app = await startPool(config, opts);
  return runUntilSignal(app);
}
