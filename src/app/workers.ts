/**
 * Stratum worker processes (`workers`, docs/architecture.md "Workers"): one `tbg pool` on every core.
 *
 * The primary process runs the template side as a single-process pool does (nodes, template source, ZMQ,
 * block submission, records, its own events, /health, /metrics, the status page, `relay_server`), but
 * its engine binds no Stratum port. `workers` worker processes (node:cluster) bind the Stratum ports
 * (the cluster module hands each new connection to one of them) and own their connections end to end:
 * subscribe, authorize, jobs, shares, vardiff, their own events. Nothing crosses between the processes
 * per share:
 *
 * - templates: primary → workers over the relay template push (src/core/relay/server.ts) on loopback,
 *   with a per-run random token, uncompressed, in slim form (src/core/work/slim-template.ts: header
 *   fields, coinbase value and commitment, the merkle branch the primary computed; no transactions); a
 *   worker engine follows it like a relay that never goes independent and has no node of its own;
 * - found blocks: worker → primary over the same link's control connection as header + coinbase + the
 *   template's id; the primary assembles the block with its own copy of the transactions
 *   (`submitWorkerSlimBlock`, templates kept job_expiry + 60 s after they are replaced);
 * - best-difficulty records (kept by the primary only): a share is forwarded only when it beats the best
 *   this worker knows for its user this week (rare); the primary answers with that best;
 * - a snapshot of each worker (connections, counters, hashrate, its busiest sessions) every second, for
 *   /health, the status page and the periodic hashrate events; /metrics asks each worker for its
 *   registry and merges them (prom-client's AggregatorRegistry).
 *
 * extranonce1: each worker counts in its own slice of the instance's counter space (after the
 * `instance_id` byte), so values never collide between workers, nor with relays (other instance ids).
 * A worker that dies is replaced (at most {@link RESTARTS_PER_MINUTE} a minute per slot, then after a
 * pause); SIGTERM on the primary stops the workers first (miners asked to reconnect, as configured).
 */
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { PoolConfig } from "../config/types.ts";
import { Engine, type BlockFound, type SessionView, type StratumWorkersView, type WorkerEventCounts } from "../core/engine/engine.ts";
import type { ListenAddress } from "../core/stratum/server.ts";
import type { HashrateEntry } from "../core/stats/miners.ts";
import type { HashrateWindow } from "../core/stats/hashrate.ts";
import { Extranonce1Allocator } from "../core/stratum/extranonce.ts";
import type { AbuseStats } from "../core/security/abuse-guard.ts";
import { RelayServer } from "../core/relay/server.ts";
import { slimTemplateOf, type SlimTemplate } from "../core/work/slim-template.ts";
import { isoWeekOf } from "./records/iso-week.ts";
import type { BeatenRecord, RecordShare } from "./records/best-diff.ts";
import { createLogger, type Logger, type LoggerHandle } from "./logger.ts";
import { logEngine } from "./log-engine.ts";
import { Observability } from "./observability.ts";
import { UserSettingsFile } from "./signatures.ts";
import { startPool, type PoolApp, type PoolAppOptions } from "./run-pool.ts";
import { STATUS_LIMITS } from "./status-api.ts";
import { topK } from "../util/top-k.ts";
import { errorText } from "../util/errors.ts";
import type { Lifecycle } from "../util/lifecycle.ts";

/** Set in a worker's environment by the primary (JSON {@link WorkerEnv}). */
const ENV_KEY = "TBG_STRATUM_WORKER";
/** Worker restarts allowed per slot per minute before the next waits {@link RESTART_PAUSE_MS}. */
export const RESTARTS_PER_MINUTE = 5;
const RESTART_PAUSE_MS = 10_000;
/** How often a worker sends its snapshot (ms). */
const SNAPSHOT_MS = 1000;
/** A worker's snapshot older than this makes /health degraded (ms). */
const STALE_SNAPSHOT_MS = 5000;
/** A worker silent this long (stopped, hung) is killed and replaced (ms). */
const HUNG_MS = 30_000;
/** A worker that has not reported ready after this long is given up on at start (ms). */
const READY_TIMEOUT_MS = 30_000;
/** How long the primary waits for workers to close at shutdown before killing them (ms). */
const STOP_GRACE_MS = 8000;
/** Users whose week best a worker remembers (older ones are forgotten: their next share is forwarded again). */
const KNOWN_USERS = 200_000;

interface WorkerEnv {
  index: number;
  count: number;
  host: string;
  controlPort: number;
  pushPort: number;
  token: string;
  network: NonNullable<PoolConfig["network"]>;
  /**
   * The primary's config as it loaded it (plain JSON): a worker runs on it instead of reading the
   * config file again, so a worker started later (a replacement) cannot drift from the primary.
   */
  config: PoolConfig;
}

/** One session as a worker reports it (identity without the payout script). */
type SessionRow = Omit<SessionView, "identity"> & { identity: { username: string; address: string; worker: string } | null };
type BlockRow = Omit<BlockFound, "rewardSats" | "identity"> & { rewardSats: string; identity: { username: string; address: string; worker: string } | null };

/** What a worker sends every {@link SNAPSHOT_MS}. */
interface WorkerSnapshot {
  listening: ListenAddress[];
  connections: number;
  sendQueueBytes: number;
  shares: { accepted: number; rejected: number };
  blocks: StratumWorkersView["blocks"];
  hashrateHs: Record<HashrateWindow, number>;
  abuse: AbuseStats;
  /** Authorised connections' [address, worker]. */
  identities: Array<[string, string]>;
  sessions: SessionRow[];
  hashrates: HashrateEntry[];
  rejects: Record<string, number>;
  /** This worker's events (its publisher's counters); null when events are off. */
  events: WorkerEventCounts | null;
}

type ToPrimary =
  | { t: "ready"; snapshot: WorkerSnapshot }
  | { t: "snapshot"; snapshot: WorkerSnapshot }
  | { t: "record"; user: string; worker: string; difficulty: number }
  | { t: "block"; block: BlockRow; atMs: number }
  | { t: "metrics"; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };

type ToWorker = { t: "bests"; user: string; week: string; best: number } | { t: "metrics"; id: number } | { t: "stop" } | { t: "reopen" };

const EMPTY_ABUSE: AbuseStats = {
  protocolErrors: {},
  disconnects: {},
  refused: {},
  rateLimitedLines: 0,
  bans: { active: 0, tracked: 0, strikesTotal: {} as AbuseStats["bans"]["strikesTotal"], allowlistedStrikesTotal: 0, bansTotal: {} as AbuseStats["bans"]["bansTotal"], expiredTotal: 0, refusedTotal: 0 },
};

/** `a + b` field by field for objects of numbers (nested); a key missing on one side counts as 0. */
export function sumNumbers<T>(a: T | null, b: T): T {
  if (a === null) return structuredClone(b);
  if (typeof a === "number" && typeof b === "number") return (a + b) as T;
  if (a && b && typeof a === "object" && typeof b === "object") {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = k in out ? sumNumbers(out[k], v) : structuredClone(v);
    return out as T;
  }
  return b;
}

/** Stratum worker `index`'s events ack socket: the configured one (the primary's) + `.w<index>`. */
export function workerAckPath(ackPath: string, index: number): string {
  return `${ackPath}.w${index}`;
}

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Whether this process is a Stratum worker started by a primary. */
export function isStratumWorker(): boolean {
  return cluster.isWorker && typeof process.env[ENV_KEY] === "string";
}

/** In a Stratum worker process, the primary's config (see {@link WorkerEnv.config}); else null. */
export function stratumWorkerConfig(): PoolConfig | null {
  return isStratumWorker() ? (JSON.parse(process.env[ENV_KEY]!) as WorkerEnv).config : null;
}

const HR_WINDOWS = (h: Record<HashrateWindow, number>) => Object.keys(h) as HashrateWindow[];

/** The primary's side: forks, watches and merges the workers. */
class WorkerPool {
  private readonly slots: Array<{ worker: Worker | null; snapshot: WorkerSnapshot | null; restarts: number[]; ready: boolean; metrics: MetricsJson | null; lastSnapshotMs: number }>;
  /** Checks that every ready worker still sends its snapshots (a stopped or hung one is killed and replaced). */
  private watchdog: NodeJS.Timeout | null = null;
  /**
   * Counters and histograms of workers that exited, from their last metrics (folded into one registry
   * JSON): always part of /metrics, so the pool's counters never go backwards when a worker is replaced.
   */
  private retiredMetrics: Promise<MetricsJson | null> = Promise.resolve(null);
  /** Counters of workers that exited (so totals never go backwards). */
  private readonly retired = { shares: { accepted: 0, rejected: 0 }, blocks: { found: 0, accepted: 0, lostRace: 0, suppressed: 0 }, rejects: new Map<string, number>(), abuse: null as AbuseStats | null, events: null as WorkerEventCounts | null };
  private stopping = false;
  /** Set once every worker was ready at start: a worker lost before that fails the start instead of being replaced. */
  private started = false;
  private cached: StratumWorkersView | null = null;
  private lastBlock: { block: BlockFound; atMs: number } | null = null;
  private metricsId = 0;
  private readonly metricsWaiting = new Map<number, { got: MetricsJson[]; asked: Set<Worker>; done: () => void }>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly count: number,
    private readonly env: Omit<WorkerEnv, "index" | "count">,
    private readonly log: Logger,
    private readonly onRecord: (share: { user: string; worker: string; difficulty: number }) => { week: string; best: number } | null,
    private readonly onBlock: (block: BlockFound, atMs: number) => void,
    private readonly onRejects: (rejects: Map<string, number>) => void,
    /** Shares (accepted and rejected) the workers reported since their previous snapshots. */
    private readonly onShares: (n: number) => void,
  ) {
    this.slots = Array.from({ length: count }, () => ({ worker: null, snapshot: null, restarts: [], ready: false, metrics: null, lastSnapshotMs: 0 }));
  }

  /** Forks every worker; resolves when all have bound their ports and have work. */
  async start(signal?: AbortSignal): Promise<void> {
    // logrotate signals the primary: each worker re-opens its own log file too.
    process.on("SIGUSR1", this.onReopen);
    // A stop signal (systemd may send it to every process of the unit at once): workers that exit from
    // now on are not replaced.
    process.once("SIGTERM", this.onStopSignal);
    process.once("SIGINT", this.onStopSignal);
    const ready = this.slots.map((_, i) => this.fork(i));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stratum workers not ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    });
    const aborted = new Promise<never>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason as Error), { once: true }));
    try {
      await Promise.race([Promise.all(ready), timeout, aborted]);
      this.started = true;
    } finally {
      clearTimeout(timer);
    }
    this.watchdog = setInterval(() => this.checkSilent(), 1000);
    this.watchdog.unref();
  }

  /** Kills a worker silent for {@link HUNG_MS} (stopped, hung in a loop): the exit handler replaces it. */
  private checkSilent(): void {
    if (this.stopping) return;
    const now = Date.now();
    this.slots.forEach((slot, i) => {
      const w = slot.worker;
      if (!w || !slot.ready || now - slot.lastSnapshotMs < HUNG_MS || w.isDead()) return;
      this.log.error({ stratumWorker: i, pid: w.process.pid, silentMs: now - slot.lastSnapshotMs }, "stratum worker %d silent for %d s: killed", i, Math.round((now - slot.lastSnapshotMs) / 1000));
      slot.ready = false;
      w.process.kill("SIGKILL");
    });
  }

  /** Why the workers are degraded now: a worker's snapshot older than {@link STALE_SNAPSHOT_MS}, fewer ready than configured. */
  problems(): string[] {
    const out: string[] = [];
    const now = Date.now();
    let ready = 0;
    this.slots.forEach((slot, i) => {
      if (!slot.worker || !slot.ready) return;
      ready++;
      const age = now - slot.lastSnapshotMs;
      if (age > STALE_SNAPSHOT_MS) out.push(`stratum worker ${i} silent for ${Math.round(age / 1000)} s`);
    });
    if (ready < this.count) out.push(`${ready} of ${this.count} stratum workers ready`);
    return out;
  }

  private fork(index: number): Promise<void> {
    const slot = this.slots[index]!;
    const workerEnv: WorkerEnv = { ...this.env, index, count: this.count };
    const worker = cluster.fork({ [ENV_KEY]: JSON.stringify(workerEnv) });
    slot.worker = worker;
    slot.ready = false;
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (m: ToPrimary) => {
        if (m.t === "ready") {
          slot.ready = true;
          slot.snapshot = m.snapshot;
          slot.lastSnapshotMs = Date.now();
          this.cached = null;
          this.log.info({ stratumWorker: index, pid: worker.process.pid }, "stratum worker %d ready (pid %d)", index, worker.process.pid ?? 0);
          resolve();
        } else this.onMessage(index, worker, m);
      });
      worker.on("exit", (code, sig) => {
        if (slot.worker !== worker) return;
        slot.worker = null;
        this.retire(slot.snapshot);
        this.retireMetrics(slot.metrics);
        slot.snapshot = null;
        slot.metrics = null;
        this.cached = null;
        for (const w of this.metricsWaiting.values()) if (w.asked.delete(worker) && w.asked.size === 0) w.done();
        if (!slot.ready) reject(new Error(`stratum worker ${index} exited during start-up (${sig ?? `code ${code}`})`));
        if (this.stopping || !this.started) return;
        this.log.error({ stratumWorker: index, pid: worker.process.pid, code, signal: sig }, "stratum worker %d died (%s): starting a new one", index, sig ?? `code ${code}`);
        const now = Date.now();
        slot.restarts = slot.restarts.filter((t) => now - t < 60_000);
        slot.restarts.push(now);
        const delay = slot.restarts.length > RESTARTS_PER_MINUTE ? RESTART_PAUSE_MS : 0;
        if (delay > 0) this.log.warn({ stratumWorker: index, restarts: slot.restarts.length }, "stratum worker %d restarted %d times in a minute: next start in %d s", index, slot.restarts.length, delay / 1000);
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.stopping) this.fork(index).catch((err: unknown) => this.log.error({ stratumWorker: index, error: errorText(err) }, "stratum worker %d could not start", index));
        }, delay);
        this.timers.add(t);
      });
    });
  }

  private onMessage(index: number, worker: Worker, m: ToPrimary): void {
    switch (m.t) {
      case "snapshot": {
        const slot = this.slots[index]!;
        if (slot.worker !== worker) return;
        const before = slot.snapshot ? slot.snapshot.shares.accepted + slot.snapshot.shares.rejected : 0;
        const n = m.snapshot.shares.accepted + m.snapshot.shares.rejected - before;
        if (n > 0) this.onShares(n);
        slot.snapshot = m.snapshot;
        slot.lastSnapshotMs = Date.now();
        this.cached = null;
        return;
      }
      case "record": {
        const bests = this.onRecord(m);
        if (bests && worker.isConnected()) worker.send({ t: "bests", user: m.user, ...bests } satisfies ToWorker);
        return;
      }
      case "block": {
        const block: BlockFound = { ...m.block, rewardSats: BigInt(m.block.rewardSats), identity: m.block.identity ? { ...m.block.identity, payoutScript: Buffer.alloc(0) } : null };
        if (!this.lastBlock || m.atMs >= this.lastBlock.atMs) this.lastBlock = { block, atMs: m.atMs };
        this.onBlock(block, m.atMs);
        return;
      }
      case "metrics": {
        const slot = this.slots[index]!;
        if (slot.worker === worker) slot.metrics = m.metrics;
        const w = this.metricsWaiting.get(m.id);
        if (!w || !w.asked.delete(worker)) return;
        w.got.push(m.metrics);
        if (w.asked.size === 0) w.done();
        return;
      }
      default:
        return;
    }
  }

  private retire(s: WorkerSnapshot | null): void {
    if (!s) return;
    const r = this.retired;
    r.shares.accepted += s.shares.accepted;
    r.shares.rejected += s.shares.rejected;
    for (const k of Object.keys(r.blocks) as Array<keyof typeof r.blocks>) r.blocks[k] += s.blocks[k];
    for (const [k, v] of Object.entries(s.rejects)) r.rejects.set(k, (r.rejects.get(k) ?? 0) + v);
    // Totals carry on; what is in force now (bans, tracked peers) went with the process.
    r.abuse = sumNumbers(r.abuse, { ...s.abuse, bans: { ...s.abuse.bans, active: 0, tracked: 0 } });
    // Emitted and dropped carry on; what it still held went with it.
    if (s.events) r.events = sumNumbers(r.events, { ...s.events, queued: 0 });
  }

  /** Folds a dead worker's last counters and histograms (not its gauges: they went with it) into the retired ones. */
  private retireMetrics(last: MetricsJson | null): void {
    if (!last) return;
    // The JSON has the type's name ("counter"), whatever the typings say.
    const cumulative = last.filter((m) => ["counter", "histogram"].includes(String(m.type)) && (m as { aggregator?: string }).aggregator === "sum");
    const prev = this.retiredMetrics;
    this.retiredMetrics = prev.then(async (r) => (r ? ((await AggregatorRegistry.aggregate([r, cumulative]).getMetricsAsJSON()) as MetricsJson) : cumulative)).catch((err: unknown) => {
      this.log.warn({ error: errorText(err) }, "stratum workers: could not keep a dead worker's metrics");
      return prev;
    });
  }

  /** Live workers' pids (tests, logs). */
  pids(): number[] {
    return this.slots.map((s) => s.worker?.process.pid ?? 0).filter((p) => p > 0);
  }

  /** The merged view (rebuilt when a snapshot arrived since the last; the problems each time). */
  view(): StratumWorkersView {
    if (this.cached) return { ...this.cached, problems: this.problems() };
    const r = this.retired;
    const shares = { ...r.shares };
    const blocks = { ...r.blocks };
    const rejects = new Map(r.rejects);
    let listening: ListenAddress[] = [];
    let connections = 0;
    let sendQueueBytes = 0;
    let hashrateHs: Record<HashrateWindow, number> | null = null;
    const users = new Set<string>();
    const workers = new Set<string>();
    let miners = 0;
    const sessions: SessionView[] = [];
    const rates = new Map<string, HashrateEntry>();
    let abuse = r.abuse;
    let events = r.events;
    for (const slot of this.slots) {
      const s = slot.snapshot;
      if (!s) continue;
      abuse = sumNumbers(abuse, s.abuse);
      if (s.events) events = sumNumbers(events, s.events);
      if (listening.length === 0) listening = s.listening;
      connections += s.connections;
      sendQueueBytes += s.sendQueueBytes;
      shares.accepted += s.shares.accepted;
      shares.rejected += s.shares.rejected;
      for (const k of Object.keys(blocks) as Array<keyof typeof blocks>) blocks[k] += s.blocks[k];
      for (const [k, v] of Object.entries(s.rejects)) rejects.set(k, (rejects.get(k) ?? 0) + v);
      if (!hashrateHs) hashrateHs = { ...s.hashrateHs };
      else for (const w of HR_WINDOWS(s.hashrateHs)) hashrateHs[w] += s.hashrateHs[w];
      miners += s.connections;
      for (const [a, w] of s.identities) {
        users.add(a);
        workers.add(`${a}\u0000${w}`);
      }
      for (const row of s.sessions) sessions.push({ ...row, identity: row.identity ? { ...row.identity, payoutScript: Buffer.alloc(0) } : null } as SessionView);
      for (const e of s.hashrates) {
        const key = `${e.user}\u0000${e.worker ?? "\u0001"}`;
        const have = rates.get(key);
        if (!have) rates.set(key, { user: e.user, worker: e.worker, hashrate: { ...e.hashrate } });
        else for (const w of HR_WINDOWS(e.hashrate)) have.hashrate[w] += e.hashrate[w];
      }
    }
    this.onRejects(rejects);
    const view: StratumWorkersView = {
      listening,
      connections,
      sendQueueBytes,
      shares,
      blocks,
      lastBlock: this.lastBlock?.block ?? null,
      hashrateHs: hashrateHs ?? { "1m": 0, "5m": 0, "1h": 0, "1d": 0, "7d": 0 },
      abuse: abuse ?? EMPTY_ABUSE,
      counts: { miners, workers: workers.size, users: users.size },
      sessions,
      hashrates: [...rates.values()],
      hashrateOf: (user, worker) => rates.get(`${user}\u0000${worker ?? "\u0001"}`)?.hashrate ?? null,
      problems: [],
      events,
    };
    this.cached = view;
    return { ...view, problems: this.problems() };
  }

  /**
   * Every live worker's metrics registry as JSON (a worker that does not answer within 2 s is left out),
   * and the retired workers' counters.
   */
  async metrics(): Promise<MetricsJson[]> {
    const live = this.slots.map((s) => s.worker).filter((w): w is Worker => w !== null && w.isConnected());
    const got: MetricsJson[] = [];
    if (live.length > 0) {
      const id = ++this.metricsId;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.metricsWaiting.delete(id);
          resolve();
        };
        const timer = setTimeout(done, 2000);
        this.metricsWaiting.set(id, { got, asked: new Set(live), done });
        for (const w of live) w.send({ t: "metrics", id } satisfies ToWorker);
      });
    }
    const retired = await this.retiredMetrics;
    return retired ? [...got, retired] : got;
  }

  /** Asks every worker to stop (miners told to reconnect, as configured); kills those still running after the grace. */
  private readonly onReopen = () => {
    for (const s of this.slots) if (s.worker?.isConnected()) s.worker.send({ t: "reopen" } satisfies ToWorker);
  };

  private readonly onStopSignal = () => {
    this.stopping = true;
  };

  async stop(): Promise<void> {
    this.stopping = true;
    process.off("SIGUSR1", this.onReopen);
    process.off("SIGTERM", this.onStopSignal);
    process.off("SIGINT", this.onStopSignal);
    for (const t of this.timers) clearTimeout(t);
    if (this.watchdog) clearInterval(this.watchdog);
    const live = this.slots.map((s) => s.worker).filter((w): w is Worker => w !== null);
    await Promise.all(
      live.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => {
              this.log.warn({ pid: w.process.pid }, "stratum worker did not stop in time: killed");
              w.process.kill("SIGKILL");
            }, STOP_GRACE_MS);
            w.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.isConnected()) w.send({ t: "stop" } satisfies ToWorker);
            else w.process.kill("SIGTERM");
          }),
      ),
    );
  }
}

/**
 * The primary of a pool with Stratum worker processes: {@link startPool} with an engine that binds no
 * Stratum port, plus the loopback template push and the workers (see the module comment).
 */
export function startPoolWithWorkers(config: PoolConfig, opts: PoolAppOptions, signal?: AbortSignal): Promise<PoolApp & { workerPids(): number[] }> {
  let pool: WorkerPool | null = null;
  let channel: RelayServer | null = null;
  let latest: SlimTemplate | null = null;
  const viewOf = (): StratumWorkersView | null => pool?.view() ?? null;
  const empty: StratumWorkersView = {
    listening: [],
    connections: 0,
    sendQueueBytes: 0,
    shares: { accepted: 0, rejected: 0 },
    blocks: { found: 0, accepted: 0, lostRace: 0, suppressed: 0 },
    lastBlock: null,
    hashrateHs: { "1m": 0, "5m": 0, "1h": 0, "1d": 0, "7d": 0 },
    abuse: EMPTY_ABUSE,
    counts: { miners: 0, workers: 0, users: 0 },
    sessions: [],
    hashrates: [],
    hashrateOf: () => null,
    problems: [],
    events: null,
  };
  const app = startPool(
    config,
    {
      ...opts,
      observability: { ...opts.observability, workerMetrics: { role: "primary", workers: () => pool?.metrics() ?? Promise.resolve([]) } },
      stratumWorkers: {
        engine: {
          view: () => viewOf() ?? empty,
          // The slim form (no transactions): the workers mine on it, the primary assembles their blocks.
          pushTemplate: (template) => {
            latest = slimTemplateOf(template);
            channel?.pushTemplate(latest, { slim: true });
          },
        },
        part: (engine: Engine, obs: Observability, log: LoggerHandle): Lifecycle => {
          return {
            async start(s?: AbortSignal) {
              const token = randomBytes(24).toString("hex");
              channel = new RelayServer({
                host: "127.0.0.1",
                port: 0,
                pushPort: 0,
                authToken: token,
                region: config.region,
                instanceId: config.instance_id,
                compress: false,
                // Every worker connects twice from 127.0.0.1 at once: room for all of them, pending or not.
                maxPeers: 2 * config.workers + 2,
                maxPendingPeers: 2 * config.workers + 2,
                maxPendingPerIp: 2 * config.workers + 2,
                now: engine.now,
                submitBlock: async (req) => engine.submitWorkerBlock(req.blockHex, req.hashHex, req.height),
                submitSlimBlock: async (req) => engine.submitWorkerSlimBlock(req),
              });
              channel.events.on("refused", (r) => log.logger.warn({ remote: r.remote, reason: r.reason, detail: r.detail }, "stratum worker channel: connection refused (%s)", r.reason));
              await channel.start();
              if (latest) channel.pushTemplate(latest, { slim: true });
              const network = engine.status().network!;
              pool = new WorkerPool(
                config.workers,
                { host: "127.0.0.1", controlPort: channel.ports.control, pushPort: channel.ports.push, token, network, config },
                log.logger,
                (share) => forwardedRecord(obs, share),
                (block, atMs) => {
                  obs.metrics.blockFoundAt(atMs);
                  obs.statusTracker.addBlock(block, atMs);
                },
                (rejects) => obs.statusTracker.setRejects(rejects),
                (n) => obs.metrics.shareRate.add(engine.now(), n),
              );
              log.logger.info({ workers: config.workers }, "starting %d stratum worker processes", config.workers);
              await pool.start(s);
            },
            async close() {
              await pool?.stop();
              await channel?.close();
            },
          };
        },
      },
    },
    signal,
  );
  return app.then((a) => Object.assign(a, { workerPids: () => pool?.pids() ?? [] }));
}

/** A share a worker forwarded: offered to the primary's records; the week and all-time records it beat become events. */
function forwardedRecord(obs: Observability, share: { user: string; worker: string; difficulty: number }): { week: string; best: number } | null {
  const sessionId = "\u0000forwarded";
  const beaten = obs.records.observe({ user: share.user, worker: share.worker, sessionId, shareDifficulty: share.difficulty }).filter((b) => b.scope !== "session");
  obs.records.endSession(sessionId);
  if (beaten.length > 0) obs.bridge.emitLateRecords(beaten);
  const week = obs.records.weekBest(share.user);
  return week ? { week: week.week, best: week.difficulty } : null;
}

/**
 * A worker's records: the session scope is its own (sessions live here); a share that beats the best
 * this worker knows for its user this ISO week is forwarded to the primary, which keeps the week and
 * all-time records and answers with the user's week best.
 */
export class ForwardingRecords {
  private readonly sessions = new Map<string, number>();
  private readonly known = new Map<string, number>();
  private week = { key: "", endMs: 0 };

  constructor(
    private readonly send: (share: { user: string; worker: string; difficulty: number }) => void,
    private readonly now: () => number = Date.now,
  ) {}

  observe(share: RecordShare): readonly BeatenRecord[] {
    const d = share.shareDifficulty;
    if (!(d > 0) || !Number.isFinite(d)) return [];
    let out: BeatenRecord[] | null = null;
    const old = this.sessions.get(share.sessionId);
    if (old === undefined || d > old) {
      this.sessions.set(share.sessionId, d);
      out = [{ scope: "session", user: share.user, worker: share.worker, oldBest: old ?? null, newBest: d }];
    }
    this.rollWeek();
    const known = this.known.get(share.user);
    if (known === undefined || d > known) {
      this.remember(share.user, d);
      this.send({ user: share.user, worker: share.worker, difficulty: d });
    }
    return out ?? [];
  }

  endSession(sessionId: string): number | null {
    const best = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    return best ?? null;
  }

  /** The primary's answer: the user's best this week. */
  onBests(user: string, week: string, best: number): void {
    this.rollWeek();
    if (week !== this.week.key) return;
    if (best > (this.known.get(user) ?? 0)) this.remember(user, best);
  }

  private remember(user: string, d: number): void {
    this.known.delete(user);
    this.known.set(user, d);
    if (this.known.size > KNOWN_USERS) this.known.delete(this.known.keys().next().value as string);
  }

  private rollWeek(): void {
    const now = this.now();
    if (now < this.week.endMs) return;
    const w = isoWeekOf(now);
    this.week = { key: w.key, endMs: w.endMs };
    this.known.clear();
  }
}

/** A worker's snapshot of its engine. */
function snapshotOf(engine: Engine, tracker: Map<string, number>, events: WorkerEventCounts | null): WorkerSnapshot {
  const st = engine.status();
  const identities: Array<[string, string]> = [];
  // Each session's view is built once a snapshot (every second, per session): identities and the top rows share them.
  const views = [...engine.sessionViews()];
  for (const s of views) if (s.identity) identities.push([s.identity.address, s.identity.worker]);
  const sessions = topK(views, STATUS_LIMITS.maxMiners, (s) => s.lastShareMs).map((s): SessionRow => ({
    id: s.id,
    identity: s.identity ? { username: s.identity.username, address: s.identity.address, worker: s.identity.worker } : null,
    userAgent: s.userAgent,
    difficulty: s.difficulty,
    lastShareMs: s.lastShareMs,
    bestDifficulty: s.bestDifficulty,
    sharesAccepted: s.sharesAccepted,
    sharesRejected: s.sharesRejected,
    connectedAtMs: s.connectedAtMs,
  }));
  return {
    listening: st.listening,
    connections: st.connections,
    sendQueueBytes: st.sendQueueBytes,
    shares: st.shares,
    blocks: st.blocks,
    hashrateHs: st.hashrateHs,
    abuse: st.abuse,
    identities,
    sessions,
    hashrates: engine.workerHashrates(600_000),
    rejects: Object.fromEntries(tracker),
    events,
  };
}

/** Runs this process as Stratum worker `TBG_STRATUM_WORKER.index` until the primary says stop (or goes away). */
export async function runStratumWorker(_fileConfig: PoolConfig, opts: PoolAppOptions = {}): Promise<number> {
  const env = JSON.parse(process.env[ENV_KEY]!) as WorkerEnv;
  // The primary's config, not the file's current content.
  const base = env.config;
  const per = Math.min(Math.ceil(base.maxclients / env.count), Extranonce1Allocator.sliceCapacity(base.nonce1length, env.count));
  // No nodes, no ZMQ, no relay server, no health server: the primary process has those.
  // Each process binds its own ack socket (the primary's is the configured path): the reader confirms to
  // the address an event came from, so every worker's events are confirmed to that worker.
  const events = base.events.ack_socket_path === null ? base.events : { ...base.events, ack_socket_path: workerAckPath(base.events.ack_socket_path, env.index) };
  const config: PoolConfig = { ...base, network: env.network, btcd: [], zmqEndpoints: [], relay_server: null, mode: "primary", primary: null, maxclients: per, workers: 1, events };
  const handle = opts.logger ?? createLogger({ level: config.log.level, logdir: config.logdir, pretty: opts.pretty });
  const log = handle.logger.child({ stratumWorker: env.index });
  const send = (m: ToPrimary) => {
    if (process.connected) process.send!(m);
  };
  const settingsFile = config.user_settings_file
    ? new UserSettingsFile({
        path: config.user_settings_file,
        onLoaded: () => undefined,
        onError: (err) => log.error({ code: err.code, error: err.message }, "user settings not applied"),
      })
    : null;
  const records = new ForwardingRecords((s) => send({ t: "record", ...s }));
  const engine = new Engine({
    config,
    signatures: opts.signatures ?? settingsFile ?? undefined,
    relayLink: opts.relayLink,
    upstream: { host: env.host, controlPort: env.controlPort, pushPort: env.pushPort, authToken: env.token, slice: { index: env.index, count: env.count } },
  });
  const obs = new Observability(config, { ...opts.observability, engine, log, worker: { records, index: env.index } });
  logEngine(engine, log);
  const rejects = new Map<string, number>();
  engine.bus.on("share", ({ verdict }) => {
    if (!verdict.accepted) rejects.set(verdict.reason ?? "other", (rejects.get(verdict.reason ?? "other") ?? 0) + 1);
  });
  engine.bus.on("block", (b) => {
    const { rewardSats, identity, ...rest } = b;
    send({ t: "block", atMs: engine.now(), block: { ...rest, rewardSats: rewardSats.toString(), identity: identity ? { username: identity.username, address: identity.address, worker: identity.worker } : null } });
  });

  let closing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const close = (code: number) => {
    closing ??= (async () => {
      if (timer) clearInterval(timer);
      for (const [name, fn] of [
        ["engine", () => engine.close()],
        ["events, records", () => obs.close()],
        ["user settings", () => settingsFile?.close()],
      ] as const) {
        try {
          await fn();
        } catch (err) {
          log.warn({ component: name, error: errorText(err) }, "error while closing");
        }
      }
      handle.flush();
      process.exit(code);
    })();
    return closing;
  };
  process.on("message", (m: ToWorker) => {
    if (m.t === "bests") records.onBests(m.user, m.week, m.best);
    else if (m.t === "metrics") void obs.metrics.registry.getMetricsAsJSON().then((metrics) => send({ t: "metrics", id: m.id, metrics: metrics as MetricObjectWithValues<MetricValue<string>>[] }));
    else if (m.t === "stop") void close(0);
    else if (m.t === "reopen") handle.reopen();
  });
  // The primary went away (killed): nobody to submit blocks to any more.
  process.on("disconnect", () => void close(0));
  // The primary coordinates a terminal's Ctrl-C (it reaches the whole process group); SIGTERM to this worker alone stops it.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => void close(0));
  process.on("SIGUSR1", () => handle.reopen());

  try {
    await settingsFile?.start();
    await obs.start();
    await engine.start();
  } catch (err) {
    log.error({ error: errorText(err) }, "stratum worker %d could not start", env.index);
    await close(1);
    return 1;
  }
  const extranonceSlice = Extranonce1Allocator.sliceCapacity(config.nonce1length, env.count);
  log.info({ stratum: engine.status().listening.map((b) => `${b.host}:${b.port}`), extranonceSlice, maxclients: per }, "stratum worker %d of %d serving", env.index, env.count);
  const eventCounts = (): WorkerEventCounts | null => {
    const st = obs.publisher?.stats();
    return st ? { emitted: st.emitted, queued: st.queued, dropped: { ...st.dropped } } : null;
  };
  send({ t: "ready", snapshot: snapshotOf(engine, rejects, eventCounts()) });
  timer = setInterval(() => send({ t: "snapshot", snapshot: snapshotOf(engine, rejects, eventCounts()) }), SNAPSHOT_MS);
  timer.unref();
  // Runs until "stop" (process.exit in close()).
  return new Promise<number>(() => undefined);
}
