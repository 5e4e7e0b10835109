/**
 * The pool status snapshot behind the status page, `GET /api/status` and `tbg status`: the ONE place
 * that reads the engine's live state for them (sessions, counters, templates, nodes) next to the app's
 * own parts (records, publisher, ZMQ). Everything else renders the {@link PoolStatus} document it returns.
 *
 * Privacy and secrets: payout addresses are shown as `health.address_display` says (full, shortened, or a
 * per-process pseudonym); IP addresses are never included. Server-side strings (node errors and names,
 * ZMQ endpoints, sink names and states, relay state, reject reasons, problems) have URL user-info removed
 * and every configured secret (RPC passwords, NATS token/password, relay tokens) replaced. Miner-supplied
 * strings (worker, user agent) are NOT scrubbed: a miner could otherwise name a worker after a guess and
 * read whether it was replaced. They cannot contain a secret the miner did not already know; they are
 * passed through {@link displaySafe} and clipped, and the page and terminal render them as text.
 */
import type { BlockFound, Engine, SessionView } from "../core/engine/engine.ts";
import type { PoolConfig } from "../config/types.ts";
import type { EmitterStats } from "../pipeline/events/emitter.ts";
import type { BestDiffRecords } from "./records/best-diff.ts";
import { AddressMask, displaySafe } from "../util/text.ts";
import { topK } from "../util/top-k.ts";
import { buildHealthReport, type HealthSources } from "./pool-status.ts";
import { STATUS_LIMITS, type BlockRow, type MinerRow, type PoolStatus } from "./status-api.ts";

export { AddressMask };

/**
 * Keeps what the engine does not: the blocks found since start (newest first, bounded) and rejected
 * shares by reason. Subscribes to the engine bus; the share listener does one branch per accepted share.
 */
export class StatusTracker {
  readonly blocks: Array<{ block: BlockFound; atMs: number }> = [];
  readonly rejects = new Map<string, number>();
  private readonly offs: Array<() => void> = [];

  constructor(private readonly engine: Engine) {}

  start(): void {
    if (this.offs.length > 0) return;
    const onShare = (e: { verdict: { accepted: boolean; reason: string | null } }) => {
      if (e.verdict.accepted) return;
      const r = e.verdict.reason ?? "other";
      this.rejects.set(r, (this.rejects.get(r) ?? 0) + 1);
    };
    const onBlock = (block: BlockFound) => this.addBlock(block, this.engine.now());
    this.engine.bus.on("share", onShare);
    this.engine.bus.on("block", onBlock);
    this.offs.push(() => this.engine.bus.off("share", onShare), () => this.engine.bus.off("block", onBlock));
  }

  /** Records a block found (newest first, bounded): the engine's own, or one a Stratum worker process reported. */
  addBlock(block: BlockFound, atMs: number): void {
    this.blocks.unshift({ block, atMs });
    if (this.blocks.length > STATUS_LIMITS.blocks) this.blocks.length = STATUS_LIMITS.blocks;
  }

  /** Replaces the rejects by reason (the Stratum worker processes' merged counts). */
  setRejects(rejects: ReadonlyMap<string, number>): void {
    this.rejects.clear();
    for (const [k, v] of rejects) this.rejects.set(k, v);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }
}

/** Secrets in the config that must never appear on a status page, longest first (any length: see {@link scrubSecrets}). */
export function configSecrets(config: PoolConfig): string[] {
  const out = new Set<string>();
  for (const n of config.btcd) if (n.pass) out.add(n.pass);
  if (config.events.nats?.token) out.add(config.events.nats.token);
  if (config.events.nats?.pass) out.add(config.events.nats.pass);
  if (config.primary?.auth_token) out.add(config.primary.auth_token);
  if (config.relay_server?.auth_token) out.add(config.relay_server.auth_token);
  return [...out].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi;
/** Secrets shorter than this are replaced only as a whole token (not inside a longer word: "ab" must not mangle "table"). */
const SHORT_SECRET = 4;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Deep copy of `value` with URL user-info removed from every string and every secret replaced by `…`.
 * Apply it to server-side strings only (never to miner-supplied ones: see the module comment).
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const short = secrets.filter((x) => x.length > 0 && x.length < SHORT_SECRET).map((x) => new RegExp(`(?<![A-Za-z0-9])${escapeRe(x)}(?![A-Za-z0-9])`, "g"));
  const long = secrets.filter((x) => x.length >= SHORT_SECRET);
  const fix = (s: string) => {
    let out = s.replace(USERINFO, "$1");
    for (const secret of long) if (out.includes(secret)) out = out.split(secret).join("…");
    for (const re of short) out = out.replace(re, "…");
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return fix(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [fix(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Inputs of {@link buildPoolStatus}. */
export interface PoolStatusSources extends Omit<HealthSources, "publisher"> {
  engine: Engine;
  publisher?: { stats(): EmitterStats } | null;
  tracker: StatusTracker;
  records?: BestDiffRecords | null;
  mask: AddressMask;
  /** Config secrets to scrub (see {@link configSecrets}). */
  secrets?: readonly string[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const r3 = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(3)) : 0);
const nonNeg = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);

/** Builds the status document. `minersLimit`: rows of `miners.rows` (the busiest connections first). */
export function buildPoolStatus(src: PoolStatusSources, minersLimit: number = STATUS_LIMITS.miners): PoolStatus {
  const { engine, mask } = src;
  const nowMs = engine.now();
  const health = buildHealthReport({ ...src, publisher: src.publisher ?? null });
  const sessions = engine.sessionViews();
  const total = engine.status().connections;

  // Busiest first: by the worker's 5-minute hashrate (from accepted shares), then the newest share; a
  // connection with no accepted share goes after every one with shares, whatever difficulty it was assigned
  // (an idle or spamming connection sits at the start difficulty and must not push real miners off the list).
  const limit = Math.max(0, Math.min(minersLimit, STATUS_LIMITS.maxMiners));
  const rates = new Map<SessionView, ReturnType<typeof engine.workerHashrate>>();
  const rate = (s: SessionView) => {
    if (!rates.has(s)) rates.set(s, s.identity ? engine.workerHashrate(s.identity.address, s.identity.worker, nowMs) : null);
    return rates.get(s) ?? null;
  };
  const busiest = topK(sessions, limit, (s) => (s.sharesAccepted > 0 ? nonNeg(rate(s)?.["5m"] ?? 0) : -1), (s) => s.lastShareMs);
  const rows: MinerRow[] = busiest.map((s) => {
    const id = s.identity;
    const hr = rate(s);
    return {
      session_id: s.id,
      address: id ? mask.show(id.address) : null,
      worker: id ? displaySafe(id.worker) : null,
      user_agent: s.userAgent === null ? null : displaySafe(s.userAgent),
      difficulty: nonNeg(s.difficulty),
      hashrate_hs: { "1m": Math.round(nonNeg(hr?.["1m"] ?? 0)), "5m": Math.round(nonNeg(hr?.["5m"] ?? 0)), "1h": Math.round(nonNeg(hr?.["1h"] ?? 0)) },
      last_share_at: s.lastShareMs > 0 ? iso(s.lastShareMs) : null,
      best_difficulty: nonNeg(s.bestDifficulty),
      shares_accepted: s.sharesAccepted,
      shares_rejected: s.sharesRejected,
      connected_at: iso(s.connectedAtMs),
    };
  });

  // Live sessions' bests (top N without sorting every session).
  const sessionBest = topK(engine.sessionViews(), STATUS_LIMITS.records, (s) => (s.identity ? s.bestDifficulty : 0)).filter((s) => s.identity && s.bestDifficulty > 0);
  const records = src.records ?? null;
  const board = (scope: "week" | "alltime") =>
    (records?.top(scope, STATUS_LIMITS.records) ?? []).map((r) => ({ address: mask.show(r.user), worker: displaySafe(r.worker), difficulty: r.difficulty, at: r.atMs > 0 ? iso(r.atMs) : null }));

  const blocks: BlockRow[] = src.tracker.blocks.map(({ block: b, atMs }) => ({
    height: b.height,
    hash: b.hashHex,
    address: b.identity ? mask.show(b.identity.address) : null,
    worker: b.identity ? displaySafe(b.identity.worker) : null,
    accepted: b.accepted,
    found_at: iso(atMs),
    reward_sats: Number(b.rewardSats),
    share_difficulty: nonNeg(b.shareDifficulty),
    network_difficulty: nonNeg(b.networkDifficulty),
    results: b.results.slice(0, 16).map((r) => ({ node: displaySafe(r.node), accepted: r.accepted, result: r.result === null ? null : displaySafe(r.result, 200), latency_ms: r3(nonNeg(r.latencyMs)) })),
  }));

  const status: PoolStatus = {
    api_version: 1,
    generated_at: iso(nowMs),
    pool: {
      status: health.status,
      problems: health.problems,
      region: health.region,
      instance: health.instance,
      network: health.network,
      mode: health.mode,
      started_at: health.started_at,
      uptime_seconds: nonNeg(health.uptime_seconds),
      address_display: mask.display,
    },
    totals: {
      connections: health.miners,
      workers: health.workers,
      users: health.users,
      hashrate_hs: { "1m": nonNeg(health.hashrate_hs["1m"]), "5m": nonNeg(health.hashrate_hs["5m"]), "1h": nonNeg(health.hashrate_hs["1h"]), "1d": nonNeg(health.hashrate_hs["1d"]), "7d": nonNeg(health.hashrate_hs["7d"]) },
      shares_per_second: nonNeg(health.shares_per_second),
      shares_accepted: health.shares.accepted,
      shares_rejected: health.shares.rejected,
      blocks_found: health.blocks.found,
      blocks_accepted: health.blocks.accepted,
    },
    rejects: Object.fromEntries([...src.tracker.rejects].sort((a, b) => b[1] - a[1])),
    miners: { total, rows },
    best: {
      week: records?.weekKey ?? "",
      session: sessionBest.map((s) => ({ address: mask.show(s.identity!.address), worker: displaySafe(s.identity!.worker), difficulty: s.bestDifficulty, at: null })),
      this_week: board("week"),
      all_time: board("alltime"),
    },
    blocks,
    template: health.template ? { ...health.template, age_seconds: nonNeg(health.template.age_seconds) } : null,
    nodes: health.nodes,
    zmq: health.zmq,
    events: {
      enabled: health.events.enabled,
      emitted: health.events.emitted,
      queued: health.events.queued,
      dropped: health.events.dropped,
      sinks: Object.entries(health.events.sinks).map(([name, s]) => ({ name, state: s.state, sent: s.sent, queued: s.queued })),
    },
    relay: health.relay ?? null,
  };
  // Server-side strings only (see the module comment).
  const secrets = src.secrets ?? [];
  status.pool.problems = scrubSecrets(status.pool.problems, secrets);
  status.rejects = scrubSecrets(status.rejects, secrets);
  for (const b of status.blocks) b.results = scrubSecrets(b.results, secrets);
  status.template = scrubSecrets(status.template, secrets);
  status.nodes = scrubSecrets(status.nodes, secrets);
  status.zmq = scrubSecrets(status.zmq, secrets);
  status.events = scrubSecrets(status.events, secrets);
  status.relay = scrubSecrets(status.relay, secrets);
  return status;
}
