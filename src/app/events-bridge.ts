/**
 * Engine bus → mining events and best-difficulty records.
 *
 * Every listener runs synchronously inside the engine's own call (a share's listener runs after
 * the miner already has its reply) and does only cheap, bounded work: read fields, compare numbers,
 * hand a small object to the publisher, which serialises it and queues it without waiting
 * (src/pipeline/events/emitter.ts). A listener never throws into the engine: an exception here would
 * otherwise unwind into the Stratum session that submitted the share.
 *
 * Field mapping notes (the wire contract is src/pipeline/events/types.ts):
 * - Shares from a connection that never authorised carry no user: they are not attributable, so
 *   they produce no `share_submitted` (they are still counted in /metrics by reason).
 * - `miner_disconnected` only ends a session that had its `miner_connected` (subscribed and
 *   authorised): a connection that never got that far (the region monitor's subscribe-only probe
 *   every 10 s, port scanners, a miner with a wrong password) produces no event; it is counted in
 *   `unannouncedDisconnects` (`tbg_sessions_unannounced_total` in /metrics).
 * - `job_id` is the job the verdict resolved to; for `job_not_found` the engine does not pass the
 *   submitted id through, so it is `"unknown"`.
 * - `new_block_network.source` is `zmq:<endpoint>`, `poll` or `template` (the engine's `startup`
 *   and `block_found` hints map to `template`); `first_seen_endpoint` is the ZMQ endpoint or the
 *   node that served the template.
 * - Strings are clipped to the schema's limits (worker 128, user agent 256, reason 128) by code point,
 *   with control characters and lone surrogates replaced (the Stratum boundary already refuses such
 *   usernames), rather than letting one odd miner's event be refused as invalid or too large.
 */
import type { EventEmitter } from "node:events";
import type { BlockFound, EngineEventMap, EngineStatus } from "../core/engine/engine.ts";
import type { SessionSnapshot } from "../core/stratum/session.ts";
import type { ShareVerdict } from "../core/shares/validator.ts";
import type { HashrateEntry } from "../core/stats/miners.ts";
import type { EventDataMap, EventType } from "../pipeline/events/types.ts";
import type { BeatenRecord, BestDiffRecords } from "./records/best-diff.ts";
import { safeText } from "../util/text.ts";

/** What the bridge reads from the engine (the real {@link Engine} satisfies it; tests pass a fake bus). */
export interface BridgeEngine {
  readonly bus: EventEmitter<EngineEventMap>;
  readonly now: () => number;
  /** The current job's work (cheap: read on shares that carry no job). */
  currentWork(): EngineStatus["work"];
  status(): Pick<EngineStatus, "nodes">;
  workerHashrates(activeWithinMs: number): HashrateEntry[];
}

/** Where events go: the {@link MiningEventEmitter} (never blocks, never throws). */
export interface MiningEventOutput {
  emit<T extends EventType>(type: T, data: EventDataMap[T]): boolean;
  isEnabled(type: EventType): boolean;
}

/** Timer seam for the periodic hashrate events. */
export interface BridgeTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Defaults of {@link EventsBridgeOptions}. */
export const EVENTS_BRIDGE_DEFAULTS = {
  /** One `hashrate_update` per active worker and per user this often (every 60 s). */
  hashrateIntervalMs: 60_000,
  /** "Active": an accepted share within this long. 10 min covers the slowest vardiff cadence with margin. */
  hashrateActiveWithinMs: 600_000,
} as const;

/** Options of {@link EventsBridge}. */
export interface EventsBridgeOptions {
  engine: BridgeEngine;
  /** null when events are disabled: records are still kept. */
  publisher: MiningEventOutput | null;
  /** Best-difficulty records; null = none tracked (no `share_best_diff`). A Stratum worker process passes its forwarder to the primary's records. */
  records?: Pick<BestDiffRecords, "observe" | "endSession"> | null;
  hashrateIntervalMs?: number;
  hashrateActiveWithinMs?: number;
  timers?: BridgeTimers;
  /** A listener failed (a bug): reported, never rethrown into the engine. */
  onError?: (err: unknown, where: keyof EngineEventMap | "hashrate") => void;
}

/** Counters of {@link EventsBridge}. */
export interface EventsBridgeStats {
  /** Shares from sessions that never authorised (no event). */
  unattributedShares: number;
  /** Blocks with no finder identity (no event). */
  unattributedBlocks: number;
  /** Records beaten (share_best_diff produced, whether or not the type is enabled). */
  recordsBeaten: number;
  /** Listener exceptions. */
  errors: number;
  /** Sessions that ended without a miner_connected (never authorised, or never subscribed): no miner_disconnected. */
  unannouncedDisconnects: number;
}

const NODE_TIMERS: BridgeTimers = {
  setInterval: (fn, ms) => {
    const h = setInterval(fn, ms);
    h.unref();
    return h;
  },
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

const IP_LIKE = /^[0-9A-Fa-f:.]{2,45}(%[0-9A-Za-z._-]{1,16})?$/;
/** The unspecified IPv6 address stands for "unknown" (the server says "unknown" when the socket is already gone). */
function ipOf(session: SessionSnapshot): string {
  const ip = session.ip;
  return IP_LIKE.test(ip) ? ip : "::";
}

/** Clips by code point (a surrogate pair is never cut) and replaces control characters (src/util/text.ts). */
function clip(s: string, max: number): string {
  return safeText(s, max);
}

/** Turns engine bus events into mining events; see the module comment. */
/** hashrate_update events emitted per event-loop turn. */
const HASHRATE_BATCH = 2_000;

export class EventsBridge {
  private readonly engine: BridgeEngine;
  private readonly out: MiningEventOutput | null;
  private readonly records: Pick<BestDiffRecords, "observe" | "endSession"> | null;
  private readonly opts: EventsBridgeOptions;
  private readonly timers: BridgeTimers;
  private readonly unsubscribers: Array<() => void> = [];
  /** Sessions authorised before subscribing: miner_connected waits for the extranonce1. */
  private readonly pendingConnect = new Set<string>();
  /** Sessions whose miner_connected went out: only those get a miner_disconnected. */
  private readonly announced = new Set<string>();
  private timer: unknown = null;
  private readonly counters: EventsBridgeStats = { unattributedShares: 0, unattributedBlocks: 0, recordsBeaten: 0, errors: 0, unannouncedDisconnects: 0 };

  constructor(opts: EventsBridgeOptions) {
    this.opts = opts;
    this.engine = opts.engine;
    this.out = opts.publisher;
    this.records = opts.records ?? null;
    this.timers = opts.timers ?? NODE_TIMERS;
  }

  /** Subscribe to the bus (before the engine starts, so the first new_block_network is seen) and start the hashrate timer. */
  start(): void {
    if (this.unsubscribers.length > 0) return;
    this.on("share", (e) => this.onShare(e.session, e.verdict));
    this.on("block", (b) => this.onBlock(b));
    this.on("authorized", (s) => this.onAuthorized(s));
    this.on("difficulty", (e) => this.onDifficulty(e));
    this.on("disconnected", (e) => this.onDisconnected(e.session, e.reason));
    this.on("newBlockNetwork", (e) => this.onNewBlockNetwork(e));
    // Relay hook: a relay's mode changes (src/core/relay/relay-mode.ts).
    this.on("relayState", (e) => void this.out?.emit("relay_state", { state: e.state, previous: e.previous, reason: e.reason.slice(0, 256) }));
    const every = this.opts.hashrateIntervalMs ?? EVENTS_BRIDGE_DEFAULTS.hashrateIntervalMs;
    if (every > 0) this.timer = this.timers.setInterval(() => this.emitHashrates(), every);
  }

  /**
   * Emit one `hashrate_update` per active worker and per user. The first 2,000 go out now; a larger fleet
   * is emitted in further batches of 2,000 on later turns of the event loop, so a minute's tick for 100k
   * workers never stalls share validation (~3 µs an event). Returns how many were handed over now.
   */
  private closed = false;

  emitHashrates(): number {
    if (!this.out?.isEnabled("hashrate_update")) return 0;
    let entries: HashrateEntry[];
    try {
      entries = this.engine.workerHashrates(this.opts.hashrateActiveWithinMs ?? EVENTS_BRIDGE_DEFAULTS.hashrateActiveWithinMs);
    } catch (err) {
      this.fail(err, "hashrate");
      return 0;
    }
    const batch = (from: number): number => {
      let n = 0;
      const to = Math.min(entries.length, from + HASHRATE_BATCH);
      try {
        for (let i = from; i < to; i++) {
          const e = entries[i];
          const h = e.hashrate;
          const hs = { "1m": finite(h["1m"]), "5m": finite(h["5m"]), "1h": finite(h["1h"]), "1d": finite(h["1d"]), "7d": finite(h["7d"]) };
          if (this.out?.emit("hashrate_update", { user: e.user, worker: e.worker === null ? null : clip(e.worker, 128), hashrate_hs: hs })) n++;
        }
      } catch (err) {
        this.fail(err, "hashrate");
      }
      if (to < entries.length && !this.closed) setImmediate(() => batch(to));
      return n;
    };
    return batch(0);
  }

  stats(): EventsBridgeStats {
    return { ...this.counters };
  }

  /** Unsubscribe and stop the timer. Events already handed over are the publisher's to flush. */
  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribers.splice(0)) off();
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
    this.pendingConnect.clear();
  }

  private on<K extends keyof EngineEventMap>(name: K, fn: (...args: EngineEventMap[K]) => void): void {
    const listener = (...args: EngineEventMap[K]) => {
      try {
        fn(...args);
      } catch (err) {
        this.fail(err, name);
      }
    };
    // EventEmitter<T>'s overloads do not accept a generic key; the listener type is right by construction.
    const bus = this.engine.bus as unknown as EventEmitter;
    bus.on(name, listener as (...a: unknown[]) => void);
    this.unsubscribers.push(() => bus.off(name, listener as (...a: unknown[]) => void));
  }

  private fail(err: unknown, where: keyof EngineEventMap | "hashrate"): void {
    this.counters.errors++;
    try {
      this.opts.onError?.(err, where);
    } catch {
      // ignore
    }
  }

  private onShare(session: SessionSnapshot, verdict: ShareVerdict): void {
    const id = session.identity;
    if (!id) {
      this.counters.unattributedShares++;
      return;
    }
    const worker = clip(id.worker, 128);
    const height = verdict.job?.template.height ?? this.engine.currentWork()?.height ?? 0;
    // Only accepted shares and blocks count toward records (a block on a stale job is still a real hash).
    const beaten = this.records && (verdict.accepted || verdict.block) ? this.records.observe({ user: id.address, worker, sessionId: session.id, shareDifficulty: verdict.shareDifficulty }) : null;
    const out = this.out;
    if (!out) return;
    if (out.isEnabled("share_submitted")) {
      out.emit("share_submitted", {
        user: id.address,
        worker,
        session_id: session.id,
        accepted: verdict.accepted,
        reject_reason: verdict.accepted ? null : (verdict.reason ?? "other"),
        difficulty: verdict.accepted || verdict.difficulty > 0 ? verdict.difficulty : session.difficulty,
        share_difficulty: finite(verdict.shareDifficulty),
        job_id: verdict.job?.id ?? "unknown",
        height,
        block: verdict.block,
        ip: ipOf(session),
      });
    }
    if (beaten && beaten.length > 0) {
      this.counters.recordsBeaten += beaten.length;
      for (const b of beaten) {
        const data: EventDataMap["share_best_diff"] = { user: b.user, worker: b.worker, scope: b.scope, old_best: b.oldBest, new_best: b.newBest, height };
        if (b.week !== undefined) data.week = b.week;
        out.emit("share_best_diff", data);
      }
    }
  }

  /** Records a returning evicted user beat, known once their records were read back (src/records/best-diff.ts). */
  emitLateRecords(beaten: readonly BeatenRecord[]): void {
    this.counters.recordsBeaten += beaten.length;
    const height = this.engine.currentWork()?.height ?? 0;
    for (const b of beaten) {
      if (b.scope === "session") continue;
      const data: EventDataMap["share_best_diff"] = { user: b.user, worker: b.worker, scope: b.scope, old_best: b.oldBest, new_best: b.newBest, height };
      if (b.week !== undefined) data.week = b.week;
      this.out?.emit("share_best_diff", data);
    }
  }

  private onBlock(b: BlockFound): void {
    if (!b.identity) {
      this.counters.unattributedBlocks++;
      return;
    }
    this.out?.emit("block_found", {
      user: b.identity.address,
      worker: clip(b.identity.worker, 128),
      height: b.height,
      hash: b.hashHex,
      reward_sats: Number(b.rewardSats),
      coinbase_signature: clip(b.signature, 100),
      accepted: b.accepted,
      outcome: b.outcome,
      submit_results: b.results.slice(0, 32).map((r) => ({
        node: clip(r.node, 128),
        accepted: r.accepted,
        result: r.result === null ? null : clip(r.result, 256),
        latency_ms: Math.max(0, finite(r.latencyMs)),
      })),
      share_difficulty: b.shareDifficulty,
      network_difficulty: b.networkDifficulty,
    });
  }

  private onAuthorized(session: SessionSnapshot): void {
    if (session.extranonce1Hex === "") this.pendingConnect.add(session.id);
    else this.emitConnected(session);
  }

  private emitConnected(session: SessionSnapshot): void {
    const id = session.identity;
    if (!id || !this.out) return;
    this.announced.add(session.id);
    this.out.emit("miner_connected", {
      user: id.address,
      worker: clip(id.worker, 128),
      session_id: session.id,
      ip: ipOf(session),
      user_agent: session.userAgent === null ? null : clip(session.userAgent, 256),
      extranonce1: session.extranonce1Hex,
      difficulty: session.difficulty,
    });
  }

  private onDifficulty(e: EngineEventMap["difficulty"][0]): void {
    const { session } = e;
    // Work starts (reason "initial") once subscribed and authorised: a miner that authorised first connects now.
    if (this.pendingConnect.delete(session.id)) this.emitConnected(session);
    const id = session.identity;
    if (!id) return;
    this.out?.emit("diff_updated", {
      user: id.address,
      worker: clip(id.worker, 128),
      session_id: session.id,
      old_difficulty: e.oldDifficulty,
      new_difficulty: e.newDifficulty,
      reason: e.reason,
    });
  }

  private onDisconnected(session: SessionSnapshot, reason: string): void {
    this.pendingConnect.delete(session.id);
    const recordBest = this.records?.endSession(session.id) ?? null;
    if (!this.out) return;
    if (!this.announced.has(session.id)) {
      this.counters.unannouncedDisconnects++;
      return;
    }
    this.announced.delete(session.id);
    const best = session.bestDifficulty > 0 ? session.bestDifficulty : recordBest;
    const id = session.identity;
    this.out.emit("miner_disconnected", {
      user: id ? id.address : null,
      worker: id ? clip(id.worker, 128) : null,
      session_id: session.id,
      ip: ipOf(session),
      reason: clip(reason || "unknown", 128),
      session_seconds: Math.max(0, (this.engine.now() - session.connectedAtMs) / 1000),
      shares_accepted: session.sharesAccepted,
      shares_rejected: session.sharesRejected,
      session_best: best,
    });
  }

  private onNewBlockNetwork(e: EngineEventMap["newBlockNetwork"][0]): void {
    if (!this.out) return;
    let source: string;
    let firstSeen: string | null;
    if (e.source.startsWith("zmq:")) {
      source = clip(e.source, 204);
      firstSeen = clip(e.source.slice(4), 256);
    } else {
      source = e.source === "poll" ? "poll" : "template";
      firstSeen = this.activeNode();
    }
    this.out.emit("new_block_network", { height: e.height, hash: e.hash, prev_hash: e.prevHash, source, first_seen_endpoint: firstSeen });
  }

  private activeNode(): string | null {
    const nodes = this.engine.status().nodes;
    const n = nodes.find((s) => s.active) ?? nodes.find((s) => s.healthy);
    return n ? clip(n.name, 256) : null;
  }
}

function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
