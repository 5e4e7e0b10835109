/**
 * The pool's health snapshot: what `GET /health` returns, computed on demand from the engine's
 * `status()` snapshot. Also the rolling shares-per-second counter both /health and /metrics use.
 *
 * Status rule: "degraded" when no node is healthy, when there is no work yet, or when work is
 * stale (no new template for more than 2 × `update_interval` + slack: a routine refresh failed
 * at least twice, so miners are hashing an old transaction set, or a new block went unnoticed).
 * Event sink trouble does not degrade: it does not stop mining and has its own counters.
 */
import type { ConnectedCounts, EngineStatus, WorkerEventCounts } from "../core/engine/engine.ts";
import type { EmitterStats } from "../pipeline/events/emitter.ts";
import { emptyDropCounts, type DropReason } from "../pipeline/events/sink.ts";
import type { HashrateWindow } from "../core/stats/hashrate.ts";

/** One ZMQ endpoint as its subscriber reports it (the ZMQ component supplies these; extra fields pass through). */
export interface ZmqEndpointStatus {
  endpoint: string;
  /** Connected and receiving (or at least subscribed without error). */
  healthy: boolean;
  [field: string]: unknown;
}

/** Counts shares per second over a sliding window of one-second buckets. */
export class RollingRate {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;
  private readonly startMs: number;

  /** @param windowSec window length in seconds (default 60). */
  constructor(
    nowMs: number,
    readonly windowSec = 60,
  ) {
    this.buckets = new Float64Array(windowSec);
    this.stamps = new Float64Array(windowSec).fill(-1);
    this.startMs = nowMs;
  }

  add(nowMs: number, n = 1): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % this.windowSec;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i] += n;
  }

  /** Events per second over the window (or since start, when younger than the window). */
  rate(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < this.windowSec; i++) if (this.stamps[i] > sec - this.windowSec && this.stamps[i] <= sec) sum += this.buckets[i];
    const span = Math.min(this.windowSec, Math.max(1, (nowMs - this.startMs) / 1000));
    return sum / span;
  }
}

/** The `/health` document. Field meanings in docs/operations.md. */
export interface HealthReport {
  status: "ok" | "degraded";
  /** Why degraded (empty when ok). */
  problems: string[];
  region: string;
  instance: string;
  network: string | null;
  mode: "primary" | "passthrough";
  uptime_seconds: number;
  started_at: string;
  /** Open Stratum connections. */
  miners: number;
  /** Distinct (address, worker) among authorised connections. */
  workers: number;
  /** Distinct addresses among authorised connections. */
  users: number;
  hashrate_hs: Record<HashrateWindow, number>;
  shares_per_second: number;
  shares: { accepted: number; rejected: number };
  blocks: { found: number; accepted: number };
  last_block: { height: number; hash: string; user: string | null; worker: string | null; accepted: boolean; found_at: string | null } | null;
  template: { height: number; age_seconds: number; node: string; transactions: number } | null;
  events: {
    enabled: boolean;
    emitted: number;
    queued: number;
    dropped: number;
    dropped_by_reason: Record<DropReason, number> | null;
    sinks: Record<string, { state: string; sent: number; queued: number }>;
  };
  nodes: Array<{ name: string; healthy: boolean; active: boolean; last_error: string | null; last_ok_seconds_ago: number | null; templates_served: number; failures: number }>;
  /** ZMQ endpoints; null when no ZMQ subscriber is wired. */
  zmq: ZmqEndpointStatus[] | null;
  /** Relay state; null on a primary / until the relay component reports it. */
  relay: unknown;
}

/** Inputs of {@link buildHealthReport}. */
export interface HealthSources {
  engine: { status(): EngineStatus; connectedCounts(): ConnectedCounts };
  publisher?: { stats(): EmitterStats } | null;
  zmqStatus?: (() => ZmqEndpointStatus[]) | null;
  relayStatus?: (() => unknown) | null;
  shareRate?: RollingRate | null;
  /** When the last block_found happened (ms), if known. */
  lastBlockAtMs?: number | null;
  /** Seconds added to 2 × update_interval before work counts as stale. Default 30. */
  staleSlackSec?: number;
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Why the pool is degraded right now (empty = ok). */
export function healthProblems(status: Pick<EngineStatus, "nodes" | "work" | "lastTemplateAtMs" | "nowMs" | "updateIntervalSec" | "workerProblems">, staleSlackSec = 30): string[] {
  const problems: string[] = [...(status.workerProblems ?? [])];
  const nodes = status.nodes;
  if (nodes.length === 0 || !nodes.some((n) => n.healthy)) problems.push("no healthy node");
  if (!status.work || status.lastTemplateAtMs === 0) problems.push("no work yet");
  else {
    const ageSec = (status.nowMs - status.lastTemplateAtMs) / 1000;
    const limitSec = 2 * status.updateIntervalSec + staleSlackSec;
    if (ageSec > limitSec) problems.push(`work is stale: last template ${Math.round(ageSec)} s ago (limit ${limitSec} s)`);
  }
  return problems;
}

/** `/health`'s `events`: this process's publisher, plus the Stratum worker processes' events when there are workers. */
function eventsBlock(pub: EmitterStats | null, workers: WorkerEventCounts | null, sinks: HealthReport["events"]["sinks"]): HealthReport["events"] {
  let byReason: Record<DropReason, number> | null = pub ? { ...pub.dropped } : null;
  if (workers) {
    byReason ??= emptyDropCounts();
    for (const [k, v] of Object.entries(workers.dropped)) if (k in byReason) byReason[k as DropReason] += v;
  }
  return {
    enabled: pub !== null,
    emitted: (pub?.emitted ?? 0) + (workers?.emitted ?? 0),
    queued: (pub?.queued ?? 0) + (workers?.queued ?? 0),
    dropped: byReason ? Object.values(byReason).reduce((a, b) => a + b, 0) : 0,
    dropped_by_reason: byReason,
    sinks,
  };
}

/** Builds the `/health` document. */
export function buildHealthReport(src: HealthSources): HealthReport {
  const status = src.engine.status();
  const nowMs = status.nowMs;
  const problems = healthProblems(status, src.staleSlackSec);
  const counts = src.engine.connectedCounts();
  const hashrate = status.hashrateHs;
  const work = status.work;
  const pub = src.publisher?.stats() ?? null;
  const lb = status.lastBlock;
  const sinks: HealthReport["events"]["sinks"] = {};
  for (const [name, s] of Object.entries(pub?.sinks ?? {})) sinks[name] = { state: s.state, sent: s.sent, queued: s.queued };
  return {
    status: problems.length === 0 ? "ok" : "degraded",
    problems,
    region: status.region,
    instance: status.instance,
    network: status.network,
    mode: status.mode,
    uptime_seconds: round((nowMs - status.startedAtMs) / 1000, 1),
    started_at: new Date(status.startedAtMs).toISOString(),
    ...counts,
    hashrate_hs: Object.fromEntries(Object.entries(hashrate).map(([w, v]) => [w, round(v, 0)])) as Record<HashrateWindow, number>,
    shares_per_second: round(src.shareRate?.rate(nowMs) ?? 0),
    shares: { ...status.shares },
    blocks: { ...status.blocks },
    last_block: lb
      ? {
          height: lb.height,
          hash: lb.hashHex,
          user: lb.identity?.address ?? null,
          worker: lb.identity?.worker ?? null,
          accepted: lb.accepted,
          found_at: src.lastBlockAtMs ? new Date(src.lastBlockAtMs).toISOString() : null,
        }
      : null,
    template: work ? { height: work.height, age_seconds: round((nowMs - status.lastTemplateAtMs) / 1000, 1), node: work.node, transactions: work.transactions } : null,
    events: eventsBlock(pub, status.workerEvents ?? null, sinks),
    nodes: status.nodes.map((n) => ({
      name: n.name,
      healthy: n.healthy,
      active: n.active,
      last_error: n.lastError,
      last_ok_seconds_ago: n.lastOkMs === null ? null : round((nowMs - n.lastOkMs) / 1000, 1),
      templates_served: n.templatesServed,
      failures: n.failures,
    })),
    zmq: src.zmqStatus ? src.zmqStatus() : null,
    relay: src.relayStatus ? (src.relayStatus() ?? null) : null,
  };
}
