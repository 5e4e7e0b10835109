/**
 * `tbg collector`: the event collector. Composition root: settings (config file + flags) →
 * logger → Collector (src/pipeline/collector) → run until SIGTERM/SIGINT → graceful close.
 */
import type { Command } from "../main.ts";
import { parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { createLogger } from "../../app/logger.ts";
import { runUntilSignal } from "../../app/run-pool.ts";
import { Collector, redactUrl } from "../../pipeline/collector/collector.ts";
import { redactNatsServers } from "../../pipeline/events/nats-options.ts";
import { NATS_FLAG_HELP, NATS_FLAG_OPTIONS, natsAuthFrom } from "../nats-flags.ts";
import {
  COLLECTOR_DEFAULTS, CollectorConfigError, loadCollectorConfigFile, resolveCollectorSettings, type CollectorFileConfig,
} from "../../pipeline/collector/config.ts";

const d = COLLECTOR_DEFAULTS;
const help = `usage: tbg collector [-c FILE] [options]

Stores the engine's events in PostgreSQL (or embedded PGlite) and Redis Streams. Inputs: the Unix
datagram socket the engine sends to (bound before the engine starts; it stays bound while engines
restart) and/or the NATS JetStream stream MINING_EVENTS through the durable consumer event-pipeline
(acked only after the database commit). Every event is validated; malformed, oversized and wrong-typed
ones are counted (/metrics) and logged, never stored. Batches of up to ${d.batchMaxEvents} events about every
${d.flushIntervalMs / 1000} s, idempotent by event_id: replays and redeliveries are never stored twice.
SIGTERM/SIGINT: stop the inputs, commit what is queued, ack/nak, close.

options:
  -c, --config FILE      JSON config; flags override its keys (see docs/collector.md)
  --socket PATH          datagram socket to bind (default DATA_DIR/${d.socketFile} when no --nats-url is given)
  --nats-url URL         consume JetStream MINING_EVENTS (comma-separated servers)
${NATS_FLAG_HELP}
  --database-url URL     postgres://user:pass@host:port/db (PostgreSQL/TimescaleDB); without it:
                         embedded PGlite in DIR/pgdata
  --data-dir DIR         PGlite location (default ${d.dataDir})
  --redis-url URL        also XADD every new event to mining:<event_type> (MAXLEN ~ 100000)
  --region R             this collector's region label in /health and /metrics (default ${d.region})
  --metrics-port N       /health and /metrics port (default ${d.metricsPort}; 0 = any free port; off = none)
  --metrics-host H       listen address (default ${d.metricsHost})
                         The same port serves the platform page at / and /api/platform (docs/status.md)
  --address-display D    addresses on the platform page: full|short|hidden (default ${d.addressDisplay})
  --ack-wait-sec S       JetStream ack_wait of event-pipeline (default ${d.ackWaitSec})
  --log-level LEVEL      fatal|error|warn|info|debug|trace (default info)
  --pretty               human-readable log lines instead of JSON`;

export const command: Command = {
  summary: "store events (datagram socket and/or JetStream) in PostgreSQL/PGlite and Redis",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      config: { type: "string", short: "c" },
      socket: { type: "string" },
      "nats-url": { type: "string" },
      "database-url": { type: "string" },
      "data-dir": { type: "string" },
      "redis-url": { type: "string" },
      region: { type: "string" },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      "ack-wait-sec": { type: "string" },
      "log-level": { type: "string" },
      "address-display": { type: "string" },
      pretty: { type: "boolean" },
      ...NATS_FLAG_OPTIONS,
    });
    const str = (k: string) => f[k as keyof typeof f] as string | undefined;
    let settings;
    try {
      const file: CollectorFileConfig = f.config ? await loadCollectorConfigFile(f.config as string) : {};
      settings = resolveCollectorSettings(file, {
        socket: str("socket"), natsUrl: str("nats-url"), databaseUrl: str("database-url"), redisUrl: str("redis-url"),
        dataDir: str("data-dir"), region: str("region"), metricsPort: str("metrics-port"), metricsHost: str("metrics-host"),
        ackWaitSec: str("ack-wait-sec"), logLevel: str("log-level"), addressDisplay: str("address-display"), natsAuth: natsAuthFrom(f, process.env),
      });
    } catch (err) {
      if (err instanceof CollectorConfigError && !f.config) throw new UsageError(err.message);
      throw err;
    }
    const log = createLogger({ level: settings.logLevel, pretty: Boolean(f.pretty) });
    const collector = new Collector({
      socketPath: settings.socketPath,
      socketMode: settings.socketMode,
      natsUrl: settings.natsUrl,
      nats: { ackWaitMs: settings.ackWaitSec * 1000, auth: settings.natsAuth },
      databaseUrl: settings.databaseUrl,
      dataDir: settings.dataDir,
      redisUrl: settings.redisUrl,
      region: settings.region,
      http: settings.http,
      statusPage: settings.statusPage,
      batch: { maxEvents: settings.batchMaxEvents, flushIntervalMs: settings.flushIntervalMs },
      retention: { sharesDays: settings.retentionDays },
      log: log.logger,
    });
    await collector.start();
    log.logger.info({
      region: settings.region,
      socket: settings.socketPath,
      nats: settings.natsUrl ? redactNatsServers(settings.natsUrl).split(",") : null,
      database: collector.stats().database.target,
      database_open: collector.databaseOpen,
      redis: settings.redisUrl ? redactUrl(settings.redisUrl) : null,
      http: collector.httpUrl ?? null,
    }, "collector started");
    return runUntilSignal({ log, close: () => collector.close() }, d.closeTimeoutMs + 10_000);
  },
};
