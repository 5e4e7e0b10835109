/**
 * The validated, defaulted config the engine reads. Rule: snake_case (and ckpool's own
 * spellings) are the config file's keys, with the same meaning as in docs/configuration.md;
 * camelCase fields are derived by the loader (parsed URLs, merged endpoint lists, warnings).
 * Every field is present: absent keys hold their default (null where "not configured").
 */
import type { ConfigEventType, LogLevel, Network } from "./schema.ts";
import type { ConfigWarning } from "./errors.ts";

/** One bitcoind, in priority order (templates come from the first healthy one). */
export interface BtcdNode {
  /** Position in `btcd` (0 = highest priority); also the label in logs and health. */
  index: number;
  /** As written: "host:port" or "http://host:port/". */
  url: string;
  /** Derived: `http://host:port/` (or the https/path form that was written). */
  rpcUrl: string;
  /** Derived from `url`. */
  host: string;
  port: number;
  /** RPC user (ckpool `auth`); null when `cookie` is used. */
  auth: string | null;
  /** RPC password; null when `cookie` is used. */
  pass: string | null;
  /** Path to bitcoind's `.cookie` file (read at each (re)connect: it changes on restart); null = use auth/pass. */
  cookie: string | null;
  /** ckpool: the node pushes block notifications. Informational: polling stays on as the fallback. */
  notify: boolean;
  /** This node's ZMQ `hashblock` endpoint, or null. */
  zmqnotify: string | null;
}

/** A ZMQ endpoint to subscribe to (derived: every `btcd[].zmqnotify` plus `zmqblock`, de-duplicated). */
export interface ZmqEndpoint {
  /** `tcp://host:port` or `ipc://path`. */
  endpoint: string;
  /** The key it came from, e.g. `btcd[1].zmqnotify` or `zmqblock` (first one if listed twice). */
  source: string;
  /** Index of the btcd entry it belongs to, or null for `zmqblock`. */
  btcdIndex: number | null;
}

/** A Stratum listen address (`serverurl` entry). */
export interface ListenAddress {
  /** As written, "host:port". */
  url: string;
  host: string;
  /** 0 = an ephemeral port. */
  port: number;
  /** ckpool convention: ports above 4000 start new connections at `highdiff` instead of `startdiff`. */
  highdiff: boolean;
}

/** Relay side: the primary to follow (present only when `mode` is "passthrough"). */
export interface PrimaryLink {
  host: string;
  /** Relay control port: authentication and block submission. Default 8880. */
  port: number;
  /** Shared secret, also set as `relay_server.auth_token` on the primary. */
  auth_token: string;
  /** Template push port. Default 8881. */
  template_push_port: number;
  /** Seconds between reconnect attempts. Default 5. */
  reconnect_interval: number;
}

/** Primary side: the listener relays connect to (null unless configured and enabled). */
export interface RelayServer {
  host: string;
  port: number;
  template_push_port: number;
  auth_token: string;
}

/** Direct NATS JetStream sink. */
export interface NatsSink {
  /** As written (one URL or comma-separated). */
  url: string;
  /** Derived: the server URLs, split. */
  servers: string[];
  stream: string;
  /** Subject prefix with `{region}` already replaced: publish to `${subject_prefix}.${event_type}`. */
  subject_prefix: string;
  /** Acknowledged spool data kept for replay after a stream reset: seconds, and MiB. */
  retain_sec: number;
  retain_mb: number;
  creds_file: string | null;
  token: string | null;
  user: string | null;
  pass: string | null;
  /** TLS: CA of the server's certificate, and a client certificate with its key (PEM files). */
  tls_ca_file: string | null;
  tls_cert_file: string | null;
  tls_key_file: string | null;
}

export interface EventsConfig {
  enabled: boolean;
  socket_path: string;
  /** Types to emit; default all. */
  types: ConfigEventType[];
  /** Bounded in-memory queue length (events). */
  queue_max: number;
  /** Several events a datagram up to this many bytes; 0 = one event a datagram. */
  batch_max_bytes: number;
  /** Where the engine's sending socket is bound so a confirming reader can confirm events; null = off. */
  ack_socket_path: string | null;
  /** Sent events kept until the reader confirms them. */
  ack_window: number;
  nats: NatsSink | null;
}

export interface HealthConfig {
  enabled: boolean;
  host: string;
  port: number;
  /** Serve the status page at `/` and the JSON API under `/api/`. */
  status_page: boolean;
  /** Payout addresses on the page and API: `full`, `short` (first 6 … last 4) or `hidden`. */
  address_display: "full" | "short" | "hidden";
}

export interface StratumConfig {
  max_line_bytes: number;
  idle_timeout_sec: number;
  message_rate_per_sec: number;
  message_burst: number;
  /** 0 = unlimited. Allow-listed addresses are exempt; IPv6 counts per /64. */
  max_connections_per_ip: number;
  /** 0 = unlimited. Connections from one IPv6 /48 together; allow-listed addresses are exempt. */
  max_connections_per_ipv6_48: number;
  /** Seconds without an accepted share before a connection is dropped; 0 = never. */
  drop_shareless_sec: number;
  send_queue_max_bytes: number;
  write_timeout_sec: number;
  reconnect_on_shutdown: boolean;
}

export interface VardiffConfig {
  target_share_interval_sec: number;
  retarget_min_shares: number;
  retarget_interval_sec: number;
  variance_percent: number;
}

export interface BansConfig {
  enabled: boolean;
  threshold: number;
  window_sec: number;
  duration_sec: number;
  /** IPs and CIDR blocks never banned, and exempt from `stratum.max_connections_per_ip`. */
  allowlist: string[];
  /** Short connections without an accepted share per strike; 0 = churn never strikes. */
  churn_per_strike: number;
}

/** The engine's config. See docs/configuration.md for every key's meaning and default. */
export interface PoolConfig {
  /** Derived: the file path, or a label such as `<dev>`. */
  origin: string;
  /** Derived: settings that loaded but deserve a log line at start (ignored ckpool keys, capped values). */
  warnings: ConfigWarning[];

  /** null = take it from the node's `getblockchaininfo` at start. */
  network: Network | null;
  mode: "primary" | "passthrough";
  btcd: BtcdNode[];
  /** Derived: every ZMQ endpoint to subscribe to. Empty = poll only. */
  zmqEndpoints: ZmqEndpoint[];
  /** Legacy single endpoint as written (also folded into `zmqEndpoints`). */
  zmqblock: string | null;
  /** Pool address: receives `donation`. null = none. Validated against the network at start. */
  btcaddress: string | null;
  btcsig: string;
  /** ms between getbestblockhash polls. */
  blockpoll: number;
  /** Percent of the reward paid to `btcaddress`. */
  donation: number;
  serverurl: ListenAddress[];
  mindiff: number;
  startdiff: number;
  /** 0 = no limit. */
  maxdiff: number;
  highdiff: number;
  /** Seconds between routine template refreshes. */
  update_interval: number;
  /** Derived from the hex string: the BIP310 mask as a number (0x1fffe000). */
  version_mask: number;
  nonce1length: number;
  nonce2length: number;
  logdir: string | null;
  /** Resolved: automatic (0) is replaced by 90 % of the open-file limit. */
  maxclients: number;
  /** Seconds; 0 = never drop idle authorized connections. */
  dropidle: number;

  primary: PrimaryLink | null;
  relay_server: RelayServer | null;
  region: string;
  instance: string;
  /** extranonce1 prefix byte, unique per instance. */
  instance_id: number;
  /**
   * Stratum worker processes of `tbg pool` (resolved: "auto" and the default become the core count).
   * `tbg dev` and an in-process `startPool` ignore it (one process).
   */
  workers: number;
  data_dir: string;
  user_settings_file: string | null;
  /** Seconds without the primary before a relay goes independent. */
  failover_threshold: number;
  job_expiry_sec: number;
  events: EventsConfig;
  health: HealthConfig;
  stratum: StratumConfig;
  vardiff: VardiffConfig;
  bans: BansConfig;
  log: { level: LogLevel };
}
