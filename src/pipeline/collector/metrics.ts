/**
 * The collector's Prometheus metrics (prom-client, a Registry of its own: `tbg dev` runs a collector
 * and a pool in one process). Counters mirror the components' own monotonic counters at scrape time
 * (the write path pays nothing); the two histograms are observed as batches commit.
 *
 * Names: `tbg_collector_*`, counters end in `_total`, durations in `_seconds`. Labels
 * come from fixed sets (input, malformed reason, outcome); never user addresses or event ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from "prom-client";
import type { CollectorStats } from "./collector.ts";
import { MALFORMED_REASONS, type MalformedReason } from "./malformed.ts";

/** Options of {@link CollectorMetrics}. */
export interface CollectorMetricsOptions {
  /** Read at scrape time. */
  stats: () => CollectorStats;
  region: string;
  /** Node.js process metrics. Default true. */
  defaultMetrics?: boolean;
}

type Input = "socket" | "nats";
const INPUTS: readonly Input[] = ["socket", "nats"];

/**
 * Feeds a Counter from a monotonic number: increments by the growth since the last scrape. (prom-client
 * counters cannot be set; a component restarting from 0 is not a case here: they live as long as we do.)
 */
class Mirror {
  private readonly last = new Map<Counter<string>, Map<string, number>>();
  set(counter: Counter<string>, labels: Record<string, string>, value: number): void {
    let seen = this.last.get(counter);
    if (!seen) this.last.set(counter, (seen = new Map()));
    const key = JSON.stringify(labels);
    const prev = seen.get(key) ?? 0;
    if (value > prev) {
      counter.inc(labels, value - prev);
      seen.set(key, value);
    }
  }
}

/** See the module comment. */
export class CollectorMetrics {
  readonly registry = new Registry();
  private readonly batchDuration: Histogram<"outcome">;
  private readonly lag: Histogram<string>;

  constructor(opts: CollectorMetricsOptions) {
    const reg = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const mirror = new Mirror();
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers: reg });

    // prom-client collects in registration order: this first gauge's collect() refreshes every
    // mirrored value from one stats() snapshot before the others are read.
    let uptime = 0;
    new Gauge({ name: "tbg_collector_uptime_seconds", help: "Seconds since the collector started", registers: reg, collect() {
      refresh();
      this.set(uptime);
    } });
    new Gauge({ name: "tbg_collector_info", help: "Constant 1, labelled with this collector's region", labelNames: ["region"], registers: reg }).set({ region: opts.region }, 1);

    const received = counter("tbg_collector_events_received_total", "Events received, valid or not, by input", ["input"]);
    const malformed = counter("tbg_collector_events_malformed_total", "Events refused by validation (never stored), by input and reason", ["input", "reason"]);
    const inputDropped = counter("tbg_collector_events_dropped_total", "Valid events lost because the queue was full or closing (socket input; NATS naks them instead)", ["input"]);
    const stored = counter("tbg_collector_events_stored_total", "Events newly committed to the database");
    const duplicates = counter("tbg_collector_events_duplicate_total", "Events already in the database (replays, redeliveries)");
    const rejected = counter("tbg_collector_events_rejected_total", "Valid events the database refused for their data (isolated, the rest of the batch committed)");
    const aborted = counter("tbg_collector_events_aborted_total", "Events not committed when close() ran out of time (NATS: redelivered later; socket: lost)");
    const abandoned = counter("tbg_collector_abandoned_writes_total", "Batch writes still hanging when close() gave up on them");
    const batches = counter("tbg_collector_batches_total", "Batches committed");
    const storeErrors = counter("tbg_collector_store_errors_total", "Failed batch writes (each retry counts)");
    for (const input of INPUTS) {
      received.inc({ input }, 0);
      inputDropped.inc({ input }, 0);
      for (const reason of MALFORMED_REASONS) malformed.inc({ input, reason }, 0);
    }
    const pending = new Gauge({ name: "tbg_collector_pending_events", help: "Events received and not yet committed", registers: reg });
    const lagGauge = new Gauge({ name: "tbg_collector_lag_seconds", help: "Commit time minus the oldest event timestamp of the last batch", registers: reg });
    const dbUp = new Gauge({ name: "tbg_collector_database_up", help: "1 when the database is open and the last write did not fail", registers: reg });
    const socketBound = new Gauge({ name: "tbg_collector_socket_bound", help: "1 while the datagram socket is bound (absent without a socket input)", registers: reg });
    const redisWritten = counter("tbg_collector_redis_written_total", "Stream entries Redis acknowledged");
    const redisDropped = counter("tbg_collector_redis_dropped_total", "Committed events never written to Redis (backlog overflow or shutdown)");
    const redisErrors = counter("tbg_collector_redis_errors_total", "Redis command and connection errors");
    const redisBacklog = new Gauge({ name: "tbg_collector_redis_backlog_events", help: "Committed events waiting to be written to Redis", registers: reg });
    const redisUp = new Gauge({ name: "tbg_collector_redis_up", help: "1 when the Redis client is connected", registers: reg });
    const natsUp = new Gauge({ name: "tbg_collector_nats_connected", help: "1 when connected to NATS", registers: reg });
    const natsAcks = counter("tbg_collector_nats_acks_total", "JetStream acknowledgements sent, by kind (ack after commit, term for malformed/rejected, nak for dropped/aborted)", ["kind"]);
    const natsAckPending = new Gauge({ name: "tbg_collector_nats_ack_pending", help: "Messages delivered to event-pipeline and not yet acked (server view)", registers: reg });
    const natsPending = new Gauge({ name: "tbg_collector_nats_pending_messages", help: "Messages in the stream not yet delivered to event-pipeline (consumer lag)", registers: reg });
    const natsRedelivered = new Gauge({ name: "tbg_collector_nats_redelivered_messages", help: "Messages delivered more than once and still unacked (server view)", registers: reg });
    const streamResets = counter("tbg_collector_nats_stream_resets_total", "Times the JetStream stream was found reset (re-created, or its last sequence below what was delivered)");
    const gapMessages = counter("tbg_collector_nats_sequence_gap_messages_total", "Stream messages skipped by a sequence gap: expired or removed before event-pipeline read them");
    const retentionDeleted = counter("tbg_collector_retention_deleted_rows_total", "Raw rows deleted by retention, by table", ["table"]);

    const refresh = () => {
      const s = opts.stats();
      uptime = s.uptimeSeconds;
      const b = s.batcher;
      mirror.set(received, { input: "socket" }, s.socket?.received ?? 0);
      mirror.set(received, { input: "nats" }, s.nats?.received ?? 0);
      for (const reason of MALFORMED_REASONS) {
        mirror.set(malformed, { input: "socket", reason }, s.socket?.malformed[reason as MalformedReason] ?? 0);
        mirror.set(malformed, { input: "nats", reason }, s.nats?.malformed[reason as MalformedReason] ?? 0);
      }
      mirror.set(inputDropped, { input: "socket" }, s.socket?.dropped ?? 0);
      mirror.set(stored, {}, b.stored);
      mirror.set(duplicates, {}, b.duplicates);
      mirror.set(rejected, {}, b.rejected);
      mirror.set(aborted, {}, b.aborted);
      mirror.set(abandoned, {}, b.abandonedWrites);
      mirror.set(batches, {}, b.batches);
      mirror.set(storeErrors, {}, b.storeErrors);
      pending.set(b.pending);
      lagGauge.set(b.lagMs / 1000);
      dbUp.set(s.database.open && !s.database.failing ? 1 : 0);
      if (s.socket) socketBound.set(s.socket.bound ? 1 : 0);
      if (s.redis) {
        mirror.set(redisWritten, {}, s.redis.written);
        mirror.set(redisDropped, {}, s.redis.dropped);
        mirror.set(redisErrors, {}, s.redis.errors);
        redisBacklog.set(s.redis.backlog);
        redisUp.set(s.redis.connected ? 1 : 0);
      }
      if (s.nats) {
        natsUp.set(s.nats.connected ? 1 : 0);
        mirror.set(natsAcks, { kind: "ack" }, s.nats.acked);
        mirror.set(natsAcks, { kind: "term" }, s.nats.termed);
        mirror.set(natsAcks, { kind: "nak" }, s.nats.naked);
        natsAckPending.set(s.nats.server?.ackPending ?? s.nats.inFlight);
        natsPending.set(s.nats.server?.pending ?? 0);
        natsRedelivered.set(s.nats.server?.redelivered ?? 0);
        mirror.set(streamResets, {}, s.nats.streamResets);
        mirror.set(gapMessages, {}, s.nats.missedMessages);
      }
      mirror.set(retentionDeleted, { table: "shares" }, s.retention.deletedShares);
      mirror.set(retentionDeleted, { table: "event_log" }, s.retention.deletedEvents);
    };
    this.batchDuration = new Histogram({
      name: "tbg_collector_batch_duration_seconds",
      help: "Time of one batch write (one transaction), by outcome",
      labelNames: ["outcome"],
      // 1 ms … ~8 s (suits ~1 s batch flushes).
      buckets: exponentialBuckets(0.001, 2, 14),
      registers: reg,
    });
    this.lag = new Histogram({
      name: "tbg_collector_commit_lag_seconds",
      help: "Per batch: commit time minus the oldest event's timestamp (engine → database latency)",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: reg,
    });
  }

  /** One `writeBatch` took `seconds`. */
  observeBatch(seconds: number, outcome: "ok" | "error"): void {
    this.batchDuration.observe({ outcome }, seconds);
  }

  /** A batch committed `seconds` after its oldest event happened. */
  observeLag(seconds: number): void {
    this.lag.observe(seconds);
  }

  /** Prometheus text exposition. */
  async metrics(): Promise<string> {
    return await this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
