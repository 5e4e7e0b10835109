/**
 * The config file's shape as a zod v4 schema: JSON key names exactly as written, ckpool's where
 * they exist. Every object is strict, so an unknown or
 * misspelt key is refused by name. Defaults are not applied here: normalize.ts applies them
 * from defaults.ts, after cross-key checks that need to know what was actually written.
 * Pure: no I/O.
 */
import { z } from "zod";
import { parseHostPort, parseIpOrCidr, parseNatsServers, parseRpcUrl, parseZmqEndpoint, isHost, type Parsed } from "./address.ts";
import type { KeyPath } from "./json-text.ts";
import { ALL_EVENT_TYPES } from "../pipeline/events/types.ts";

/** Event types a config may name in `events.types`: the events module's list (a pure module). */
export const CONFIG_EVENT_TYPES = ALL_EVENT_TYPES;

/** One of `CONFIG_EVENT_TYPES`. */
export type ConfigEventType = (typeof CONFIG_EVENT_TYPES)[number];

/** Bitcoin networks (Bitcoin Core's testnet4 uses testnet's address encodings: write "testnet"). */
export const NETWORKS = ["mainnet", "testnet", "signet", "regtest"] as const;
export type Network = (typeof NETWORKS)[number];

/** pino's level names. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * ckpool keys that load but do nothing here (its proxy, node, trusted-remote, SV2 and IPC modes,
 * which this engine replaces with `mode`/`primary`). Each produces a warning naming the key.
 */
export const IGNORED_CKPOOL_KEYS = {
  upstream: "ckpool's trusted-remote mode is not supported; relays use mode/primary",
  nodeserver: "ckpool's node listeners are not supported; relays connect to relay_server",
  trusted: "ckpool's trusted-remote listeners are not supported; relays connect to relay_server",
  proxy: "ckpool's proxy modes are not supported",
  redirecturl: "ckpool's redirector mode is not supported",
  ipcmining: "Bitcoin Core mining IPC is not supported; templates come from JSON-RPC",
  ipctemplate: "Bitcoin Core mining IPC is not supported; templates come from JSON-RPC",
  sv2url: "Stratum V2 is not supported",
  sv2jdurl: "Stratum V2 job declaration is not supported",
  sv2_authority_key: "Stratum V2 is not supported",
  sv2_static_key: "Stratum V2 is not supported",
  maxsendqueue: "use stratum.send_queue_max_bytes",
  maxusers: "no per-user connection cap; see stratum.max_connections_per_ip",
} as const;

/** Adds a zod issue when a parser refuses the text. */
function parsedBy<T>(parse: (s: string) => Parsed<T>) {
  return z.string().superRefine((s, ctx) => {
    const r = parse(s);
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.reason });
  });
}

const nonEmpty = z.string().min(1, { error: "must not be empty" });
const connectPort = z.number().int().min(1).max(65535);
/** Listen ports may be 0 (an ephemeral port: tests and `tbg dev` with free ports). */
const listenPort = z.number().int().min(0).max(65535);
const positiveSec = z.number().positive();
const host = nonEmpty.refine(isHost, { error: "not a valid host name or IP address" });
const listenAddress = parsedBy((s) => parseHostPort(s, { allowPortZero: true }));
const secret = z.string().min(16, { error: "too short: use at least 16 random characters (shared secret)" });
/** Linux `sun_path` is 108 bytes including the terminating NUL (unix(7)). */
const socketPath = nonEmpty.refine((s) => new TextEncoder().encode(s).length <= 107, {
  error: "longer than 107 bytes, the Unix socket path limit (unix(7))",
});
/** ckpool difficulties are integers; ours may be fractional down to 0.0001 (NerdMiner). */
const difficulty = z.number().min(0.0001, { error: "must be at least 0.0001" });

/** One bitcoind (ckpool's `btcd[]` entry, plus `cookie` and a per-node `zmqnotify`). */
export const BtcdSchema = z.strictObject({
  url: parsedBy(parseRpcUrl),
  auth: nonEmpty.optional(),
  pass: z.string().optional(),
  cookie: nonEmpty.optional(),
  notify: z.boolean().optional(),
  zmqnotify: parsedBy(parseZmqEndpoint).optional(),
});

/** Relay side: how to reach the primary. */
export const PrimarySchema = z.strictObject({
  host,
  port: connectPort.optional(),
  auth_token: secret,
  template_push_port: connectPort.optional(),
  reconnect_interval: positiveSec.optional(),
});

/** Primary side: the listener relays connect to. */
export const RelayServerSchema = z.strictObject({
  enabled: z.boolean().optional(),
  host: host.optional(),
  port: listenPort.optional(),
  template_push_port: listenPort.optional(),
  auth_token: secret,
});

export const NatsSchema = z.strictObject({
  url: parsedBy(parseNatsServers),
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { error: "JetStream stream names use letters, digits, _ and -" }).optional(),
  subject_prefix: z
    .string()
    .regex(/^[A-Za-z0-9_{}-]+(\.[A-Za-z0-9_{}-]+)*$/, { error: "dot-separated tokens of letters, digits, _ and - (no wildcards)" })
    .optional(),
  retain_sec: z.number().int().min(0).max(7 * 86_400).optional(),
  retain_mb: z.number().int().min(0).max(1_048_576).optional(),
  creds_file: nonEmpty.optional(),
  token: nonEmpty.optional(),
  user: nonEmpty.optional(),
  pass: z.string().optional(),
  tls_ca_file: nonEmpty.optional(),
  tls_cert_file: nonEmpty.optional(),
  tls_key_file: nonEmpty.optional(),
});

export const EventsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  socket_path: socketPath.optional(),
  types: z.array(z.enum(CONFIG_EVENT_TYPES)).optional(),
  queue_max: z.number().int().min(1).optional(),
  batch_max_bytes: z.number().int().min(0).max(65_000).optional(),
  ack_socket_path: socketPath.nullable().optional(),
  ack_window: z.number().int().min(1).max(1_000_000).optional(),
  nats: NatsSchema.optional(),
  /** Older spelling of `nats.url`, still accepted. */
  nats_url: parsedBy(parseNatsServers).optional(),
  /** Older spelling of `nats.subject_prefix` ("mining.events.us-east"), still accepted. */
  nats_subject: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { error: "dot-separated tokens (no wildcards)" }).optional(),
});

/** How payout addresses appear on the status page and `/api/status` (`health.address_display`). */
export const ADDRESS_DISPLAYS = ["full", "short", "hidden"] as const;

export const HealthSchema = z.strictObject({
  enabled: z.boolean().optional(),
  host: host.optional(),
  port: listenPort.optional(),
  status_page: z.boolean().optional(),
  address_display: z.enum(ADDRESS_DISPLAYS).optional(),
});

export const StratumSchema = z.strictObject({
  max_line_bytes: z.number().int().min(256).max(1_048_576).optional(),
  idle_timeout_sec: positiveSec.optional(),
  message_rate_per_sec: z.number().positive().optional(),
  message_burst: z.number().int().min(1).optional(),
  max_connections_per_ip: z.number().int().min(0).optional(),
  max_connections_per_ipv6_48: z.number().int().min(0).optional(),
  drop_shareless_sec: z.number().int().min(0).optional(),
  send_queue_max_bytes: z.number().int().min(4096).optional(),
  write_timeout_sec: positiveSec.optional(),
  reconnect_on_shutdown: z.boolean().optional(),
});

export const VardiffSchema = z.strictObject({
  target_share_interval_sec: positiveSec.optional(),
  retarget_min_shares: z.number().int().min(1).optional(),
  retarget_interval_sec: positiveSec.optional(),
  variance_percent: z.number().min(0).max(100).optional(),
});

export const BansSchema = z.strictObject({
  enabled: z.boolean().optional(),
  threshold: z.number().int().min(1).optional(),
  window_sec: positiveSec.optional(),
  duration_sec: positiveSec.optional(),
  allowlist: z.array(parsedBy(parseIpOrCidr)).optional(),
  churn_per_strike: z.number().int().min(0).optional(),
});

export const LogSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).optional(),
});

const ignoredCkpoolKeys = Object.fromEntries(Object.keys(IGNORED_CKPOOL_KEYS).map((k) => [k, z.unknown().optional()])) as {
  [K in keyof typeof IGNORED_CKPOOL_KEYS]: z.ZodOptional<z.ZodUnknown>;
};

/** The whole config file. */
export const ConfigSchema = z.strictObject({
  // ckpool keys
  btcd: z.array(BtcdSchema).min(1, { error: "needs at least one bitcoind node" }),
  btcaddress: z.string().regex(/^[A-Za-z0-9]{14,90}$/, { error: "not a Bitcoin address" }).optional(),
  btcsig: z.string().optional(),
  btcsolo: z.boolean().refine((v) => v, { error: "only true is supported: this engine is solo-only (each miner is paid to its own address)" }).optional(),
  blockpoll: z.number().int().min(10).max(60_000).optional(),
  donation: z.number().min(0).lt(100, { error: "must be below 100 (percent of the reward)" }).optional(),
  serverurl: z.union([listenAddress, z.array(listenAddress).min(1)], { error: 'expected "host:port" or an array of them' }).optional(),
  mindiff: difficulty.optional(),
  startdiff: difficulty.optional(),
  maxdiff: z.number().refine((d) => d === 0 || d >= 0.0001, { error: "must be 0 (no limit) or at least 0.0001" }).optional(),
  highdiff: difficulty.optional(),
  update_interval: z.number().int().min(1).max(3600).optional(),
  version_mask: z
    .string()
    .regex(/^[0-9A-Fa-f]{8}$/, { error: 'expected 8 hex digits, e.g. "1fffe000"' })
    .refine((s) => (parseInt(s, 16) & 0xe0000000) === 0, { error: "bits 29–31 must stay 0: they carry the version's 001 prefix (BIP9, BIP320)" })
    .optional(),
  nonce1length: z.number().int().min(2).max(8).optional(),
  nonce2length: z.number().int().min(2).max(8, { error: "at most 8: cgminer and Whatsminer firmware cannot roll more than 8 extranonce2 bytes" }).optional(),
  logdir: nonEmpty.optional(),
  zmqblock: parsedBy(parseZmqEndpoint).optional(),
  maxclients: z.number().int().min(0).optional(),
  dropidle: z.number().int().min(0).optional(),
  ...ignoredCkpoolKeys,
  // ours
  network: z.enum(NETWORKS).optional(),
  mode: z.enum(["primary", "passthrough"]).optional(),
  primary: PrimarySchema.optional(),
  relay_server: RelayServerSchema.optional(),
  region: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "1–64 letters, digits, _ or - (it is a NATS subject token)" }).optional(),
  instance: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, { error: "1–128 letters, digits, '.', _ or -" }).optional(),
  instance_id: z.number().int().min(0).max(255).optional(),
  workers: z.union([z.number().int().min(1).max(64), z.literal("auto")]).optional(),
  data_dir: nonEmpty.optional(),
  user_settings_file: nonEmpty.optional(),
  failover_threshold: positiveSec.optional(),
  job_expiry_sec: positiveSec.optional(),
  events: EventsSchema.optional(),
  health: HealthSchema.optional(),
  stratum: StratumSchema.optional(),
  vardiff: VardiffSchema.optional(),
  bans: BansSchema.optional(),
  log: LogSchema.optional(),
});

/** The config file as written (JSON shape, before defaults). */
export type ConfigInput = z.input<typeof ConfigSchema>;

// --- schema introspection (key suggestions in errors, the docs-completeness test) ---

interface ZodDefView {
  type: string;
  shape?: Record<string, ZodView>;
  innerType?: ZodView;
  element?: ZodView;
  options?: ZodView[];
}
interface ZodView {
  _zod: { def: ZodDefView };
}

function unwrap(s: ZodView): ZodView {
  let cur = s;
  for (let n = 0; n < 8 && (cur._zod.def.type === "optional" || cur._zod.def.type === "default" || cur._zod.def.type === "nullable"); n++) cur = cur._zod.def.innerType!;
  return cur;
}

/** The object schema reached by following `path` (array indexes step into elements), or null. */
function objectAt(path: KeyPath): ZodView | null {
  let cur: ZodView | null = ConfigSchema as unknown as ZodView;
  for (const seg of path) {
    if (!cur) return null;
    const s: ZodView = unwrap(cur);
    const def = s._zod.def;
    if (typeof seg === "number") cur = def.type === "array" ? def.element! : def.type === "union" ? (def.options!.find((o) => unwrap(o)._zod.def.type === "array")?._zod.def.element ?? null) : null;
    else cur = def.type === "object" ? (def.shape![seg] ?? null) : null;
  }
  return cur && unwrap(cur)._zod.def.type === "object" ? unwrap(cur) : null;
}

/** Keys the schema accepts in the object at `path` (empty when `path` is not an object). */
export function knownKeysAt(path: KeyPath): string[] {
  const obj = objectAt(path);
  return obj ? Object.keys(obj._zod.def.shape!) : [];
}

/** Every key path a zod object schema accepts, e.g. `btcd[].url`, `regions[].name` (docs tests check each is documented). */
export function schemaKeyPaths(schema: unknown): string[] {
  const out: string[] = [];
  const walk = (s: ZodView, prefix: string): void => {
    const def = unwrap(s)._zod.def;
    if (def.type === "object") {
      for (const [k, v] of Object.entries(def.shape!)) {
        const p = prefix ? `${prefix}.${k}` : k;
        out.push(p);
        walk(v, p);
      }
    } else if (def.type === "array") walk(def.element!, `${prefix}[]`);
  };
  walk(schema as ZodView, "");
  return out;
}

/** Every key path the pool config accepts, e.g. `btcd[].url`, `events.nats.url`, `serverurl`. */
export function allKeyPaths(): string[] {
  return schemaKeyPaths(ConfigSchema);
}
