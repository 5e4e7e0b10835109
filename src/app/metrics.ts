/**
 * Prometheus metrics with prom-client, on a Registry of our own (no global state: tests
 * and `tbg dev` can run several pools in one process).
 *
 * Two kinds of sources:
 * - bus events counted as they happen (shares by result/reason, blocks, submit latency, notify
 *   fan-out, protocol errors, refusals) — one labelled `inc()` on a pre-resolved child;
 * - state read at scrape time in `collect()` (connections, template age, node health, hashrate,
 *   event publisher counters, records store), so the mining path pays nothing for them.
 *
 * Labels are low-cardinality by construction: node names and ZMQ endpoints come from the config,
 * reasons and kinds from fixed sets (unknown values fold into "other"). Never user addresses.
 * Names follow Prometheus conventions: `_total`, `_seconds`, base units.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { EventEmitter } from "node:events";
import type { Engine, EngineEventMap } from "../core/engine/engine.ts";
import type { EmitterStats } from "../pipeline/events/emitter.ts";
import { DROP_REASONS } from "../pipeline/events/sink.ts";
import { ALL_EVENT_TYPES } from "../pipeline/events/types.ts";
import { ALL_REJECT_REASONS } from "../core/shares/reject.ts";
import type { RecordLogStats } from "./records/record-log.ts";
import { RollingRate, type ZmqEndpointStatus } from "./pool-status.ts";

/** Options of {@link PoolMetrics}. */
export interface PoolMetricsOptions {
  engine: Engine;
  publisher?: { stats(): EmitterStats } | null;
  records?: { storeStats(): RecordLogStats | null; readonly size: { users: number; sessions: number } } | null;
  zmqStatus?: (() => ZmqEndpointStatus[]) | null;
  /** The events bridge's counters (read at scrape time), when events are bridged. */
  bridgeStats?: (() => { unannouncedDisconnects: number } | null) | null;
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
  /**
   * With Stratum worker processes (`workers`): "primary" serves /metrics for all of them (`workers()`
   * returns each worker's registry as JSON; they are merged with prom-client's AggregatorRegistry:
   * counters summed, state read from the primary's merged engine view taken once); "worker" keeps the
   * counters of its own connections and leaves templates and tips to the primary.
   */
  cluster?: { role: "primary"; workers(): Promise<MetricObjectWithValues<MetricValue<string>>[][]> } | { role: "worker" };
}

const CLOSE_REASONS = new Set(["client_closed", "socket_error", "line_too_long", "auth_timeout", "rate_limited", "send_queue_full", "write_timeout", "shutdown", "idle", "shareless", "banned", "protocol_errors", "protocol"]);
const PROTOCOL_KINDS = new Set(["invalid_json", "not_a_request", "bad_params", "unknown_method", "auth_failed"]);
const REFUSE_REASONS = new Set(["shutdown", "maxclients", "per_ip_limit", "per_prefix_limit", "banned"]);
const TEMPLATE_REASONS = ["initial", "new_block", "refresh"] as const;
const DIFF_REASONS = ["initial", "vardiff", "suggest", "minimum"] as const;

const known = (set: Set<string>, v: string) => (set.has(v) ? v : "other");
/** Where a new tip came from, without the endpoint (which /health shows). */
const tipSource = (s: string) => (s.startsWith("zmq:") ? "zmq" : ["poll", "startup", "block_found", "template"].includes(s) ? s : "other");

/** The pool's Prometheus registry, fed from the engine bus; see the module comment. */
export class PoolMetrics {
  readonly registry = new Registry();
  private readonly workers: (() => Promise<MetricObjectWithValues<MetricValue<string>>[][]>) | null;
  /** Shares (accepted + rejected) per second over the last minute; /health reads it too. */
  readonly shareRate: RollingRate;
  /** When the last block_found happened (ms), for /health. */
  lastBlockAtMs: number | null = null;
  private readonly lastBlockTs: Gauge;
  private readonly engine: Engine;
  private readonly offs: Array<() => void> = [];

  constructor(opts: PoolMetricsOptions) {
    const engine = (this.engine = opts.engine);
    const reg = [this.registry];
    this.shareRate = new RollingRate(engine.now());
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    // ---- Stratum
    new Gauge({ name: "tbg_stratum_connections", aggregator: "first", help: "Open Stratum connections", registers: reg, collect() {
      this.set(engine.status().connections);
    } });
    // Users and workers are not summable with each other, hence two gauges (filled by one pass over the sessions).
    // (Registered first: prom-client collects in registration order, so the workers gauge is fresh when read.)
    const usersConnected = new Gauge({ name: "tbg_users_connected", aggregator: "first", help: "Distinct payout addresses among authorised connections", registers: reg, collect() {
      const c = engine.connectedCounts();
      usersConnected.set(c.users);
      workersConnected.set(c.workers);
    } });
    const workersConnected = new Gauge({ name: "tbg_workers_connected", aggregator: "first", help: "Distinct (address, worker) among authorised connections", registers: reg });
    const authorized = new Counter({ name: "tbg_miner_authorizations_total", help: "Sessions that authorised", registers: reg });
    const disconnects = new Counter({ name: "tbg_miner_disconnects_total", help: "Sessions ended, by reason", labelNames: ["reason"], registers: reg });
    const bridgeStats = opts.bridgeStats ?? null;
    const unannounced = new Counter({ name: "tbg_sessions_unannounced_total", help: "Sessions that ended without ever subscribing and authorising (health probes, scanners): no miner_connected/miner_disconnected event", registers: reg, collect() {
      unannounced.reset();
      unannounced.inc(bridgeStats?.()?.unannouncedDisconnects ?? 0);
    } });
    const refused = new Counter({ name: "tbg_connections_refused_total", help: "Connections refused before a session, by reason", labelNames: ["reason"], registers: reg });
    const protocol = new Counter({ name: "tbg_protocol_errors_total", help: "Stratum protocol errors, by kind", labelNames: ["kind"], registers: reg });
    const rateLimited = new Counter({ name: "tbg_rate_limited_total", help: "Messages over a connection's rate limit", registers: reg });
    const diffChanges = new Counter({ name: "tbg_difficulty_changes_total", help: "Session difficulty changes, by reason", labelNames: ["reason"], registers: reg });
    for (const r of DIFF_REASONS) diffChanges.inc({ reason: r }, 0);

    // ---- Shares
    const shares = new Counter({ name: "tbg_shares_total", help: "Shares by result and reject reason (reason=\"none\" when accepted)", labelNames: ["result", "reason"], registers: reg });
    const acceptedChild = shares.labels({ result: "accepted", reason: "none" });
    acceptedChild.inc(0);
    const rejectedChildren = new Map(ALL_REJECT_REASONS.map((r) => [r as string, shares.labels({ result: "rejected", reason: r })]));
    for (const c of rejectedChildren.values()) c.inc(0);
    const acceptedDifficulty = new Counter({ name: "tbg_accepted_difficulty_total", help: "Sum of the credited difficulty of accepted shares (hashrate = rate × 2^32)", registers: reg });
    const shareRate = this.shareRate;
    const sharesPerSecond = new Gauge({ name: "tbg_shares_per_second", aggregator: "first", help: "Shares (accepted and rejected) per second over the last minute", registers: reg, collect() {
      sharesPerSecond.set(shareRate.rate(engine.now()));
    } });
    const hashrate = new Gauge({ name: "tbg_pool_hashrate_hs", aggregator: "first", help: "Pool hashrate estimate, hashes per second, by window", labelNames: ["window"], registers: reg, collect() {
      for (const [w, v] of Object.entries(engine.status().hashrateHs)) hashrate.set({ window: w }, v);
    } });

    // ---- Blocks
    const blocksFound = new Counter({ name: "tbg_blocks_found_total", help: "Shares that met the network target (block candidates submitted)", registers: reg });
    const blocksAccepted = new Counter({ name: "tbg_blocks_accepted_total", help: "Found blocks accepted by at least one node", registers: reg });
    const blocksRejected = new Counter({ name: "tbg_blocks_rejected_total", help: "Found blocks every node rejected", registers: reg });
    const blocksLostRace = new Counter({ name: "tbg_blocks_lost_race_total", help: "Found blocks that were valid but lost the race (a node answered inconclusive: stored off its main chain)", registers: reg });
    const blocksSuppressed = new Counter({ name: "tbg_blocks_suppressed_total", help: "Block candidates not submitted: the pool already had a block accepted or in flight on the same parent", registers: reg });
    const workerBlocksUnassembled = new Counter({ name: "tbg_worker_blocks_unassembled_total", help: "Blocks from Stratum worker processes the primary could not assemble (template no longer kept, or a header not committing to it): lost", registers: reg });
    const submitLatency = new Histogram({ name: "tbg_block_submit_duration_seconds", help: "submitblock round trip per node", labelNames: ["node", "outcome"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: reg });
    const lastBlockTs = (this.lastBlockTs = new Gauge({ name: "tbg_last_block_found_timestamp_seconds", aggregator: "max", help: "Unix time of the last block found (0 = none)", registers: reg }));

    // ---- Abuse controls (src/core/security/): bans and the server-wide send queue, read at scrape time.
    // (With worker processes the primary's engine status already sums the workers': "first" takes it.)
    const guardStats = () => engine.status().abuse.bans;
    const bansActive = new Gauge({ name: "tbg_ip_bans_active", aggregator: "first", help: "IP bans in force", registers: reg, collect() {
      bansActive.set(guardStats().active);
    } });
    const banTracked = new Gauge({ name: "tbg_ban_tracked_peers", aggregator: "first", help: "Peers with strikes, a ban or an offence history", registers: reg, collect() {
      banTracked.set(guardStats().tracked);
    } });
    const perReason = (name: string, help: string, pick: (b: ReturnType<typeof guardStats>) => Record<string, number>) => {
      const c: Counter = new Counter({ name, help, labelNames: ["reason"], aggregator: "first", registers: reg, collect() {
        c.reset();
        for (const [reason, v] of Object.entries(pick(guardStats()))) c.inc({ reason }, v);
      } });
    };
    perReason("tbg_ip_bans_total", "IP bans imposed, by the strike that crossed the threshold", (b) => b.bansTotal);
    perReason("tbg_ban_strikes_total", "Strikes against peers, by reason", (b) => b.strikesTotal);
    const scalar = (name: string, help: string, read: () => number) => {
      const c: Counter = new Counter({ name, help, aggregator: "first", registers: reg, collect() {
        c.reset();
        c.inc(read());
      } });
    };
    scalar("tbg_ban_strikes_allowlisted_total", "Strikes against allow-listed peers (never banned)", () => guardStats().allowlistedStrikesTotal);
    scalar("tbg_ip_bans_expired_total", "IP bans that ran out", () => guardStats().expiredTotal);
    const sendQueue = new Gauge({ name: "tbg_stratum_send_queue_bytes", aggregator: "first", help: "Bytes queued for sending across all Stratum connections", registers: reg, collect() {
      sendQueue.set(engine.status().sendQueueBytes);
    } });

    // ---- Work
    const templates = new Counter({ name: "tbg_templates_total", aggregator: "first", help: "Templates adopted, by reason", labelNames: ["reason"], registers: reg });
    for (const r of TEMPLATE_REASONS) templates.inc({ reason: r }, 0);
    const networkBlocks = new Counter({ name: "tbg_network_blocks_total", aggregator: "first", help: "New network tips seen, by how they were learnt", labelNames: ["source"], registers: reg });
    const fanout = new Histogram({ name: "tbg_notify_fanout_seconds", help: "Time to send one new job to every connection", buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: reg });
    const templateAge = new Gauge({ name: "tbg_template_age_seconds", aggregator: "first", help: "Seconds since the current template was fetched", registers: reg, collect() {
      const at = engine.status().lastTemplateAtMs;
      templateAge.set(at > 0 ? (engine.now() - at) / 1000 : 0);
    } });
    const templateHeight = new Gauge({ name: "tbg_template_height", aggregator: "first", help: "Height of the block being mined", registers: reg, collect() {
      templateHeight.set(engine.currentWork()?.height ?? 0);
    } });
    const nodesDown = new Counter({ name: "tbg_nodes_down_total", aggregator: "first", help: "Template fetches that failed on every node", registers: reg });
    const nodeUp = new Gauge({ name: "tbg_node_up", aggregator: "first", help: "1 when the node answers, by node", labelNames: ["node"], registers: reg, collect() {
      for (const n of engine.status().nodes) nodeUp.set({ node: n.name }, n.healthy ? 1 : 0);
    } });
    const nodeActive = new Gauge({ name: "tbg_node_active", aggregator: "first", help: "1 for the node templates come from", labelNames: ["node"], registers: reg, collect() {
      for (const n of engine.status().nodes) nodeActive.set({ node: n.name }, n.active ? 1 : 0);
    } });
    if (opts.zmqStatus) {
      const zmqStatus = opts.zmqStatus;
      const zmqUp = new Gauge({ name: "tbg_zmq_endpoint_up", help: "1 when the ZMQ endpoint is healthy, by endpoint", labelNames: ["endpoint"], registers: reg, collect() {
        for (const z of zmqStatus()) zmqUp.set({ endpoint: z.endpoint }, z.healthy ? 1 : 0);
      } });
      // The subscriber's own counters (src/core/bitcoind/zmq-tracker.ts), read at scrape time; fields it does not report are skipped.
      const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
      const zmqCounter = (name: string, help: string, field: string) => {
        const c: Counter = new Counter({ name, help, labelNames: ["endpoint"], registers: reg, collect() {
          c.reset();
          for (const z of zmqStatus()) {
            const v = num(z[field]);
            if (v !== null) c.inc({ endpoint: z.endpoint }, v);
          }
        } });
      };
      zmqCounter("tbg_zmq_notifications_total", "Valid hashblock notifications received, by endpoint", "messages");
      zmqCounter("tbg_zmq_first_total", "Blocks this endpoint announced before any other, by endpoint", "first");
      zmqCounter("tbg_zmq_reconnect_attempts_total", "ZMQ reconnection attempts, by endpoint", "reconnectAttempts");
      const zmqFailures = new Counter({ name: "tbg_zmq_failures_total", help: "ZMQ failures by endpoint and kind (disconnect, decode_error, sequence_gap)", labelNames: ["endpoint", "kind"], registers: reg, collect() {
        zmqFailures.reset();
        for (const z of zmqStatus()) {
          const f = (z.failures ?? {}) as Record<string, unknown>;
          for (const [kind, field] of [["disconnect", "disconnects"], ["decode_error", "decodeErrors"], ["sequence_gap", "sequenceGaps"]] as const) {
            const v = num(f[field]);
            if (v !== null) zmqFailures.inc({ endpoint: z.endpoint, kind }, v);
          }
        }
      } });
      const zmqLag = new Gauge({ name: "tbg_zmq_lag_behind_first_seconds", help: "Mean delay of an endpoint's notifications behind the first copy of the same block (0 when it was first)", labelNames: ["endpoint"], registers: reg, collect() {
        zmqLag.reset();
        for (const z of zmqStatus()) {
          const v = num(z.avgLagMs);
          if (v !== null) zmqLag.set({ endpoint: z.endpoint }, v / 1000);
        }
      } });
      const zmqLast = new Gauge({ name: "tbg_zmq_last_message_timestamp_seconds", help: "Unix time of the last notification from the endpoint (absent before the first)", labelNames: ["endpoint"], registers: reg, collect() {
        zmqLast.reset();
        for (const z of zmqStatus()) {
          const v = num(z.lastMessageAtMs);
          if (v !== null) zmqLast.set({ endpoint: z.endpoint }, v / 1000);
        }
      } });
    }

    // ---- Events (read from the publisher's own counters at scrape time)
    const publisher = opts.publisher ?? null;
    const emitted = new Counter({ name: "tbg_events_emitted_total", help: "Events handed to the sinks, by type", labelNames: ["type"], registers: reg, collect() {
      const s = publisher?.stats();
      emitted.reset();
      for (const t of ALL_EVENT_TYPES) emitted.inc({ type: t }, s?.emittedByType[t] ?? 0);
    } });
    const filtered = new Counter({ name: "tbg_events_filtered_total", help: "Events of types disabled by events.types", registers: reg, collect() {
      filtered.reset();
      filtered.inc(publisher?.stats().filtered ?? 0);
    } });
    const dropped = new Counter({ name: "tbg_events_dropped_total", help: "Events not delivered, by reason and sink (sink=\"publisher\": refused before any sink)", labelNames: ["reason", "sink"], registers: reg, collect() {
      dropped.reset();
      const s = publisher?.stats();
      if (!s) return;
      const bySinks = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<string, number>;
      for (const [name, sink] of Object.entries(s.sinks)) {
        for (const r of DROP_REASONS) {
          dropped.inc({ reason: r, sink: name }, sink.dropped[r]);
          bySinks[r] += sink.dropped[r];
        }
      }
      for (const r of DROP_REASONS) dropped.inc({ reason: r, sink: "publisher" }, Math.max(0, s.dropped[r] - bySinks[r]));
    } });
    const queued = new Gauge({ name: "tbg_events_queued", help: "Events held by sinks, not yet delivered", labelNames: ["sink"], registers: reg, collect() {
      queued.reset();
      for (const [name, sink] of Object.entries(publisher?.stats().sinks ?? {})) queued.set({ sink: name }, sink.queued);
    } });
    // Delivery confirmations of the socket sink (src/events/confirm.ts); sinks without them are skipped.
    const confirmOf = (sink: unknown) => (sink as { confirm?: { enabled: boolean; readerConfirms?: boolean; confirmed: number; resent: number; awaiting: number } }).confirm;
    const resent = new Counter({ name: "tbg_events_resent_total", help: "Events sent again because the socket's reader died with them (never confirmed)", labelNames: ["sink"], registers: reg, collect() {
      resent.reset();
      for (const [name, sink] of Object.entries(publisher?.stats().sinks ?? {})) {
        const c = confirmOf(sink);
        if (c?.enabled) resent.inc({ sink: name }, c.resent);
      }
    } });
    const awaiting = new Gauge({ name: "tbg_events_awaiting_confirmation", help: "Events sent to the socket's reader and not yet confirmed by it", labelNames: ["sink"], registers: reg, collect() {
      awaiting.reset();
      for (const [name, sink] of Object.entries(publisher?.stats().sinks ?? {})) {
        const c = confirmOf(sink);
        if (c?.enabled) awaiting.set({ sink: name }, c.awaiting);
      }
    } });
    const readerConfirms = new Gauge({ name: "tbg_events_reader_confirms", aggregator: "min", help: "1 while the socket's reader confirms delivery (tbg publisher), 0 when it does not (a collector, an old publisher, or the ack socket could not be bound); with workers, 0 when any process's events go unconfirmed", labelNames: ["sink"], registers: reg, collect() {
      readerConfirms.reset();
      for (const [name, sink] of Object.entries(publisher?.stats().sinks ?? {})) {
        const c = confirmOf(sink);
        if (c?.enabled) readerConfirms.set({ sink: name }, c.readerConfirms ? 1 : 0);
      }
    } });
    const sinkState = new Gauge({ name: "tbg_event_sink_state", aggregator: "max", help: "1 for each sink's current state (ready, congested, no_reader, idle, closed)", labelNames: ["sink", "state"], registers: reg, collect() {
      sinkState.reset();
      for (const [name, sink] of Object.entries(publisher?.stats().sinks ?? {})) sinkState.set({ sink: name, state: sink.state }, 1);
    } });

    // ---- Records
    const records = opts.records ?? null;
    if (records) {
      const users = new Gauge({ name: "tbg_records_users", help: "Users with a best-difficulty record in memory", registers: reg, collect() {
        users.set(records.size.users);
      } });
      const writeErrors = new Counter({ name: "tbg_records_write_errors_total", help: "Failed writes of the best-difficulty log (retried)", registers: reg, collect() {
        writeErrors.reset();
        writeErrors.inc(records.storeStats()?.writeErrors ?? 0);
      } });
    }

    // ---- Bus subscriptions (each listener: a counter increment, nothing else)
    const on = <K extends keyof EngineEventMap>(name: K, fn: (...args: EngineEventMap[K]) => void) => {
      const listener = (...args: EngineEventMap[K]) => {
        try {
          fn(...args);
        } catch {
          // Metrics must never break the mining path.
        }
      };
      // EventEmitter<T>'s overloads do not accept a generic key; the listener type is right by construction.
      const bus = engine.bus as unknown as EventEmitter;
      bus.on(name, listener as (...a: unknown[]) => void);
      this.offs.push(() => bus.off(name, listener as (...a: unknown[]) => void));
    };
    on("share", (e) => {
      this.shareRate.add(engine.now());
      const v = e.verdict;
      if (v.accepted) {
        acceptedChild.inc();
        acceptedDifficulty.inc(v.difficulty);
      } else (rejectedChildren.get(v.reason ?? "other") ?? rejectedChildren.get("other")!).inc();
    });
    on("blockSubmitting", () => blocksFound.inc());
    on("blockSuppressed", () => blocksSuppressed.inc());
    on("workerBlockUnassembled", () => workerBlocksUnassembled.inc());
    on("blockLateResult", ({ result: r }) => submitLatency.observe({ node: r.node, outcome: r.accepted ? "accepted" : "rejected" }, r.latencyMs / 1000));
    on("block", (b) => {
      (b.outcome === "accepted" ? blocksAccepted : b.outcome === "lost_race" ? blocksLostRace : blocksRejected).inc();
      this.lastBlockAtMs = engine.now();
      lastBlockTs.set(this.lastBlockAtMs / 1000);
      for (const r of b.results) submitLatency.observe({ node: r.node, outcome: r.accepted ? "accepted" : "rejected" }, r.latencyMs / 1000);
    });
    const role = opts.cluster?.role ?? null;
    this.workers = opts.cluster?.role === "primary" ? opts.cluster.workers : null;
    on("template", (e) => {
      // With workers, the primary counts templates and the workers time the fan-out (the primary sends none).
      if (role !== "worker") templates.inc({ reason: e.reason });
      if (role !== "primary") fanout.observe(e.fanoutMs / 1000);
    });
    on("newBlockNetwork", (e) => networkBlocks.inc({ source: tipSource(e.source) }));
    on("authorized", () => authorized.inc());
    on("disconnected", (e) => disconnects.inc({ reason: known(CLOSE_REASONS, e.reason) }));
    on("refused", (e) => refused.inc({ reason: known(REFUSE_REASONS, e.reason) }));
    on("protocolError", (e) => protocol.inc({ kind: known(PROTOCOL_KINDS, e.kind) }));
    on("rateLimited", () => rateLimited.inc());
    on("difficulty", (e) => diffChanges.inc({ reason: e.reason }));
    on("nodesDown", (e) => {
      if (!e.detect) nodesDown.inc(); // network detection retries every second: not a template fetch
    });
  }

  /** A block found elsewhere (a Stratum worker process's, reported to the primary) at `atMs`. */
  blockFoundAt(atMs: number): void {
    if (this.lastBlockAtMs !== null && atMs < this.lastBlockAtMs) return;
    this.lastBlockAtMs = atMs;
    this.lastBlockTs.set(atMs / 1000);
  }

  /** Prometheus text exposition of every metric. */
  async metrics(): Promise<string> {
    if (!this.workers) return this.registry.metrics();
    // The primary's own registry first: "first" gauges take its (merged) value.
    const all = [await this.registry.getMetricsAsJSON(), ...(await this.workers())];
    return AggregatorRegistry.aggregate(all).metrics();
  }

  /** Content-Type of {@link metrics}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stop listening to the bus. */
  close(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
