/**
 * `tbg collector` settings: defaults (each with its reason), the optional JSON config file (`-c`), and
 * the merge of file and flags (flags win). Pure except {@link loadCollectorConfigFile}, which reads the file.
 *
 * Config file keys (all optional; unknown keys are refused so a typo never silently falls back to a default):
 * `socket`, `socket_mode`, `nats_url`, `database_url`, `redis_url`, `data_dir`, `region`, `metrics_host`,
 * `metrics_port` (null = no HTTP listener), `batch_max_events`, `flush_interval_ms`, `ack_wait_sec`,
 * `retention_days`, `log_level`, `status_page`, `address_display`, and the NATS credentials `nats_token`, `nats_user`, `nats_pass`,
 * `nats_creds_file`, `nats_tls_ca_file`, `nats_tls_cert_file`, `nats_tls_key_file`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { REGION_PATTERN } from "../events/schemas.ts";
import { TbgError, errorText } from "../../util/errors.ts";
import { ADDRESS_DISPLAY_VALUES, type AddressDisplay } from "../../util/text.ts";
import type { NatsAuth } from "../events/nats-options.ts";

/** Defaults of the collector, in one place. */
export const COLLECTOR_DEFAULTS = {
  /**
   * The socket file under the data dir: the engine's default `events.socket_path` is `data_dir/events.sock`
   * (both default to `data`). Used when neither a socket nor NATS is given. A directory this user owns:
   * in a shared one such as /tmp another user could take the socket over.
   */
  socketFile: "events.sock",
  /** PGlite data lives in `${dataDir}/pgdata` when there is no database URL. */
  dataDir: "data",
  /** Identity label only (events carry their own region); the primary's default region. */
  region: "eu",
  metricsHost: "0.0.0.0",
  /** The pool's /metrics is on 9100; the collector sits next to it. */
  metricsPort: 9101,
  /** Flush at this many queued events (one transaction; UNNEST makes 5 000 rows one statement per table). */
  batchMaxEvents: 5_000,
  /** ~1 s batches. */
  flushIntervalMs: 1_000,
  /** Past this many queued events inputs are refused (socket: counted as dropped; NATS: nak, redelivered). */
  maxPendingEvents: 200_000,
  /** Shutdown waits this long for the last batch to commit; the rest is aborted (NATS: nak'd). */
  closeTimeoutMs: 10_000,
  /** JetStream `ack_wait`, s (above the worst batch latency). */
  ackWaitSec: 30,
  /** Raw shares / event_log kept this many days on the plain path. */
  retentionDays: 90,
  /** Retention runs hourly; the first run a minute after the database opened. */
  retentionIntervalMs: 3_600_000,
  retentionFirstRunDelayMs: 60_000,
  /** Database open retries back off from 500 ms to 10 s. */
  storeRetryInitialMs: 500,
  storeRetryMaxMs: 10_000,
  /** One warning line per kind (malformed reason, database, NATS, Redis) per 10 s at most. */
  logIntervalMs: 10_000,
  logLevel: "info",
  /** The platform page is public wherever the port is: addresses shortened unless asked. */
  addressDisplay: "short" as AddressDisplay,
  /** /health reports a stream reset or sequence gap as a problem for this long after it was seen. */
  streamIssueHealthSec: 900,
} as const;

/** The config file is not valid; the message names each bad key. */
export class CollectorConfigError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("COLLECTOR_CONFIG_INVALID", message, options);
  }
}

function isUrl(s: string, schemes: readonly string[]): boolean {
  try {
    return schemes.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}
const PG_SCHEMES = ["postgres:", "postgresql:"] as const;
const REDIS_SCHEMES = ["redis:", "rediss:"] as const;
const url = (schemes: readonly string[]) => z.string().refine((s) => isUrl(s, schemes), `expected a URL with scheme ${schemes.join(" or ")}`);

/** Schema of the JSON config file. */
export const CollectorFileSchema = z.strictObject({
  socket: z.string().min(1).max(107).optional(),
  socket_mode: z.string().regex(/^0?[0-7]{3}$/, "octal permission, e.g. \"660\"").optional(),
  nats_url: z.string().min(1).optional(),
  nats_token: z.string().min(1).optional(),
  nats_user: z.string().min(1).optional(),
  nats_pass: z.string().optional(),
  nats_creds_file: z.string().min(1).optional(),
  nats_tls_ca_file: z.string().min(1).optional(),
  nats_tls_cert_file: z.string().min(1).optional(),
  nats_tls_key_file: z.string().min(1).optional(),
  database_url: url(PG_SCHEMES).optional(),
  redis_url: url(REDIS_SCHEMES).optional(),
  data_dir: z.string().min(1).optional(),
  region: z.string().regex(REGION_PATTERN, "lowercase letters, digits, '-' or '_'").optional(),
  metrics_host: z.string().min(1).optional(),
  metrics_port: z.int().min(0).max(65_535).nullable().optional(),
  batch_max_events: z.int().min(1).max(100_000).optional(),
  flush_interval_ms: z.int().min(10).max(60_000).optional(),
  ack_wait_sec: z.int().min(1).max(3_600).optional(),
  retention_days: z.int().min(1).optional(),
  log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  status_page: z.boolean().optional(),
  address_display: z.enum(["full", "short", "hidden"]).optional(),
});
/** The config file's shape. */
export type CollectorFileConfig = z.infer<typeof CollectorFileSchema>;

/** Reads and validates a config file. Throws {@link CollectorConfigError}. */
export async function loadCollectorConfigFile(path: string): Promise<CollectorFileConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CollectorConfigError(`cannot read ${path}: ${errorText(err)}`, { cause: err });
  }
  return parseCollectorConfig(text, path);
}

/** Parses config file text. Throws {@link CollectorConfigError} naming every bad key. */
export function parseCollectorConfig(text: string, name = "<config>"): CollectorFileConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CollectorConfigError(`${name}: not valid JSON: ${errorText(err)}`, { cause: err });
  }
  const r = CollectorFileSchema.safeParse(value);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const keys = i.code === "unrecognized_keys" ? i.keys.join(", ") : i.path.join(".") || "(root)";
      return `  ${keys}: ${i.code === "unrecognized_keys" ? "unknown key" : i.message}`;
    });
    throw new CollectorConfigError(`${name}: invalid collector config\n${lines.join("\n")}`);
  }
  return r.data;
}

/** Command-line values (strings as parsed; undefined = not given). */
export interface CollectorFlags {
  socket?: string;
  natsUrl?: string;
  databaseUrl?: string;
  redisUrl?: string;
  dataDir?: string;
  region?: string;
  metricsHost?: string;
  /** A port number, or "off". */
  metricsPort?: string;
  ackWaitSec?: string;
  logLevel?: string;
  addressDisplay?: string;
  /** NATS credentials from flags and environment (src/cli/nats-flags.ts); each field wins over the file's. */
  natsAuth?: NatsAuth;
}

/** Fully resolved settings for `tbg collector`. */
export interface CollectorSettings {
  /** null = no socket input. */
  socketPath: string | null;
  socketMode: number | undefined;
  natsUrl: string | null;
  /** Credentials and TLS files for NATS (one authentication: token, user/pass or a creds file). */
  natsAuth: NatsAuth;
  databaseUrl: string | null;
  dataDir: string;
  redisUrl: string | null;
  region: string;
  /** null = no HTTP listener. */
  http: { host: string; port: number } | null;
  batchMaxEvents: number;
  flushIntervalMs: number;
  ackWaitSec: number;
  retentionDays: number;
  logLevel: string;
  /** The platform page on the HTTP listener; false = off. */
  statusPage: { addressDisplay: AddressDisplay } | false;
}

/**
 * File + flags → settings (flags win). The socket input is on when a socket is given, or when no NATS
 * URL is (then at the default path). Throws {@link CollectorConfigError} for a bad flag value.
 */
export function resolveCollectorSettings(file: CollectorFileConfig, flags: CollectorFlags): CollectorSettings {
  const pick = <T>(flag: T | undefined, key: T | undefined): T | undefined => flag ?? key;
  const natsUrl = pick(flags.natsUrl, file.nats_url) ?? null;
  const socket = pick(flags.socket, file.socket);
  const region = pick(flags.region, file.region) ?? COLLECTOR_DEFAULTS.region;
  if (!REGION_PATTERN.test(region)) throw new CollectorConfigError(`--region: lowercase letters, digits, '-' or '_' (e.g. us-east), got '${region}'`);
  const databaseUrl = pick(flags.databaseUrl, file.database_url) ?? null;
  if (flags.databaseUrl !== undefined && !isUrl(flags.databaseUrl, PG_SCHEMES)) throw new CollectorConfigError("--database-url: expected postgres://user:pass@host:port/db");
  const redisUrl = pick(flags.redisUrl, file.redis_url) ?? null;
  if (flags.redisUrl !== undefined && !isUrl(flags.redisUrl, REDIS_SCHEMES)) throw new CollectorConfigError(`--redis-url: expected redis://host:port, got '${flags.redisUrl}'`);
  let port: number | null;
  if (flags.metricsPort === undefined) port = file.metrics_port === undefined ? COLLECTOR_DEFAULTS.metricsPort : file.metrics_port;
  else if (flags.metricsPort === "off") port = null;
  else {
    port = Number(flags.metricsPort);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CollectorConfigError(`--metrics-port: a port number (0 = any free one) or "off", got '${flags.metricsPort}'`);
  }
  let ackWaitSec = file.ack_wait_sec ?? COLLECTOR_DEFAULTS.ackWaitSec;
  if (flags.ackWaitSec !== undefined) {
    ackWaitSec = Number(flags.ackWaitSec);
    if (!Number.isInteger(ackWaitSec) || ackWaitSec < 1) throw new CollectorConfigError(`--ack-wait-sec: a positive integer, got '${flags.ackWaitSec}'`);
  }
  const display = pick(flags.addressDisplay, file.address_display) ?? COLLECTOR_DEFAULTS.addressDisplay;
  if (!ADDRESS_DISPLAY_VALUES.includes(display as AddressDisplay)) throw new CollectorConfigError(`--address-display: full, short or hidden, got '${display}'`);
  return {
    socketPath: socket ?? (natsUrl ? null : join(pick(flags.dataDir, file.data_dir) ?? COLLECTOR_DEFAULTS.dataDir, COLLECTOR_DEFAULTS.socketFile)),
    socketMode: file.socket_mode === undefined ? undefined : parseInt(file.socket_mode, 8),
    natsUrl,
    natsAuth: {
      token: flags.natsAuth?.token ?? file.nats_token ?? null,
      user: flags.natsAuth?.user ?? file.nats_user ?? null,
      pass: flags.natsAuth?.pass ?? file.nats_pass ?? null,
      credsFile: flags.natsAuth?.credsFile ?? file.nats_creds_file ?? null,
      tlsCaFile: flags.natsAuth?.tlsCaFile ?? file.nats_tls_ca_file ?? null,
      tlsCertFile: flags.natsAuth?.tlsCertFile ?? file.nats_tls_cert_file ?? null,
      tlsKeyFile: flags.natsAuth?.tlsKeyFile ?? file.nats_tls_key_file ?? null,
    },
    databaseUrl,
    dataDir: pick(flags.dataDir, file.data_dir) ?? COLLECTOR_DEFAULTS.dataDir,
    redisUrl,
    region,
    http: port === null ? null : { host: pick(flags.metricsHost, file.metrics_host) ?? COLLECTOR_DEFAULTS.metricsHost, port },
    batchMaxEvents: file.batch_max_events ?? COLLECTOR_DEFAULTS.batchMaxEvents,
    flushIntervalMs: file.flush_interval_ms ?? COLLECTOR_DEFAULTS.flushIntervalMs,
    ackWaitSec,
    retentionDays: file.retention_days ?? COLLECTOR_DEFAULTS.retentionDays,
    logLevel: pick(flags.logLevel, file.log_level) ?? COLLECTOR_DEFAULTS.logLevel,
    statusPage: file.status_page === false ? false : { addressDisplay: display as AddressDisplay },
  };
}
