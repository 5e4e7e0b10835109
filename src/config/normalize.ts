/**
 * After the schema: checks that span several keys, then defaults and normalisation into
 * PoolConfig. `crossCheck` reads the raw document defensively (it runs even when the schema
 * found type errors, so one run reports every problem). Pure: the host name and open-file limit
 * come in through `ConfigEnv`.
 */
import { join } from "node:path";
import { parseHostPort, parseNatsServers, parseRpcUrl } from "./address.ts";
import { decodeAddress, type BitcoinNetwork } from "../core/bitcoin/address.ts";
import { AddressError } from "../core/bitcoin/errors.ts";
import { errorText } from "../util/errors.ts";
import {
  BANS_DEFAULTS,
  DEFAULTS,
  EVENTS_DEFAULTS,
  HEALTH_DEFAULTS,
  PRIMARY_DEFAULTS,
  RELAY_SERVER_DEFAULTS,
  STRATUM_DEFAULTS,
  VARDIFF_DEFAULTS,
} from "./defaults.ts";
import type { ConfigIssue, ConfigWarning } from "./errors.ts";
import { CONFIG_EVENT_TYPES, IGNORED_CKPOOL_KEYS, type ConfigInput } from "./schema.ts";
import type { BtcdNode, ListenAddress, PoolConfig, ZmqEndpoint } from "./types.ts";

/** What the loader learns from the machine, injected so normalisation stays pure. */
export interface ConfigEnv {
  /** Default for `instance`. */
  hostname: string;
  /** Soft RLIMIT_NOFILE, or null when unknown (then automatic `maxclients` uses the fallback). */
  openFileLimit: number | null;
  /** Cores for the `workers` default (os.availableParallelism()); absent = 1 worker. */
  cores?: number;
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Listen addresses that cannot all bind: same port on the same host, or either host a wildcard (ckpool `check_listen_port_clashes`). */
function listenClashes(entries: Array<{ key: string; host: string; port: number }>): ConfigIssue[] {
  const wildcard = (h: string): boolean => h === "" || h === "0.0.0.0" || h === "::" || h === "*";
  const out: ConfigIssue[] = [];
  for (let j = 1; j < entries.length; j++) {
    const b = entries[j];
    const a = entries.slice(0, j).find((e) => e.port !== 0 && e.port === b.port && (wildcard(e.host) || wildcard(b.host) || e.host.toLowerCase() === b.host.toLowerCase()));
    if (a) out.push({ key: b.key, reason: `port ${b.port} is already used by ${a.key}` });
  }
  return out;
}

/** extranonce1 values one instance can hand out: byte 0 is `instance_id`, the rest count connections. */
export function extranonce1Capacity(nonce1length: number): number {
  return 2 ** (8 * (nonce1length - 1));
}

const ADDRESS_NETWORKS: readonly BitcoinNetwork[] = ["mainnet", "testnet", "signet", "regtest"];

/**
 * `btcaddress` decoded in full (checksum, witness program) and, when `network` is configured, for that
 * network. Without `network` any network's address passes here; the engine checks it against the
 * network the node reports at start.
 */
function checkBtcaddress(address: unknown, network: unknown): ConfigIssue | null {
  if (typeof address !== "string" || !/^[A-Za-z0-9]{14,90}$/.test(address)) return null; // the schema reports that
  const nets = typeof network === "string" && (ADDRESS_NETWORKS as readonly string[]).includes(network) ? [network as BitcoinNetwork] : ADDRESS_NETWORKS;
  let first: unknown = null;
  for (const net of nets) {
    try {
      decodeAddress(address, net);
      return null;
    } catch (err) {
      first ??= err;
      // Well-formed for another network: only a configured network can rule it out.
      if (nets.length > 1 && err instanceof AddressError && err.code === "ADDRESS_WRONG_NETWORK") continue;
      if (nets.length > 1) break;
    }
  }
  return { key: "btcaddress", reason: errorText(first) };
}

/** Checks that involve more than one key. Returns issues; never throws. */
export function crossCheck(rawValue: unknown): ConfigIssue[] {
  const raw = obj(rawValue);
  if (!raw) return [];
  const issues: ConfigIssue[] = [];
  const passthrough = raw.mode === "passthrough";

  // Relay vs primary.
  if (passthrough) {
    if (raw.primary === undefined) issues.push({ key: "primary", reason: 'required when mode is "passthrough" ({host, auth_token, ...})' });
    if (raw.region === undefined) issues.push({ key: "region", reason: 'required when mode is "passthrough" (otherwise this relay\'s events say "eu")' });
    if (raw.instance_id === undefined || raw.instance_id === 0)
      issues.push({ key: "instance_id", reason: "a relay needs its own instance_id (1–255), distinct from the primary's (0) and every other relay's, so extranonce spaces never overlap" });
    if (raw.relay_server !== undefined) issues.push({ key: "relay_server", reason: 'only a primary serves relays; remove it or drop "mode": "passthrough"' });
  } else if (raw.primary !== undefined) {
    issues.push({ key: "primary", reason: 'only used when mode is "passthrough"; add "mode": "passthrough" to make this instance a relay, or remove it' });
  }

  // The engine binds its event-sending socket at the ack path: it must be a usable, distinct path.
  const ev = obj(raw.events);
  if (ev && ev.ack_socket_path !== null) {
    const socket = typeof ev.socket_path === "string" ? ev.socket_path : join(typeof raw.data_dir === "string" ? raw.data_dir : DEFAULTS.dataDir, EVENTS_DEFAULTS.socketFile);
    const ack = typeof ev.ack_socket_path === "string" ? ev.ack_socket_path : defaultAckPath(socket);
    if (ack === socket) issues.push({ key: "events.ack_socket_path", reason: "must differ from events.socket_path (the reader binds that one)" });
    else {
      // Stratum worker processes bind it + ".w<index>" (+ ".tx"): 4 more bytes when there may be workers.
      const max = raw.workers === 1 ? 104 : 100;
      if (Buffer.byteLength(ack) > max)
        issues.push({ key: "events.ack_socket_path", reason: `${ack} is longer than ${max} bytes (the engine also binds it + ".tx"${max < 104 ? ', each Stratum worker process it + ".w<n>.tx"' : ""}, and Unix socket paths stop at 107): set a shorter path, or null to turn confirmations off` });
    }
  }

  // bitcoind credentials: auth+pass, or a cookie file.
  if (Array.isArray(raw.btcd)) {
    raw.btcd.forEach((v, i) => {
      const b = obj(v);
      if (!b) return;
      const hasAuth = b.auth !== undefined;
      const hasPass = b.pass !== undefined;
      if (b.cookie !== undefined && (hasAuth || hasPass)) issues.push({ key: `btcd[${i}].cookie`, reason: "use either auth/pass or cookie, not both" });
      else if (hasAuth && !hasPass) issues.push({ key: `btcd[${i}].pass`, reason: "required with auth" });
      else if (hasPass && !hasAuth) issues.push({ key: `btcd[${i}].auth`, reason: "required with pass" });
      else if (!hasAuth && b.cookie === undefined) issues.push({ key: `btcd[${i}]`, reason: 'needs "auth" and "pass", or "cookie" (path to bitcoind\'s .cookie file)' });
    });
  }

  // Difficulty bounds; a default that conflicts is adjusted in normalize, a written one is an error.
  const mindiff = num(raw.mindiff) ?? DEFAULTS.mindiff;
  const maxdiff = num(raw.maxdiff) ?? DEFAULTS.maxdiff;
  const startdiff = num(raw.startdiff);
  const highdiff = num(raw.highdiff);
  if (raw.mindiff !== undefined && maxdiff > 0 && mindiff > maxdiff) issues.push({ key: "mindiff", reason: `${mindiff} is above maxdiff ${maxdiff}` });
  for (const [k, v] of [["startdiff", startdiff], ["highdiff", highdiff]] as const) {
    if (v === undefined) continue;
    if (v < mindiff) issues.push({ key: k, reason: `${v} is below mindiff ${mindiff}` });
    else if (maxdiff > 0 && v > maxdiff) issues.push({ key: k, reason: `${v} is above maxdiff ${maxdiff}` });
  }

  if ((num(raw.donation) ?? 0) > 0 && raw.btcaddress === undefined) issues.push({ key: "donation", reason: "needs btcaddress (where the donation is paid)" });
  const btcaddressIssue = checkBtcaddress(raw.btcaddress, raw.network);
  if (btcaddressIssue) issues.push(btcaddressIssue);

  const nonce1length = num(raw.nonce1length) ?? DEFAULTS.nonce1length;
  const maxclients = num(raw.maxclients);
  if (maxclients !== undefined && maxclients > extranonce1Capacity(nonce1length))
    issues.push({ key: "maxclients", reason: `${maxclients} exceeds the ${extranonce1Capacity(nonce1length)} extranonce1 values nonce1length ${nonce1length} allows (one byte is instance_id)` });

  // Listen ports.
  const listens: Array<{ key: string; host: string; port: number }> = [];
  const urls = typeof raw.serverurl === "string" ? [raw.serverurl] : Array.isArray(raw.serverurl) ? raw.serverurl : DEFAULTS.serverurl;
  urls.forEach((u, i) => {
    const hp = typeof u === "string" ? parseHostPort(u, { allowPortZero: true }) : null;
    if (hp?.ok) listens.push({ key: typeof raw.serverurl === "string" ? "serverurl" : `serverurl[${i}]`, ...hp.value });
  });
  const health = obj(raw.health);
  if (health?.enabled !== false) listens.push({ key: "health.port", host: str(health?.host) ?? HEALTH_DEFAULTS.host, port: num(health?.port) ?? HEALTH_DEFAULTS.port });
  const rs = obj(raw.relay_server);
  if (rs && rs.enabled !== false) {
    const h = str(rs.host) ?? RELAY_SERVER_DEFAULTS.host;
    listens.push({ key: "relay_server.port", host: h, port: num(rs.port) ?? RELAY_SERVER_DEFAULTS.port });
    listens.push({ key: "relay_server.template_push_port", host: h, port: num(rs.template_push_port) ?? RELAY_SERVER_DEFAULTS.templatePushPort });
  }
  issues.push(...listenClashes(listens));

  // events: the older spellings (nats_url, nats_subject) and the nats block are alternatives.
  const events = obj(raw.events);
  if (events) {
    const nats = obj(events.nats);
    if (events.nats_url !== undefined && nats) issues.push({ key: "events.nats_url", reason: "conflicts with events.nats.url: keep one" });
    if (events.nats_subject !== undefined && nats?.subject_prefix !== undefined) issues.push({ key: "events.nats_subject", reason: "conflicts with events.nats.subject_prefix: keep one" });
    if (events.nats_subject !== undefined && events.nats_url === undefined && !nats) issues.push({ key: "events.nats_subject", reason: "needs events.nats.url (or events.nats_url)" });
    if (nats && nats.token !== undefined && (nats.user !== undefined || nats.creds_file !== undefined))
      issues.push({ key: "events.nats.token", reason: "use one NATS authentication: token, user/pass, or creds_file" });
    if (nats && nats.user !== undefined && nats.creds_file !== undefined)
      issues.push({ key: "events.nats.user", reason: "use one NATS authentication: token, user/pass, or creds_file" });
    if (nats && (nats.tls_cert_file === undefined) !== (nats.tls_key_file === undefined))
      issues.push({ key: nats.tls_cert_file === undefined ? "events.nats.tls_key_file" : "events.nats.tls_cert_file", reason: "a TLS client certificate needs its key: set both tls_cert_file and tls_key_file" });
  }
  return issues;
}

/** Warnings for a config that passed validation. */
function collectWarnings(raw: ConfigInput, btcd: BtcdNode[]): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const [k, why] of Object.entries(IGNORED_CKPOOL_KEYS)) if (k in raw) warnings.push({ key: k, reason: `ignored: ${why}` });
  btcd.forEach((b, i) => {
    const first = btcd.findIndex((o) => o.rpcUrl === b.rpcUrl);
    if (first !== i) warnings.push({ key: `btcd[${i}].url`, reason: `same node as btcd[${first}]: blocks will be submitted to it twice` });
  });
  if ((raw.update_interval ?? 0) > 55)
    warnings.push({ key: "update_interval", reason: "above 55 s: some firmware marks a pool dead after ~60 s without a notify" });
  return warnings;
}

/** `events.ack_socket_path` when not configured: the reader's socket path + ".ack". */
export function defaultAckPath(socketPath: string): string {
  return socketPath + EVENTS_DEFAULTS.ackSocketSuffix;
}

function sanitizeInstance(hostname: string): string {
  const s = hostname.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
  return s.length > 0 ? s : "tbg";
}

/** Applies defaults and derives the parsed forms. Call only after schema and crossCheck passed. */
export function normalize(raw: ConfigInput, origin: string, env: ConfigEnv): PoolConfig {
  const btcd: BtcdNode[] = raw.btcd.map((b, index) => {
    const rpc = parseRpcUrl(b.url);
    if (!rpc.ok) throw new Error(`unreachable: btcd[${index}].url passed the schema`);
    return { index, url: b.url, ...rpc.value, auth: b.auth ?? null, pass: b.pass ?? null, cookie: b.cookie ?? null, notify: b.notify ?? false, zmqnotify: b.zmqnotify ?? null };
  });

  const zmqEndpoints: ZmqEndpoint[] = [];
  const addZmq = (endpoint: string, source: string, btcdIndex: number | null): void => {
    if (!zmqEndpoints.some((e) => e.endpoint === endpoint)) zmqEndpoints.push({ endpoint, source, btcdIndex });
  };
  for (const b of btcd) if (b.zmqnotify) addZmq(b.zmqnotify, `btcd[${b.index}].zmqnotify`, b.index);
  if (raw.zmqblock) addZmq(raw.zmqblock, "zmqblock", null);

  const urlList = raw.serverurl === undefined ? DEFAULTS.serverurl : typeof raw.serverurl === "string" ? [raw.serverurl] : raw.serverurl;
  const serverurl: ListenAddress[] = urlList.map((url) => {
    const hp = parseHostPort(url, { allowPortZero: true });
    if (!hp.ok) throw new Error(`unreachable: serverurl ${url} passed the schema`);
    return { url, ...hp.value, highdiff: hp.value.port > DEFAULTS.highdiffPortAbove };
  });

  const mindiff = raw.mindiff ?? DEFAULTS.mindiff;
  const maxdiff = raw.maxdiff ?? DEFAULTS.maxdiff;
  const clampDiff = (d: number): number => Math.min(Math.max(d, mindiff), maxdiff > 0 ? maxdiff : Infinity);

  const warnings = collectWarnings(raw, btcd);
  const nonce1length = raw.nonce1length ?? DEFAULTS.nonce1length;
  let maxclients = raw.maxclients ?? DEFAULTS.maxclients;
  const fileCap = env.openFileLimit === null ? null : Math.max(1, Math.floor(env.openFileLimit * DEFAULTS.maxclientsFileLimitFraction));
  if (maxclients === 0) maxclients = Math.min(fileCap ?? DEFAULTS.maxclientsFallback, extranonce1Capacity(nonce1length));
  else if (fileCap !== null && maxclients > fileCap) {
    warnings.push({ key: "maxclients", reason: `${maxclients} capped to ${fileCap} (90 % of the open-file limit ${env.openFileLimit}); raise the limit (ulimit -n / LimitNOFILE) to allow more` });
    maxclients = fileCap;
  }

  const region = raw.region ?? DEFAULTS.region;
  const ev = raw.events ?? {};
  const eventsSocket = ev.socket_path ?? join(raw.data_dir ?? DEFAULTS.dataDir, EVENTS_DEFAULTS.socketFile);
  const natsUrl = ev.nats?.url ?? ev.nats_url;
  const nats =
    natsUrl === undefined
      ? null
      : {
          url: natsUrl,
          servers: (() => {
            const p = parseNatsServers(natsUrl);
            return p.ok ? p.value : [];
          })(),
          stream: ev.nats?.stream ?? EVENTS_DEFAULTS.natsStream,
          subject_prefix: (ev.nats?.subject_prefix ?? ev.nats_subject ?? EVENTS_DEFAULTS.natsSubjectPrefix).replaceAll("{region}", region),
          retain_sec: ev.nats?.retain_sec ?? EVENTS_DEFAULTS.natsRetainSec,
          retain_mb: ev.nats?.retain_mb ?? EVENTS_DEFAULTS.natsRetainMb,
          creds_file: ev.nats?.creds_file ?? null,
          token: ev.nats?.token ?? null,
          user: ev.nats?.user ?? null,
          pass: ev.nats?.pass ?? null,
          tls_ca_file: ev.nats?.tls_ca_file ?? null,
          tls_cert_file: ev.nats?.tls_cert_file ?? null,
          tls_key_file: ev.nats?.tls_key_file ?? null,
        };

  const rs = raw.relay_server;
  return {
    origin,
    warnings,
    network: raw.network ?? null,
    mode: raw.mode ?? DEFAULTS.mode,
    btcd,
    zmqEndpoints,
    zmqblock: raw.zmqblock ?? null,
    btcaddress: raw.btcaddress ?? null,
    btcsig: raw.btcsig ?? DEFAULTS.btcsig,
    blockpoll: raw.blockpoll ?? DEFAULTS.blockpollMs,
    donation: raw.donation ?? DEFAULTS.donationPercent,
    serverurl,
    mindiff,
    startdiff: raw.startdiff ?? clampDiff(DEFAULTS.startdiff),
    maxdiff,
    highdiff: raw.highdiff ?? clampDiff(DEFAULTS.highdiff),
    update_interval: raw.update_interval ?? DEFAULTS.updateIntervalSec,
    version_mask: parseInt(raw.version_mask ?? DEFAULTS.versionMask, 16),
    nonce1length,
    nonce2length: raw.nonce2length ?? DEFAULTS.nonce2length,
    logdir: raw.logdir ?? DEFAULTS.logdir,
    maxclients,
    dropidle: raw.dropidle ?? DEFAULTS.dropidleSec,
    primary: raw.primary
      ? {
          host: raw.primary.host,
          port: raw.primary.port ?? PRIMARY_DEFAULTS.port,
          auth_token: raw.primary.auth_token,
          template_push_port: raw.primary.template_push_port ?? PRIMARY_DEFAULTS.templatePushPort,
          reconnect_interval: raw.primary.reconnect_interval ?? PRIMARY_DEFAULTS.reconnectIntervalSec,
        }
      : null,
    relay_server:
      rs && rs.enabled !== false
        ? {
            host: rs.host ?? RELAY_SERVER_DEFAULTS.host,
            port: rs.port ?? RELAY_SERVER_DEFAULTS.port,
            template_push_port: rs.template_push_port ?? RELAY_SERVER_DEFAULTS.templatePushPort,
            auth_token: rs.auth_token,
          }
        : null,
    region,
    instance: raw.instance ?? sanitizeInstance(env.hostname),
    instance_id: raw.instance_id ?? DEFAULTS.instanceId,
    workers: raw.workers === undefined || raw.workers === "auto" ? autoWorkers(env.cores) : raw.workers,
    data_dir: raw.data_dir ?? DEFAULTS.dataDir,
    user_settings_file: raw.user_settings_file ?? DEFAULTS.userSettingsFile,
    failover_threshold: raw.failover_threshold ?? DEFAULTS.failoverThresholdSec,
    job_expiry_sec: raw.job_expiry_sec ?? DEFAULTS.jobExpirySec,
    events: {
      enabled: ev.enabled ?? EVENTS_DEFAULTS.enabled,
      socket_path: eventsSocket,
      types: ev.types ? [...new Set(ev.types)] : [...CONFIG_EVENT_TYPES],
      queue_max: ev.queue_max ?? EVENTS_DEFAULTS.queueMax,
      batch_max_bytes: ev.batch_max_bytes ?? EVENTS_DEFAULTS.batchMaxBytes,
      ack_socket_path: ev.ack_socket_path === null ? null : (ev.ack_socket_path ?? defaultAckPath(eventsSocket)),
      ack_window: ev.ack_window ?? EVENTS_DEFAULTS.ackWindow,
      nats,
    },
    health: {
      enabled: raw.health?.enabled ?? HEALTH_DEFAULTS.enabled,
      host: raw.health?.host ?? HEALTH_DEFAULTS.host,
      port: raw.health?.port ?? HEALTH_DEFAULTS.port,
      status_page: raw.health?.status_page ?? HEALTH_DEFAULTS.statusPage,
      address_display: raw.health?.address_display ?? HEALTH_DEFAULTS.addressDisplay,
    },
    stratum: {
      max_line_bytes: raw.stratum?.max_line_bytes ?? STRATUM_DEFAULTS.maxLineBytes,
      idle_timeout_sec: raw.stratum?.idle_timeout_sec ?? STRATUM_DEFAULTS.idleTimeoutSec,
      message_rate_per_sec: raw.stratum?.message_rate_per_sec ?? STRATUM_DEFAULTS.messageRatePerSec,
      message_burst: raw.stratum?.message_burst ?? STRATUM_DEFAULTS.messageBurst,
      max_connections_per_ip: raw.stratum?.max_connections_per_ip ?? STRATUM_DEFAULTS.maxConnectionsPerIp,
      max_connections_per_ipv6_48: raw.stratum?.max_connections_per_ipv6_48 ?? STRATUM_DEFAULTS.maxConnectionsPerIpv6Prefix,
      drop_shareless_sec: raw.stratum?.drop_shareless_sec ?? STRATUM_DEFAULTS.dropSharelessSec,
      send_queue_max_bytes: raw.stratum?.send_queue_max_bytes ?? STRATUM_DEFAULTS.sendQueueMaxBytes,
      write_timeout_sec: raw.stratum?.write_timeout_sec ?? STRATUM_DEFAULTS.writeTimeoutSec,
      reconnect_on_shutdown: raw.stratum?.reconnect_on_shutdown ?? STRATUM_DEFAULTS.reconnectOnShutdown,
    },
    vardiff: {
      target_share_interval_sec: raw.vardiff?.target_share_interval_sec ?? VARDIFF_DEFAULTS.targetShareIntervalSec,
      retarget_min_shares: raw.vardiff?.retarget_min_shares ?? VARDIFF_DEFAULTS.retargetMinShares,
      retarget_interval_sec: raw.vardiff?.retarget_interval_sec ?? VARDIFF_DEFAULTS.retargetIntervalSec,
      variance_percent: raw.vardiff?.variance_percent ?? VARDIFF_DEFAULTS.variancePercent,
    },
    bans: {
      enabled: raw.bans?.enabled ?? BANS_DEFAULTS.enabled,
      threshold: raw.bans?.threshold ?? BANS_DEFAULTS.threshold,
      window_sec: raw.bans?.window_sec ?? BANS_DEFAULTS.windowSec,
      duration_sec: raw.bans?.duration_sec ?? BANS_DEFAULTS.durationSec,
      allowlist: raw.bans?.allowlist ?? [],
      churn_per_strike: raw.bans?.churn_per_strike ?? BANS_DEFAULTS.churnPerStrike,
    },
    log: { level: raw.log?.level ?? DEFAULTS.logLevel },
  };
}

/** The schema's upper bound for `workers`. */
const MAX_WORKERS = 64;

/**
 * `workers: "auto"`: one Stratum worker per core but one, the primary's, which makes the templates, submits
 * blocks and serves HTTP; below 3 cores, one process does it all. Measured on 2 cores (docs/benchmarks.md,
 * "Workers"): a second worker cost 20–35 % more CPU per share and did not speed the fan-out up, since the
 * processes compete for the same two cores with the kernel's network work.
 */
export function autoWorkers(cores: number | undefined): number {
  const n = Math.floor(cores ?? 1);
  return n >= 3 ? Math.min(n - 1, MAX_WORKERS) : 1;
}
