/**
 * Every configuration default, in one place, each documented next to its value.
 * docs/configuration.md repeats these values for operators; test/config/docs.test.ts keeps the
 * two in step. ckpool's own default is quoted where ours differs from it
 * (`ckpool.c:main`).
 */

/** Top-level defaults. Keys are the JSON keys of the config file. */
export const DEFAULTS = {
  /** `mode`: a normal pool that makes its own templates. `"passthrough"` makes this instance a relay. */
  mode: "primary",
  /**
   * `btcsig`: coinbase signature text when no per-user signature is set (per-user →
   * pool `btcsig` → this). Text that does not fit the 100-byte scriptSig is truncated with a
   * warning by the coinbase builder, never refused here.
   */
  btcsig: "/TheBitcoinGame/",
  /**
   * `blockpoll`: milliseconds between `getbestblockhash` polls, the fallback new-block detector
   * when no ZMQ endpoint is configured or all are silent. ckpool: 100.
   */
  blockpollMs: 100,
  /** `update_interval`: seconds between routine template refreshes (new transactions). ckpool: 30. */
  updateIntervalSec: 30,
  /** `donation`: percent of the block reward paid to `btcaddress`. ckpool: 0. */
  donationPercent: 0,
  /** `serverurl`: Stratum listen addresses. ckpool: `0.0.0.0:3333`. */
  serverurl: ["0.0.0.0:3333"] as readonly string[],
  /**
   * `mindiff`: lowest difficulty vardiff may assign. ckpool uses 1, which shuts out NerdMiner-class
   * devices (~50 kH/s sends `suggest_difficulty [0.0001]`): at 0.0001
   * such a device finds a share about every 8.6 s, close to the vardiff target.
   */
  mindiff: 0.0001,
  /**
   * `startdiff`: difficulty of a new connection before vardiff or `suggest_difficulty` acts.
   * ckpool's 42: a 1 TH/s BitAxe then sends ~5 shares/s, so vardiff converges within seconds;
   * slower devices suggest their own difficulty, and the time-based retarget lowers silent ones.
   */
  startdiff: 42,
  /** `maxdiff`: highest difficulty vardiff may assign; 0 = no limit (still capped by the network difficulty). ckpool: 0. */
  maxdiff: 0,
  /** `highdiff`: start difficulty on listen ports above 4000 (ckpool's high-diff ports convention). ckpool: 1 000 000. */
  highdiff: 1_000_000,
  /** Listen ports above this number are high-difficulty ports (ckpool `serverurl` convention). */
  highdiffPortAbove: 4000,
  /** `version_mask`: BIP310 version-rolling mask offered to miners (BIP320's general-purpose bits 13–28). ckpool: same. */
  versionMask: "1fffe000",
  /** `nonce1length`: extranonce1 bytes per connection; byte 0 is `instance_id`. ckpool: 4. */
  nonce1length: 4,
  /** `nonce2length`: extranonce2 bytes the miner rolls; 8 is the most cgminer/Whatsminer firmware accepts. ckpool: 8. */
  nonce2length: 8,
  /** `logdir`: null = log to stdout only. ckpool: `logs`. */
  logdir: null,
  /**
   * `maxclients`: 0 = automatic, 90 % of the process's open-file limit (as ckpool), or
   * `maxclientsFallback` when that limit cannot be read.
   */
  maxclients: 0,
  /** Fraction of the open-file limit used when `maxclients` is automatic (ckpool `main`). */
  maxclientsFileLimitFraction: 0.9,
  /** `maxclients` when automatic and the open-file limit is unknown. */
  maxclientsFallback: 10_000,
  /** `dropidle`: seconds after which an authorized connection that sent no share is dropped; 0 = never. ckpool: 0. */
  dropidleSec: 0,
  /** `region`: label on every event and in NATS subjects. The primary's default; relays must set their own. */
  region: "eu",
  /** `instance_id`: extranonce1 prefix byte (0–255); relays must choose their own. */
  instanceId: 0,
  /** `data_dir`: persistent state (all-time best difficulties, event spool). Relative to the working directory. */
  dataDir: "data",
  /** `user_settings_file`: none = no per-user settings. */
  userSettingsFile: null,
  /** `failover_threshold`: seconds without the primary before a relay makes its own templates. */
  failoverThresholdSec: 10,
  /** `job_expiry_sec`: how long an older job of the current block stays valid for submits. */
  jobExpirySec: 600,
  /** `log.level`: pino level. */
  logLevel: "info",
} as const;

/** `primary` block (relay side). Ports: the primary's Stratum port (3333) and its relay port (3334). */
export const PRIMARY_DEFAULTS = {
  /** `primary.port`: the primary's relay control port (authentication, block submission from relays). */
  port: 8880,
  /** `primary.template_push_port`: the primary's template push port. */
  templatePushPort: 8881,
  /** `primary.reconnect_interval`: seconds between reconnect attempts to the primary. */
  reconnectIntervalSec: 5,
} as const;

/** `relay_server` block (primary side): where relays connect. Mirrors `PRIMARY_DEFAULTS`. */
export const RELAY_SERVER_DEFAULTS = {
  enabled: true,
  host: "0.0.0.0",
  port: PRIMARY_DEFAULTS.port,
  templatePushPort: PRIMARY_DEFAULTS.templatePushPort,
} as const;

/** Shared secrets shorter than this are refused: they would be guessable. */
export const MIN_AUTH_TOKEN_LENGTH = 16;

/** `events` block. */
export const EVENTS_DEFAULTS = {
  enabled: true,
  /**
   * `events.socket_path`: Unix datagram socket the collector/publisher binds, under `data_dir` (a
   * directory this user owns). The ckpool fork's `/tmp/ckpool/events.sock` sits in a directory any local
   * user can create first and then take the socket over (issue 12 §4).
   */
  socketFile: "events.sock",
  /**
   * `events.queue_max`: events held in memory while the socket reader is slow; Linux queues only
   * `net.unix.max_dgram_qlen` datagrams per socket (10 on some hosts). Past this, events are dropped and counted.
   */
  queueMax: 10_000,
  /**
   * `events.batch_max_bytes`: events emitted in one turn of the event loop go to the socket together, one
   * per line of a datagram of at most this many bytes. Each datagram costs the pool a wake-up of the
   * reader (~17 µs of CPU at 10,000 events/s on a 2-core VM), so this is most of what delivering events
   * costs. 0 sends one event a datagram (for a reader older than line splitting).
   */
  batchMaxBytes: 16_384,
  /** `events.ack_socket_path` when not set: next to the reader's socket. */
  ackSocketSuffix: ".ack",
  /** `events.ack_window`: sent events kept until a confirming reader confirms them (ms of traffic normally). */
  ackWindow: 10_000,
  /** `events.nats.retain_sec` / `retain_mb`: acknowledged spool data kept to replay into a reset stream. */
  natsRetainSec: 6 * 3_600,
  natsRetainMb: 256,
  /** `events.nats.stream`: JetStream stream name. */
  natsStream: "MINING_EVENTS",
  /** `events.nats.subject_prefix`: subject is `{prefix}.{event_type}`; `{region}` is replaced. */
  natsSubjectPrefix: "mining.events.{region}",
} as const;

/** `health` block. */
export const HEALTH_DEFAULTS = {
  enabled: true,
  host: "0.0.0.0",
  /** `health.port`: `/health` and `/metrics`; the region monitor polls :9100. */
  port: 9100,
  /** `health.status_page`: the live page at `/` and its JSON API under `/api/`. */
  statusPage: true,
  /** `health.address_display`: the page is public wherever the port is, so addresses are shortened unless asked. */
  addressDisplay: "short",
} as const;

/** `stratum` block: bounds on what one connection may cost. */
export const STRATUM_DEFAULTS = {
  /** Longest accepted line: an ASIC submit is < 300 B; ckpool allows 1 KiB, miningcore 32 KiB. */
  maxLineBytes: 4096,
  /** Seconds a connection may stay unauthorized (ckpool drops them after 60 s). */
  idleTimeoutSec: 60,
  /** Sustained messages per second per connection (token bucket rate). */
  messageRatePerSec: 100,
  /**
   * Token bucket size. Covers a pipelined handshake and the first second of a 200 TH/s ASIC at
   * `startdiff` 42 (~1000 shares/s) until the first retarget reaches it.
   */
  messageBurst: 1000,
  /**
   * Connections per source address (IPv4, or IPv6 /64). Unlimited, one address could hold every slot
   * (`maxclients`) with idle connections and lock every other miner out. 256 covers a large home or
   * small commercial farm behind one NAT address; bigger farms go in `bans.allowlist`, which exempts
   * them. 0 = unlimited.
   */
  maxConnectionsPerIp: 256,
  /**
   * Connections per IPv6 /48, all its /64s together: 4 × the per-IP default, so a site rotating /64s
   * of its /48 gets 4 addresses' worth of slots, not unlimited. 0 = unlimited.
   */
  maxConnectionsPerIpv6Prefix: 1024,
  /** Seconds a connection may go without an accepted share before it is dropped (holds no slot for free). 0 = never. */
  dropSharelessSec: 600,
  /** Bytes queued for a slow reader before it is disconnected (~250 notifies). ckpool has no cap. */
  sendQueueMaxBytes: 1_048_576,
  /** Seconds a write may stay blocked before the connection is closed (ckpool: 60). */
  writeTimeoutSec: 60,
  /** Send `client.reconnect` to every miner on shutdown so it reconnects at once rather than after a timeout. */
  reconnectOnShutdown: true,
} as const;

/**
 * `vardiff` block. Target 10 s per share: the smallest supported device (50 kH/s at mindiff
 * 0.0001) can reach it, a 5-minute hashrate window then holds ~30 shares (±18 %), and the share
 * event stream stays at ~0.1 events/s per miner (ckpool's 3.3 s would triple collector writes
 * for no gain in a solo pool, where shares pay nothing). Retarget pacing as miningcore (30 % band).
 */
export const VARDIFF_DEFAULTS = {
  targetShareIntervalSec: 10,
  /** Consider a retarget after this many shares since the last change… */
  retargetMinShares: 16,
  /** …or after this many seconds, whichever comes first (the time rule lowers silent miners). */
  retargetIntervalSec: 60,
  /** No change while the observed share interval is within ± this percent of the target. */
  variancePercent: 30,
} as const;

/** `bans` block: temporary IP bans for protocol abuse (not for rejected shares). */
export const BANS_DEFAULTS = {
  enabled: true,
  /** Violations (invalid JSON, oversized lines, rate-limit excess) within `window_sec` that trigger a ban. */
  threshold: 10,
  windowSec: 60,
  durationSec: 600,
  /**
   * Connections from one address that the client closes within 30 s without an accepted share, per strike: 100 in a
   * minute (10 strikes) is a flood of cheap connections, while a miner on a flaky link reconnecting
   * every few seconds stays far below it.
   */
  churnPerStrike: 10,
} as const;

/** Values `tbg dev` uses where they differ from production (embedded regtest node, CPU miner). */
export const DEV_DEFAULTS = {
  network: "regtest",
  /** A CPU miner at ~1 MH/s finds a share at 0.001 in ~4 ms, so shares appear at once. */
  mindiff: 0.0001,
  startdiff: 0.001,
  /** Where the dev command keeps state; eslint and git ignore `.tbg-dev/`. */
  dataDir: ".tbg-dev",
  serverurl: ["127.0.0.1:3333"] as readonly string[],
  healthHost: "127.0.0.1",
  instance: "dev",
  /** bcoin regtest RPC port and placeholder credentials; `tbg dev` overrides `btcd` with its node. */
  btcdUrl: "127.0.0.1:48332",
  btcdAuth: "tbg",
  btcdPass: "tbg",
} as const;
