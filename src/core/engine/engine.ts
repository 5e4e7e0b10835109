/**
 * The engine core: templates → jobs → Stratum sessions → share verdicts → blocks.
 * It owns no logging, metrics or event sinks: it publishes plain-data events on `bus` and answers
 * `status()` with a snapshot; the app layer (src/app/) turns both into logs, metrics and mining events.
 * Its parts (nodes, template source, job registry, Stratum server, abuse guard) are private.
 */
import { EventEmitter } from "node:events";
import { randomInt } from "node:crypto";
import { DEFAULT_RPC_TIMEOUT_MS, RpcClient } from "../bitcoind/rpc-client.ts";
import { addressToOutputScript, decodeAddress, type BitcoinNetwork } from "../bitcoin/address.ts";
import { reverseBytes } from "../bitcoin/hash.ts";
import type { PoolConfig } from "../../config/types.ts";
import { ConfigError } from "../../config/errors.ts";
import { JobRegistry, type Job } from "../work/jobs.ts";
import { prepareTemplate, type GbtTemplate, type TemplateWork } from "../work/template.ts";
import { assembleSlimBlock, isSlimTemplate, prepareSlimTemplate, remoteTemplateIdOf, RetainedTemplates, type SlimBlock } from "../work/slim-template.ts";
import { CoinbaseFactory, type Payout } from "../work/coinbase-cache.ts";
import { TemplateSource, type NodeStatus, type TemplateReason } from "../work/template-source.ts";
import { assembleBlockHex, BlockSubmitter, type BlockOutcome, type SubmitResult } from "../work/block-submitter.ts";
import { DuplicateFilter, type BlockCandidate, type ShareVerdict } from "../shares/validator.ts";
import { Extranonce1Allocator } from "../stratum/extranonce.ts";
import { splitUsername, type AuthResult, type MinerIdentity } from "../stratum/identity.ts";
import type { DifficultyReason, Session, SessionHost, SessionSnapshot } from "../stratum/session.ts";
import { StratumServer, type ListenAddress } from "../stratum/server.ts";
import { MinerStats, type HashrateEntry } from "../stats/miners.ts";
import type { HashrateWindow } from "../stats/hashrate.ts";
import { AddressError } from "../bitcoin/errors.ts";
import { TbgError, errorText } from "../../util/errors.ts";
import { StartCancelledError, cancellableDelay, throwIfCancelled } from "../../util/lifecycle.ts";
import { BanList, type BanInfo } from "../security/bans.ts";
import { AbuseGuard, type AbuseStats } from "../security/abuse-guard.ts";
import { RelayController, type RelayMode } from "../relay/relay-mode.ts";
import { PrimaryLink } from "../relay/link.ts";

export const DEFAULT_SIGNATURE = "/TheBitcoinGame/";

export interface BlockFound {
  session: SessionSnapshot | null;
  identity: MinerIdentity | null;
  height: number;
  hashHex: string;
  rewardSats: bigint;
  signature: string;
  shareDifficulty: number;
  networkDifficulty: number;
  /** Answers received when the outcome was known (at the first node that accepted, or when all had answered). */
  results: SubmitResult[];
  /** Nodes still answering then; their results follow as `blockLateResult`. */
  pending: string[];
  accepted: boolean;
  outcome: BlockOutcome;
}

/** Most recent parents remembered for one-block-per-parent (far more than a chain moves between templates). */
const BLOCK_PARENTS_KEPT = 64;
/**
 * How long a Stratum worker process waits for the primary's answer to its block (ms): more than the
 * primary's submitblock can take (the RPC timeout, once more on a fresh connection).
 */
const WORKER_SUBMIT_TIMEOUT_MS = 3 * DEFAULT_RPC_TIMEOUT_MS;

export interface EngineEventMap {
  /** `gbt`: the template as the node served it (a primary pushes it to its relays unchanged); on a Stratum worker process, the slim template. */
  template: [{ template: TemplateWork; job: Job; newBlock: boolean; reason: TemplateReason; fanoutMs: number; gbt: GbtTemplate }];
  newBlockNetwork: [{ height: number; hash: string; prevHash: string | null; source: string }];
  share: [{ session: SessionSnapshot; verdict: ShareVerdict }];
  blockSubmitting: [{ session: SessionSnapshot | null; hashHex: string; height: number }];
  block: [BlockFound];
  /** A node answered for a block after its outcome was already known (a slow or hung node). */
  blockLateResult: [{ hashHex: string; height: number; result: SubmitResult }];
  /** A block candidate not submitted: the pool already has a block accepted (or being submitted) on the same parent. */
  blockSuppressed: [{ session: SessionSnapshot | null; hashHex: string; height: number; prevHash: string }];
  authorized: [SessionSnapshot];
  opened: [SessionSnapshot];
  disconnected: [{ session: SessionSnapshot; reason: string }];
  difficulty: [{ session: SessionSnapshot; oldDifficulty: number | null; newDifficulty: number; reason: DifficultyReason }];
  nodeState: [{ status: NodeStatus; error: unknown }];
  /** `detect`: no node answered getblockchaininfo at start (not a template fetch; said every second). */
  nodesDown: [{ error: unknown; detect?: boolean }];
  protocolError: [{ session: SessionSnapshot; kind: string; detail: string }];
  refused: [{ ip: string; reason: string }];
  rateLimited: [{ session: SessionSnapshot }];
  /** An IP (or IPv6 prefix) was banned; its sessions are being dropped with reason "banned". */
  banned: [BanInfo];
  banExpired: [BanInfo];
  warning: [{ message: string }];
  /**
   * A Stratum worker process's block (on a slim template) this primary could not assemble: it no longer
   * has that template, or the header does not commit to it. The block is lost; never silent.
   */
  workerBlockUnassembled: [{ hashHex: string; height: number; templateId: number; reason: string }];
  /** A relay (`mode: "passthrough"`) changed mode: following the primary, or making its own templates. */
  relayState: [{ state: RelayMode; previous: RelayMode | null; reason: string }];
}

/** Where per-user coinbase signatures come from: the user settings file (`user_settings_file`). */
export interface SignatureSource {
  signatureFor(address: string): string | undefined;
}

export interface EngineOptions {
  config: PoolConfig;
  now?: () => number;
  signatures?: SignatureSource;
  /** Decides whether an IP may connect. Default: the engine's own ban list (config `bans`). */
  admit?: (ip: string) => { ok: true } | { ok: false; reason: string };
  /** Per-call bitcoind RPC timeout, ms (default: the RPC client's, 10 s). */
  rpcTimeoutMs?: number;
  /** Relay link timing (tests shorten it): keepalive interval, and how long a block submission to the primary may take. */
  relayLink?: { pingIntervalMs?: number; submitTimeoutMs?: number };
  /**
   * Stratum worker processes (`workers`, docs/architecture.md "Workers"), primary side: this engine makes
   * the templates and submits blocks but binds no Stratum port; its connection, share and hashrate views
   * come from the workers' latest snapshots (`view()`).
   */
  stratumWorkers?: {
    view(): StratumWorkersView;
    /**
     * Every template this engine adopts, once prepared (the workers get its slim form,
     * src/core/work/slim-template.ts), before this engine makes its job.
     */
    pushTemplate?(template: TemplateWork): void;
  };
  /**
   * Stratum worker processes, worker side: this engine has no node of its own; it mines on the primary
   * process's templates (the relay template push on loopback) and submits its blocks to it. `slice`:
   * this worker's part of the extranonce1 counter space.
   */
  upstream?: { host: string; controlPort: number; pushPort: number; authToken: string; slice: { index: number; count: number } };
}

/** What the Stratum worker processes serve, merged (see {@link EngineOptions.stratumWorkers}). */
export interface StratumWorkersView {
  listening: ListenAddress[];
  connections: number;
  sendQueueBytes: number;
  shares: { accepted: number; rejected: number };
  blocks: EngineStatus["blocks"];
  lastBlock: BlockFound | null;
  hashrateHs: Record<HashrateWindow, number>;
  /** The workers' abuse counters, summed (this engine's own guard sees no connection). */
  abuse: AbuseStats;
  counts: ConnectedCounts;
  /** The workers' sessions (each worker's busiest, bounded). */
  sessions: SessionView[];
  /** Per worker and per user, summed over the processes (active within 10 min). */
  hashrates: HashrateEntry[];
  /** One entry of `hashrates` (worker null = the user's). */
  hashrateOf(user: string, worker: string | null): Record<HashrateWindow, number> | null;
  /** Why the workers are degraded right now (a silent worker, fewer ready than configured); empty = ok. */
  problems: string[];
  /** The workers' own events (emitted, queued, dropped by reason), summed; null when events are off. */
  events: WorkerEventCounts | null;
}

/** Event counters of Stratum worker processes (their publishers' stats, summed). */
export interface WorkerEventCounts {
  emitted: number;
  queued: number;
  dropped: Record<string, number>;
}

/** The engine at one moment, as plain data (what /health, /metrics and the events bridge read). */
export interface EngineStatus {
  /** Null until start-up learnt it (from config or the first node). */
  network: BitcoinNetwork | null;
  startedAtMs: number;
  nowMs: number;
  region: string;
  instance: string;
  mode: PoolConfig["mode"];
  /** `update_interval`: seconds between template refreshes. */
  updateIntervalSec: number;
  /** Stratum listeners actually bound (empty before start). */
  listening: ListenAddress[];
  /** Open Stratum connections. */
  connections: number;
  /** Bytes queued for sending across all connections. */
  sendQueueBytes: number;
  /** The current job's work, or null before the first template. */
  work: { height: number; jobId: string; node: string; transactions: number; networkDifficulty: number; prevHash: string } | null;
  /** When the last template was adopted (ms; 0 = none yet). */
  lastTemplateAtMs: number;
  /** Every configured node, by name, in priority order (known before start). */
  nodeNames: string[];
  /** Node health as the template source sees it (empty before start). */
  nodes: NodeStatus[];
  shares: { accepted: number; rejected: number };
  /** Blocks found (submitted), accepted, lost to another block at the same height, not submitted (one per parent). */
  blocks: { found: number; accepted: number; lostRace: number; suppressed: number };
  lastBlock: BlockFound | null;
  /** Pool hashrate estimate (H/s) per window. */
  hashrateHs: Record<HashrateWindow, number>;
  /** Strikes, bans and the hardening counters. */
  abuse: AbuseStats;
  /** With Stratum worker processes: why they are degraded right now (see {@link StratumWorkersView.problems}). */
  workerProblems?: string[];
  /** With Stratum worker processes: their events, summed (see {@link StratumWorkersView.events}). */
  workerEvents?: WorkerEventCounts | null;
}

/** A live session, read-only: what the status page shows of each connection. */
export type SessionView = Readonly<Pick<Session, "id" | "identity" | "userAgent" | "difficulty" | "lastShareMs" | "bestDifficulty" | "sharesAccepted" | "sharesRejected" | "connectedAtMs">>;

/** Connected miners by what they are: connections, distinct (address, worker), distinct addresses. */
export interface ConnectedCounts {
  miners: number;
  workers: number;
  users: number;
}

const CHAIN_TO_NETWORK: Record<string, BitcoinNetwork> = { main: "mainnet", test: "testnet", testnet4: "testnet", signet: "signet", regtest: "regtest" };

export class Engine {
  readonly bus = new EventEmitter<EngineEventMap>();
  readonly now: () => number;
  private readonly config: PoolConfig;
  private readonly startedAtMs: number;
  private readonly nodes: RpcClient[];
  private readonly stats: MinerStats;
  private readonly jobs: JobRegistry;
  private network: BitcoinNetwork | null = null;
  private server: StratumServer | null = null;
  private templateSource: TemplateSource | null = null;
  /** On a relay (`mode: "passthrough"`): which templates are mined on (primary or local) and dual submission. */
  private relayController: RelayController | null = null;
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Aborted by close(): cancels a start-up still in progress. */
  private readonly lifetime = new AbortController();
  private readonly duplicates = new DuplicateFilter();
  private readonly extranonce: Extranonce1Allocator;
  private coinbase: CoinbaseFactory | null = null;
  private readonly signatures: SignatureSource | undefined;
  private templateSeq = 0;
  /** Which source first announced each new tip (for new_block_network). */
  private readonly hintSources = new Map<string, string>();
  private readonly counters = { sharesAccepted: 0, sharesRejected: 0, blocksFound: 0, blocksAccepted: 0, blocksLostRace: 0, blocksSuppressed: 0, workerBlocksUnassembled: 0 };
  /** With Stratum worker processes: this primary's templates, kept while a worker may find a block on one. */
  private readonly retained: RetainedTemplates | null;
  private lastBlock: BlockFound | null = null;
  private readonly pendingSubmits = new Set<Promise<unknown>>();
  private readonly submitter: BlockSubmitter;
  /**
   * Parent (previous-block hash) → the pool's block on it being submitted, accepted, or lost in a race
   * (another block on that parent won). One block per parent; cleared when a new-block template on that
   * parent arrives again (the chain went back to it: invalidateblock, reorg).
   */
  private readonly blockParents = new Map<string, "submitting" | "accepted" | "lost">();
  /** Parent → the latest candidate suppressed while a block on it was submitting: sent if that one is rejected. */
  private readonly heldCandidates = new Map<string, { candidate: BlockCandidate; session: Session | null }>();
  /** Strikes, bans and the hardening counters (protocol errors, disconnects, refusals by reason). */
  private readonly guard: AbuseGuard;

  constructor(private readonly opts: EngineOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    this.startedAtMs = this.now();
    this.signatures = opts.signatures;
    this.stats = new MinerStats(this.startedAtMs);
    this.jobs = new JobRegistry({ jobExpirySec: this.config.job_expiry_sec, firstSeq: randomInt(1, 0x7fffffff) });
    // A job lives job_expiry from its making (no later than its template's replacement); a minute more for the block's trip.
    this.retained = opts.stratumWorkers ? new RetainedTemplates((this.config.job_expiry_sec + 60) * 1000) : null;
    this.extranonce = new Extranonce1Allocator(this.config.nonce1length, this.config.instance_id, randomInt(0, 0xffffff), opts.upstream?.slice);
    this.nodes = this.config.btcd.map(
      (n) => new RpcClient({ url: n.rpcUrl, user: n.auth ?? undefined, pass: n.pass ?? undefined, cookieFile: n.cookie ?? undefined, name: `btcd[${n.index}] ${n.host}:${n.port}`, timeoutMs: opts.rpcTimeoutMs }),
    );
    this.submitter = new BlockSubmitter({ nodes: this.nodes });
    const b = this.config.bans;
    this.guard = new AbuseGuard({
      bus: this.bus,
      bans: new BanList({ enabled: b.enabled, threshold: b.threshold, windowSec: b.window_sec, durationSec: b.duration_sec, allowlist: b.allowlist, now: this.now }),
      sessions: () => this.server?.sessions() ?? [],
      churnPerStrike: b.churn_per_strike,
      churnWindowMs: b.window_sec * 1000,
      hasJob: () => this.jobs.current !== null,
      validShareFloor: this.config.mindiff,
    });
    this.guard.events.on("banned", (ban) => this.bus.emit("banned", ban));
    this.guard.events.on("banExpired", (ban) => this.bus.emit("banExpired", ban));
  }

  /** Network from config, or from the first node that answers getblockchaininfo (retried each second until cancelled). */
  private async detectNetwork(signal: AbortSignal): Promise<BitcoinNetwork> {
    if (this.config.network) return this.config.network;
    let lastErr: unknown = null;
    for (let attempt = 0; ; attempt++) {
      for (const rpc of this.nodes) {
        throwIfCancelled(signal, "engine");
        try {
          const info = await rpc.getBlockchainInfo();
          const net = CHAIN_TO_NETWORK[info.chain];
          if (!net) throw new TbgError("NETWORK_UNKNOWN", `node reports unknown chain '${info.chain}'`);
          return net;
        } catch (err) {
          if (err instanceof TbgError && err.code === "NETWORK_UNKNOWN") throw err;
          if (attempt === 0) this.bus.emit("warning", { message: `${rpc.name}: getblockchaininfo failed: ${errorText(err)}` });
          lastErr = err;
        }
      }
      this.bus.emit("nodesDown", { error: lastErr, detect: true });
      await cancellableDelay(1000, signal, "engine");
    }
  }

  /**
   * Learns the network, fetches the first template, binds the Stratum listeners. Idempotent; `signal`
   * (or close()) cancels it with START_CANCELLED, even while no node answers.
   */
  start(signal?: AbortSignal): Promise<void> {
    this.starting ??= this.doStart(signal ? AbortSignal.any([signal, this.lifetime.signal]) : this.lifetime.signal);
    return this.starting;
  }

  private async doStart(signal: AbortSignal): Promise<void> {
    throwIfCancelled(signal, "engine");
    const network = await this.detectNetwork(signal);
    this.network = network;
    let donationScript: Buffer | null = null;
    if (this.config.btcaddress) {
      try {
        donationScript = addressToOutputScript(this.config.btcaddress, network);
      } catch (err) {
        // Same format as the load-time config errors (without `network` the node decides the network).
        throw new ConfigError(`(btcaddress checked against the node's network, ${network})`, [{ key: "btcaddress", reason: errorText(err) }]);
      }
    }
    if (this.config.donation > 0 && !donationScript) this.bus.emit("warning", { message: "donation is set but btcaddress is not: no donation output" });
    this.coinbase = new CoinbaseFactory({
      extranonce1Size: this.config.nonce1length,
      extranonce2Size: this.config.nonce2length,
      donationPercent: this.config.donation,
      donationScript,
      onWarning: (message) => this.bus.emit("warning", { message }),
    });
    const rules = network === "signet" ? ["segwit", "signet"] : ["segwit"];
    if (this.opts.upstream) return this.startWorker(signal);
    this.templateSource = new TemplateSource({
      nodes: this.nodes,
      rules,
      pollMs: this.config.blockpoll,
      updateIntervalSec: this.config.update_interval,
      now: this.now,
      // --- relay hook: on a relay the local node's templates go through the RelayController (src/core/relay/relay-mode.ts).
      onTemplate: (gbt, node, reason) => (this.relayController ? this.relayController.onLocalTemplate(gbt, node, reason) : this.adoptTemplate(gbt, node, reason)),
      checkTemplate: (gbt) => void prepareTemplate(gbt, { seq: 0, versionMask: this.config.version_mask, source: "probe", nowMs: this.now() }),
      onNodeState: (status, error) => this.bus.emit("nodeState", { status, error }),
      onAllNodesFailed: (error) => this.bus.emit("nodesDown", { error }),
      onPolledNewBlock: (hash) => this.noteHintSource(hash, "poll"),
    });
    if (this.config.mode === "passthrough") this.relayController = this.createRelay();
    this.relayController?.start();
    await this.templateSource.start(signal);
    throwIfCancelled(signal, "engine");
    // A relay starts serving on the primary's first template, or on its own after failover_threshold.
    if (this.relayController) await Promise.race([this.relayController.firstWorkReady(), new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    throwIfCancelled(signal, "engine");
    // With Stratum worker processes the workers bind the ports; this engine only makes the work.
    if (this.opts.stratumWorkers) return;
    await this.listen(signal);
  }

  /**
   * A Stratum worker process: no template source; the primary process's templates arrive over the
   * loopback template push (a relay link that never goes independent), blocks go back over it.
   */
  private async startWorker(signal: AbortSignal): Promise<void> {
    const u = this.opts.upstream!;
    const link = new PrimaryLink({
      host: u.host,
      controlPort: u.controlPort,
      pushPort: u.pushPort,
      authToken: u.authToken,
      region: this.config.region,
      instanceId: this.config.instance_id,
      reconnectIntervalMs: 200,
      now: this.now,
      // The primary answers once its own submission has an outcome: wait longer than its node RPC
      // timeout (and the client's one retry), so a slow node is not reported as a rejection here.
      submitTimeoutMs: WORKER_SUBMIT_TIMEOUT_MS,
      ...this.opts.relayLink,
    });
    this.relayController = new RelayController({
      link,
      primaryName: "primary process",
      failoverThresholdMs: Infinity,
      reconnectIntervalMs: 200,
      now: this.now,
      adopt: (gbt, _source, reason) => this.adoptTemplate(gbt, "primary process", reason),
      current: () => {
        const t = this.jobs.current?.template;
        return t ? { height: t.height, prevhashHex: t.prevhashHex } : null;
      },
      // A worker has no relay mode to report: it always follows the primary process, also down to a lower
      // height (a reorg: the primary's node is the only source).
      alwaysFollowPrimary: true,
      // A block found while the link to the primary is down (reconnecting) waits for it, as long as
      // its job lives.
      submitRetryForMs: this.config.job_expiry_sec * 1000,
      onState: () => undefined,
      onWarning: (message) => this.bus.emit("warning", { message }),
    });
    this.relayController.start();
    await Promise.race([this.relayController.firstWorkReady(), new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    throwIfCancelled(signal, "engine");
    await this.listen(signal);
  }

  /** Binds the Stratum listeners and starts the abuse guard. */
  private async listen(signal: AbortSignal): Promise<void> {
    this.server = new StratumServer(
      this.sessionHost(),
      {
        // ckpool convention: listeners on ports above 4000 start new connections at `highdiff`.
        listen: this.config.serverurl.map((s) => ({ host: s.host, port: s.port, startDifficulty: s.highdiff ? this.config.highdiff : undefined })),
        maxClients: this.config.maxclients,
        maxConnectionsPerIp: this.config.stratum.max_connections_per_ip,
        ipKey: (ip) => this.guard.bans.keyOf(ip),
        perIpExempt: (ip) => this.guard.bans.isAllowlisted(ip),
        maxLineBytes: this.config.stratum.max_line_bytes,
        authTimeoutSec: this.config.stratum.idle_timeout_sec,
        dropIdleSec: this.config.dropidle,
        maxConnectionsPerIpv6Prefix: this.config.stratum.max_connections_per_ipv6_48,
        dropSharelessSec: this.config.stratum.drop_shareless_sec,
        messageRatePerSec: this.config.stratum.message_rate_per_sec,
        messageBurst: this.config.stratum.message_burst,
        sendQueueMaxBytes: this.config.stratum.send_queue_max_bytes,
        writeTimeoutSec: this.config.stratum.write_timeout_sec,
        admit: this.opts.admit ?? ((ip) => this.guard.admit(ip)),
      },
      {
        onSessionOpened: (s) => this.bus.emit("opened", s.snapshot()),
        onSessionClosed: (session, reason) => this.bus.emit("disconnected", { session: session.snapshot(), reason }),
        onRefused: (ip, reason) => this.bus.emit("refused", { ip, reason }),
        onRateLimited: (session) => this.bus.emit("rateLimited", { session: session.snapshot() }),
      },
    );
    await this.server.start();
    throwIfCancelled(signal, "engine");
    this.guard.start();
  }

  /** On a relay: its mode, link and counters (docs/relay-protocol.md); null on a primary (and on a Stratum worker process). */
  get relay(): RelayController | null {
    return this.opts.upstream ? null : this.relayController;
  }

  /** The relay side of `mode: "passthrough"` (docs/relay-protocol.md). */
  private createRelay(): RelayController {
    const p = this.config.primary!;
    const link = new PrimaryLink({
      host: p.host,
      controlPort: p.port,
      pushPort: p.template_push_port,
      authToken: p.auth_token,
      region: this.config.region,
      instanceId: this.config.instance_id,
      reconnectIntervalMs: p.reconnect_interval * 1000,
      now: this.now,
      ...this.opts.relayLink,
    });
    return new RelayController({
      link,
      primaryName: `primary ${p.host}:${p.port}`,
      failoverThresholdMs: this.config.failover_threshold * 1000,
      reconnectIntervalMs: p.reconnect_interval * 1000,
      now: this.now,
      adopt: (gbt, source, reason) => this.adoptTemplate(gbt, source, reason),
      current: () => {
        const t = this.jobs.current?.template;
        return t ? { height: t.height, prevhashHex: t.prevhashHex } : null;
      },
      onState: (state, previous, reason) => this.bus.emit("relayState", { state, previous, reason }),
      onWarning: (message) => this.bus.emit("warning", { message }),
    });
  }

  /** See {@link EngineStatus}. Cheap: no pass over the sessions. */
  status(): EngineStatus {
    const nowMs = this.now();
    const source = this.templateSource;
    const w = this.opts.stratumWorkers?.view();
    if (w) {
      return {
        ...this.ownStatus(nowMs, source),
        listening: w.listening,
        connections: w.connections,
        sendQueueBytes: w.sendQueueBytes,
        shares: w.shares,
        blocks: w.blocks,
        lastBlock: w.lastBlock,
        hashrateHs: w.hashrateHs,
        abuse: w.abuse,
        workerProblems: w.problems,
        workerEvents: w.events,
      };
    }
    return this.ownStatus(nowMs, source);
  }

  private ownStatus(nowMs: number, source: TemplateSource | null): EngineStatus {
    return {
      network: this.network,
      startedAtMs: this.startedAtMs,
      nowMs,
      region: this.config.region,
      instance: this.config.instance,
      mode: this.config.mode,
      updateIntervalSec: this.config.update_interval,
      listening: this.server ? this.server.bound.map((b) => ({ ...b })) : [],
      connections: this.server?.connectionCount ?? 0,
      sendQueueBytes: this.server?.queuedBytes ?? 0,
      work: this.currentWork(),
      lastTemplateAtMs: source?.lastTemplateAtMs ?? 0,
      nodeNames: this.nodes.map((n) => n.name),
      nodes: source?.status() ?? [],
      shares: { accepted: this.counters.sharesAccepted, rejected: this.counters.sharesRejected },
      blocks: { found: this.counters.blocksFound, accepted: this.counters.blocksAccepted, lostRace: this.counters.blocksLostRace, suppressed: this.counters.blocksSuppressed },
      lastBlock: this.lastBlock,
      hashrateHs: this.stats.pool.hashrates(nowMs),
      abuse: this.guard.stats(),
    };
  }

  /** The current job's work, or null before the first template (a cheap part of {@link status}). */
  currentWork(): EngineStatus["work"] {
    const job = this.jobs.current;
    return job ? { height: job.template.height, jobId: job.id, node: job.template.source, transactions: job.template.txCount, networkDifficulty: job.template.networkDifficulty, prevHash: job.template.prevhashHex } : null;
  }

  /** Connections, distinct workers and distinct payout addresses among authorised connections. O(connections). */
  connectedCounts(): ConnectedCounts {
    const w = this.opts.stratumWorkers?.view();
    if (w) return w.counts;
    const server = this.server;
    if (!server) return { miners: 0, workers: 0, users: 0 };
    const users = new Set<string>();
    const workers = new Set<string>();
    for (const s of server.sessions()) {
      if (!s.identity) continue;
      users.add(s.identity.address);
      workers.add(`${s.identity.address}\u0000${s.identity.worker}`);
    }
    return { miners: server.connectionCount, workers: workers.size, users: users.size };
  }

  /**
   * The open sessions as read-only views (no copy: the status page ranks up to every connection once a
   * second). Read fields only; the view is live and must not be kept.
   */
  *sessionViews(): Iterable<SessionView> {
    const w = this.opts.stratumWorkers?.view();
    if (w) yield* w.sessions;
    if (this.server) yield* this.server.sessions();
  }

  /** One worker's hashrate per window at `atMs` (default now), or null when it has no shares. */
  workerHashrate(address: string, worker: string, atMs = this.now()): Record<HashrateWindow, number> | null {
    const w = this.opts.stratumWorkers?.view();
    if (w) return w.hashrateOf(address, worker);
    return this.stats.workerHashrate(address, worker, atMs);
  }

  /** One user's hashrate per window at `atMs` (default now), or null when the user has no shares. */
  userHashrate(address: string, atMs = this.now()): Record<HashrateWindow, number> | null {
    const w = this.opts.stratumWorkers?.view();
    if (w) return w.hashrateOf(address, null);
    return this.stats.userHashrate(address, atMs);
  }

  /** Hashrate per active worker and per user (a share within `activeWithinMs`). */
  workerHashrates(activeWithinMs: number): HashrateEntry[] {
    const w = this.opts.stratumWorkers?.view();
    if (w) return w.hashrates;
    return this.stats.snapshot(this.now(), activeWithinMs);
  }

  /** The key bans and per-IP limits count `ip` under (the IPv4 address, or the IPv6 /64). */
  banKeyOf(ip: string): string {
    return this.guard.bans.keyOf(ip);
  }

  /** The ban in force on `ip` (or its IPv6 prefix), or null. */
  banOf(ip: string): BanInfo | null {
    return this.guard.bans.check(ip);
  }

  /** Asks the serving node for a fresh template now (as the refresh timer does). */
  refreshWork(): Promise<void> {
    return this.templateSource?.fetch("refresh") ?? Promise.resolve();
  }

  /** Asks the nodes for their tip now (after a ZMQ reconnect: announcements are lost while down). */
  checkTip(): void {
    void this.templateSource?.checkTip();
  }

  /**
   * Sends every miner a fresh job id on the current template at once (the same work, new id). Returns
   * how many connections it went to. Used to test send-queue limits under a storm of new work.
   */
  pushFreshJob(): number {
    const job = this.jobs.refreshJob(this.now());
    if (!job || !this.server) return 0;
    const open = this.server.connectionCount;
    this.server.broadcast(job);
    return open;
  }

  /**
   * Changes the pool's BIP310 version-rolling mask at run time: later configures get the new mask, and
   * every miner that negotiated version rolling is sent mining.set_version_mask.
   */
  setVersionMask(mask: number): void {
    this.config.version_mask = mask >>> 0;
    this.sessionSettings.poolVersionMask = mask >>> 0;
    if (this.server) for (const s of this.server.sessions()) s.updatePoolVersionMask(mask >>> 0);
  }

  /** ZMQ (or any other source) says a new block exists: fetch work now. */
  newBlockHint(hashHex: string, source: string): void {
    this.noteHintSource(hashHex, source);
    this.lastHint = hashHex;
    void this.templateSource?.newBlockHint(hashHex).then((onIt) => {
      // Still on an older tip long after the announcement (and no newer block superseded it): the serving
      // node is not following the chain. Say so once per hint; polling and failover carry on.
      if (!onIt && this.lastHint === hashHex && this.templateSource?.currentTip !== hashHex) {
        this.bus.emit("warning", { message: `block ${hashHex} announced by ${source} but no node served work on it within the retry window` });
      }
    });
  }

  /** Remembers who announced a tip first (bounded: the last 64 tips). */
  private noteHintSource(hashHex: string, source: string): void {
    if (this.hintSources.has(hashHex)) return;
    this.hintSources.set(hashHex, source);
    if (this.hintSources.size > 64) this.hintSources.delete(this.hintSources.keys().next().value as string);
  }

  /** The newest block hash announced through newBlockHint. */
  private lastHint: string | null = null;

  /** Turns a node's template into the current job; throws TemplateError when it is unusable (the source marks the node failed). */
  private adoptTemplate(gbt: Parameters<typeof prepareTemplate>[0], node: string, reason: TemplateReason): void {
    const prep = { seq: ++this.templateSeq, versionMask: this.config.version_mask, source: node, nowMs: this.now() };
    // A Stratum worker process gets slim templates (no transactions: the primary assembles its blocks).
    const template: TemplateWork = this.opts.upstream && isSlimTemplate(gbt) ? prepareSlimTemplate(gbt, prep) : prepareTemplate(gbt, prep);
    if (this.retained) {
      this.retained.add(template, prep.nowMs);
      this.opts.stratumWorkers?.pushTemplate?.(template);
    }
    const { job, newBlock } = this.jobs.addTemplate(template, this.now());
    // Work on this parent again after moving off it: the pool's earlier verdict on it no longer holds.
    if (newBlock && this.blockParents.has(template.prevhashHex) && this.blockParents.get(template.prevhashHex) !== "submitting") this.blockParents.delete(template.prevhashHex);
    const fanoutMs = this.server ? this.server.broadcast(job) : 0;
    // A Stratum worker process mines on the primary process's templates: the primary reports new blocks.
    if (newBlock && !this.opts.upstream) {
      const source = this.hintSources.get(template.prevhashHex) ?? (reason === "initial" ? "startup" : "template");
      this.bus.emit("newBlockNetwork", { height: template.height - 1, hash: template.prevhashHex, prevHash: null, source });
    }
    this.bus.emit("template", { template, job, newBlock, reason, fanoutMs, gbt });
  }

  payoutFor(identity: MinerIdentity): Payout {
    const custom = this.signatures?.signatureFor(identity.address);
    const signature = custom ?? (this.config.btcsig || DEFAULT_SIGNATURE);
    return { key: `${identity.payoutScript.toString("hex")}|${signature}`, script: identity.payoutScript, signature };
  }

  authorize(username: string): AuthResult {
    const { address, worker } = splitUsername(username);
    if (!address) return { ok: false, code: "ADDRESS_INVALID", message: "username must be ADDRESS[.worker]" };
    try {
      // The canonical spelling is the user's identity: an upper-case bech32 address is the same user.
      const decoded = decodeAddress(address, this.network!);
      return { ok: true, identity: { username, address: decoded.canonical, worker, payoutScript: decoded.script } };
    } catch (err) {
      const code = err instanceof AddressError ? err.code : "ADDRESS_INVALID";
      return { ok: false, code, message: `${errorText(err)}` };
    }
  }

  private sessionSettings!: SessionHost["settings"];

  private sessionHost(): SessionHost {
    const v = this.config.vardiff;
    this.sessionSettings = {
      extranonce2Size: this.config.nonce2length,
      poolVersionMask: this.config.version_mask,
      startDifficulty: this.config.startdiff,
      vardiff: {
        targetIntervalSec: v.target_share_interval_sec,
        retargetShares: v.retarget_min_shares,
        retargetSec: v.retarget_interval_sec,
        variancePercent: v.variance_percent,
        minDifficulty: this.config.mindiff,
        maxDifficulty: this.config.maxdiff,
      },
    };
    return {
      now: this.now,
      settings: this.sessionSettings,
      work: {
        currentJob: () => this.jobs.current,
        refreshJob: (have) => this.jobs.refreshJob(this.now(), have),
        lookupJob: (id, now) => this.jobs.lookup(id, now),
        duplicates: this.duplicates,
        coinbaseParts: (job, payout) => this.coinbase!.parts(job.template, payout),
      },
      miners: {
        payoutFor: (identity) => this.payoutFor(identity),
        authorize: (username) => this.authorize(username),
      },
      extranonce: this.extranonce,
      reports: {
        onBlock: (candidate, session) => this.onBlock(candidate, session),
        onAuthorized: (session) => this.bus.emit("authorized", session.snapshot()),
        onShare: (session, verdict) => {
          if (verdict.accepted) {
            this.counters.sharesAccepted++;
            if (session.identity) this.stats.addShare(session.identity.address, session.identity.worker, verdict.difficulty, this.now());
          } else this.counters.sharesRejected++;
          this.bus.emit("share", { session: session.snapshot(), verdict });
        },
        onDifficulty: (session, oldDifficulty, newDifficulty, reason) => this.bus.emit("difficulty", { session: session.snapshot(), oldDifficulty, newDifficulty, reason }),
        onProtocolError: (session, kind, detail) => this.bus.emit("protocolError", { session: session.snapshot(), kind, detail }),
      },
    };
  }

  /**
   * A share met the network target: assemble and submit to every node at once (before any accounting).
   * One block per parent: while the pool's block on the same previous block is being submitted or has
   * been accepted, further candidates on it are counted (`blockSuppressed`), not submitted; the first
   * acceptance moves every miner to clean work on the new tip at once, without waiting for ZMQ or the poll.
   */
  private onBlock(candidate: BlockCandidate, session: Session | null): void {
    const hashHex = reverseBytes(candidate.hashLE).toString("hex");
    const template = candidate.job.template;
    const parent = template.prevhashHex;
    const snapshot = session?.snapshot() ?? null;
    if (this.blockParents.has(parent)) {
      // Kept while the block in flight may still fail: then this one is sent (the latest only).
      if (this.blockParents.get(parent) === "submitting") this.heldCandidates.set(parent, { candidate, session });
      this.counters.blocksSuppressed++;
      this.bus.emit("blockSuppressed", { session: snapshot, hashHex, height: template.height, prevHash: parent });
      return;
    }
    this.blockParents.set(parent, "submitting");
    if (this.blockParents.size > BLOCK_PARENTS_KEPT) {
      const oldest = this.blockParents.keys().next().value as string;
      this.blockParents.delete(oldest);
      this.heldCandidates.delete(oldest);
    }
    // On a slim template (a Stratum worker process) the primary assembles the block from header + coinbase.
    const remoteId = remoteTemplateIdOf(template);
    const block: string | SlimBlock = remoteId === null ? assembleBlockHex(candidate) : { templateId: remoteId, headerHex: candidate.header.toString("hex"), coinbaseHex: candidate.coinbase.toString("hex") };
    this.counters.blocksFound++;
    this.bus.emit("blockSubmitting", { session: snapshot, hashHex, height: template.height });
    const identity = session?.identity ?? null;
    // The signature actually in this block's coinbase: the session's payout, fixed when it authorized
    // (a settings-file change since then applies to new connections only).
    const payout = session?.payoutInUse ?? null;
    const signature = payout ? this.coinbase!.parts(template, payout).signatureUsed : this.config.btcsig || DEFAULT_SIGNATURE;
    const late = (result: SubmitResult) => this.bus.emit("blockLateResult", { hashHex, height: template.height, result });
    // Still queued when the tip moved on to someone else's block: pointless (the pool's own block stays useful).
    const stale = () => {
      const tip = this.templateSource?.currentTip;
      return tip != null && tip !== parent && tip !== hashHex;
    };
    // --- relay hook: a relay submits to its local node and to the primary at once (first acceptance wins).
    const submission = this.relayController
      ? this.relayController.submitBlock(typeof block === "string" ? this.submitter : null, block, hashHex, template.height, late, stale)
      : this.submitter.submit(block as string, hashHex, late, stale);
    const p = submission.then(({ outcome, results, pending, all }) => {
      const accepted = outcome === "accepted";
      const held = this.heldCandidates.get(parent);
      this.heldCandidates.delete(parent);
      if (accepted) {
        this.blockParents.set(parent, "accepted");
        // Clean work on the pool's own new tip now (the accepting node has it).
        this.newBlockHint(hashHex, "block_found");
        this.counters.blocksAccepted++;
      } else {
        if (outcome === "lost_race") {
          // Another block on this parent won: further candidates on it are doomed (until work on it returns).
          this.blockParents.set(parent, "lost");
          this.counters.blocksLostRace++;
        } else if (this.blockParents.get(parent) === "submitting") this.blockParents.delete(parent);
      }
      const found: BlockFound = {
        session: snapshot,
        identity,
        height: template.height,
        hashHex,
        rewardSats: template.coinbaseValueSats,
        signature,
        shareDifficulty: candidate.shareDifficulty,
        networkDifficulty: template.networkDifficulty,
        results,
        pending,
        accepted,
        outcome,
      };
      this.lastBlock = found;
      // A listener that throws must not lose the submission's bookkeeping (nor become an unhandled rejection).
      try {
        this.bus.emit("block", found);
      } catch (err) {
        this.bus.emit("warning", { message: `a block listener failed: ${errorText(err)}` });
      }
      // Rejected: the latest candidate suppressed meanwhile on this parent is sent now.
      if (outcome === "rejected" && held && !this.blockParents.has(parent)) this.onBlock(held.candidate, held.session);
      return all; // the submission is pending (close() waits) until every node has answered
    });
    this.pendingSubmits.add(p);
    void p.finally(() => this.pendingSubmits.delete(p));
  }

  /**
   * A block found by one of this primary's relays (src/core/relay/server.ts): submitted to every node like
   * the pool's own, and on acceptance miners move to the new tip at once. No `block` event: the relay that
   * found it reports it (one block_found, with its region).
   */
  submitExternalBlock(blockHex: string, hashHex: string, source: string): Promise<{ outcome: BlockOutcome; results: SubmitResult[] }> {
    const late = (result: SubmitResult) => this.bus.emit("blockLateResult", { hashHex, height: -1, result });
    const p = this.submitter.submit(blockHex, hashHex, late).then(({ outcome, results, all }) => {
      if (outcome === "accepted") this.newBlockHint(hashHex, source);
      void all.catch(() => undefined);
      return { outcome, results };
    });
    this.pendingSubmits.add(p);
    void p.finally(() => this.pendingSubmits.delete(p));
    return p;
  }

  /**
   * A block found by one of this engine's Stratum worker processes (`workers`): submitted as the pool's own
   * (on a relay: to the local node and the primary at once), and on acceptance miners move to the new tip
   * at once. No `block` event: the worker that found it reports it.
   */
  submitWorkerBlock(blockHex: string, hashHex: string, height: number): Promise<{ outcome: BlockOutcome; results: SubmitResult[] }> {
    if (!this.relayController || this.opts.upstream) return this.submitExternalBlock(blockHex, hashHex, "block_found");
    const late = (result: SubmitResult) => this.bus.emit("blockLateResult", { hashHex, height, result });
    const p = this.relayController.submitBlock(this.submitter, blockHex, hashHex, height, late).then(({ outcome, results, all }) => {
      if (outcome === "accepted") this.newBlockHint(hashHex, "block_found");
      void all.catch(() => undefined);
      return { outcome, results };
    });
    this.pendingSubmits.add(p);
    void p.finally(() => this.pendingSubmits.delete(p));
    return p;
  }

  /**
   * A block found by one of this engine's Stratum worker processes on a slim template: assembled from this
   * engine's own copy of the template's transactions, then submitted like {@link submitWorkerBlock}. When the
   * template is gone (or the header does not commit to it) the block is lost: `workerBlockUnassembled`,
   * counted, and the worker is answered `rejected` with the reason.
   */
  submitWorkerSlimBlock(b: SlimBlock & { hashHex: string; height: number }): Promise<{ outcome: BlockOutcome; results: SubmitResult[] }> {
    const t = this.retained?.get(b.templateId) ?? null;
    let reason: string;
    if (!t) reason = `template ${b.templateId} is no longer kept (or was never made) by this primary process`;
    else {
      try {
        const { blockHex, hashHex } = assembleSlimBlock(t, b);
        if (hashHex === b.hashHex) return this.submitWorkerBlock(blockHex, hashHex, t.height);
        reason = `the header hashes to ${hashHex}, not ${b.hashHex}`;
      } catch (err) {
        reason = errorText(err);
      }
    }
    this.counters.workerBlocksUnassembled++;
    this.bus.emit("workerBlockUnassembled", { hashHex: b.hashHex, height: b.height, templateId: b.templateId, reason });
    return Promise.resolve({ outcome: "rejected", results: [{ node: "primary process", accepted: false, result: `block not assembled: ${reason}`.slice(0, 256), latencyMs: 0 }] });
  }

  /** Blocks from Stratum worker processes this primary could not assemble (see {@link submitWorkerSlimBlock}). */
  get workerBlocksUnassembled(): number {
    return this.counters.workerBlocksUnassembled;
  }

  /**
   * Reverse of start: stop accepting and ask miners to reconnect (if configured) and close their
   * connections, let in-flight block submissions finish, then stop templates and the RPC clients.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.lifetime.abort(new StartCancelledError("engine"));
      await this.server?.close({ reconnect: this.config.stratum.reconnect_on_shutdown, graceMs: 2000 });
      this.guard.close();
      this.submitter.close();
      await Promise.allSettled([...this.pendingSubmits]);
      const { stale, shutdown } = this.submitter.cancelled;
      if (shutdown > 0) this.bus.emit("warning", { message: `${shutdown} queued block submission(s) cancelled at shutdown (not yet sent; ${stale} dropped earlier as stale)` });
      this.relayController?.close();
      await this.templateSource?.close();
      for (const n of this.nodes) n.close();
    })();
    return this.closing;
  }
}
