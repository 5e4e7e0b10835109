/**
 * The collector's JetStream input: the durable pull consumer
 * `event-pipeline` on stream `MINING_EVENTS`, with explicit acks sent only after the database commit.
 *
 * Per message, by the batcher's outcome:
 * - `stored` / `duplicate` → `ack()`: the event is in the database (a redelivery is a duplicate);
 * - `malformed` / `rejected` → `term()`: redelivering it can never succeed, and it must not block the rest;
 * - `dropped` / `aborted` → `nak(nakDelayMs)`: queue full or shutting down; the server redelivers it.
 *
 * While a batch is held up (the database down, retrying), the messages waiting on it get `working()`
 * every `ackWaitMs / 3`, so the server does not redeliver what is merely delayed. A collector that
 * dies (SIGKILL) acks nothing for its in-flight batch: the server redelivers after `ack_wait`, and the
 * database's conflict keys turn what was already committed into duplicates — nothing lost, nothing doubled.
 *
 * The connection reconnects forever; the consume loop recovers from a deleted consumer or stream by
 * re-creating them. nats.js 3.x `consume()` would otherwise keep re-pulling a deleted consumer forever
 * (waiting for someone else to restore it), so it runs with `abort_on_missing_resource`, and its
 * `consumer_deleted` / `consumer_not_found` / `stream_not_found` notifications and a failing periodic
 * consumer-info check close it too; until `setUp()` has re-created the durable, `consuming` is false
 * (so /health says 503). Shutdown is two-phase because acks flow after the last commit: `stop()` stops
 * pulling, then (after the batcher has closed and every outcome is known) `close()` flushes and disconnects.
 *
 * Loss detection. Messages not yet read can vanish from JetStream: the stream re-created (deleted, or
 * nats-server restarted with an empty store), or messages aged out / purged before this durable got them.
 * The input remembers the stream's creation time and the last stream sequence delivered, and reports
 * (`onStreamIssue`, counters, `lastStreamIssue`): a **reset** when the stream's creation time changed or
 * its last sequence went below what was delivered, a **gap** when a first delivery skips sequences (the skipped
 * count is what never reached the database through this durable). tbg publisher replays its retained spool
 * into a reset stream, so a reset is only a loss when events were older than its retention.
 * While NATS is unreachable it reports that too, every `outageWarnMs`.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JsMsg, type StreamInfo,
} from "@nats-io/jetstream";
import { ensureDurableConsumer, ensureEventStream, MINING_EVENTS_STREAM } from "../nats/jetstream.ts";
import { natsConnectionOptions, natsSecrets, redactNatsText, type NatsAuth } from "../events/nats-options.ts";
import { sleep } from "../nats/nats-link.ts";
import type { Batcher, EventOutcome } from "../storage/batcher.ts";
import { TbgError } from "../../util/errors.ts";
import { emptyMalformedCounts, malformedReason, type MalformedReason } from "./malformed.ts";
import { withTimeout } from "../../util/async.ts";

/** Defaults of {@link JetStreamInputOptions}, each with its reason. */
export const JETSTREAM_INPUT_DEFAULTS = {
  /** The collector's durable; the game engine reads its own, `game-engine`. */
  durable: "event-pipeline",
  /** Server redelivers an unacked message after this long. Held-up batches are kept alive with `working()`. */
  ackWaitMs: 30_000,
  /** Unacked messages the server hands out; ≥ 2 × (peak rate × flush interval) so batching never starves. */
  maxAckPending: 20_000,
  /** Messages per pull request (the client keeps its buffer topped up). */
  pullBatch: 1_000,
  /** Redelivery delay after a `dropped`/`aborted` outcome. */
  nakDelayMs: 5_000,
  /** Wait between reconnect attempts. */
  reconnectTimeWaitMs: 1_000,
  /** How often consumer info (ack pending, pending, redelivered) is refreshed for /metrics. */
  infoIntervalMs: 5_000,
  /** While disconnected, report the outage this often. */
  outageWarnMs: 10_000,
} as const;

/** Options of {@link JetStreamInput}. */
export interface JetStreamInputOptions {
  /** NATS server URL(s), comma-separated. */
  url: string;
  /** Credentials and TLS files, when the server requires them (the same options as the engine's and the publisher's). */
  auth?: NatsAuth;
  batcher: Batcher;
  durable?: string;
  ackWaitMs?: number;
  maxAckPending?: number;
  pullBatch?: number;
  nakDelayMs?: number;
  reconnectTimeWaitMs?: number;
  infoIntervalMs?: number;
  outageWarnMs?: number;
  /** The stream was reset or a sequence gap was seen (see the module comment); for logging at warn. */
  onStreamIssue?: (issue: StreamIssue) => void;
  /** A message failed validation (for rate-limited logging). */
  onMalformed?: (reason: MalformedReason, error: string) => void;
  /** Connection, setup and consume errors (for rate-limited logging). */
  onError?: (err: Error) => void;
}

/** The consumer or its stream disappeared under a running consume (deleted by an operator, say); it is re-created. */
export class ConsumerLostError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_CONSUMER_LOST", message, options);
  }
}

/** Consume notifications that mean the durable is gone and will not come back by itself. */
const LOST_NOTIFICATIONS = new Set(["consumer_deleted", "consumer_not_found", "stream_not_found"]);

/** A stream reset or sequence gap, as reported. */
export interface StreamIssue {
  kind: "reset" | "gap";
  detail: string;
  /** For a gap: messages skipped. */
  missed: number;
  atMs: number;
}

/** Counters of a {@link JetStreamInput}. */
export interface JetStreamInputStats {
  durable: string;
  /** Connected to a server. */
  connected: boolean;
  /** Stream and consumer in place, messages being pulled. */
  consuming: boolean;
  /** Messages received (including redeliveries). */
  received: number;
  /** Malformed messages by reason (each terminated). */
  malformed: Record<MalformedReason, number>;
  /** Acks, terms and naks sent. */
  acked: number;
  termed: number;
  naked: number;
  /** Messages handed to the batcher whose outcome is not known yet. */
  inFlight: number;
  /** Server view of the consumer (refreshed every `infoIntervalMs`; null before the first answer). */
  server: { ackPending: number; pending: number; redelivered: number } | null;
  /** Connection and consume errors. */
  errors: number;
  lastError: string | null;
  /** Stream resets seen; sequence gaps seen and the messages they skipped. */
  streamResets: number;
  sequenceGaps: number;
  missedMessages: number;
  lastStreamIssue: (StreamIssue & { ageSeconds: number }) | null;
  /** Highest stream sequence delivered for the first time (0 before any). */
  lastStreamSeq: number;
  /** Since when NATS is unreachable (ms since the epoch), null while connected. */
  disconnectedSinceMs: number | null;
}

/** See the module comment. */
export class JetStreamInput {
  private readonly o: Required<Omit<JetStreamInputOptions, "onMalformed" | "onError" | "onStreamIssue" | "auth">> & JetStreamInputOptions;
  private nc: NatsConnection | undefined;
  /** Skipped stream sequences [from, to] waiting to be checked against the stream. */
  private skips: Array<[number, number]> = [];
  private gapCheck: NodeJS.Timeout | undefined;
  private lastGapCheckMs = 0;
  private consumer: Consumer | undefined;
  private msgs: ConsumerMessages | undefined;
  /** Why the current consume was closed from outside its loop (a missing consumer or stream). */
  private lost: ConsumerLostError | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private connected = false;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<JsMsg>();
  private workingTimer: NodeJS.Timeout | undefined;
  private infoTimer: NodeJS.Timeout | undefined;
  private readonly s = { received: 0, acked: 0, termed: 0, naked: 0, errors: 0 };
  private readonly malformed = emptyMalformedCounts();
  private server: JetStreamInputStats["server"] = null;
  private lastError: string | null = null;
  private streamCreated: string | undefined;
  private lastStreamSeq = 0;
  private readonly issues = { streamResets: 0, sequenceGaps: 0, missedMessages: 0 };
  private lastStreamIssue: StreamIssue | null = null;
  private disconnectedSinceMs: number | null = null;
  private outageTimer: NodeJS.Timeout | undefined;

  constructor(opts: JetStreamInputOptions) {
    this.o = { ...JETSTREAM_INPUT_DEFAULTS, ...opts };
    natsConnectionOptions({ url: this.o.url, name: "tbg-collector", auth: this.o.auth }); // a bad creds/TLS option fails now, not per retry
  }

  /** Starts connecting and consuming in the background; resolves at once (NATS down at start is fine). */
  start(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.run();
    this.workingTimer = setInterval(() => this.keepAlive(), Math.max(250, Math.floor(this.o.ackWaitMs / 3)));
    this.workingTimer.unref();
    this.infoTimer = setInterval(() => void this.refreshInfo(), this.o.infoIntervalMs);
    this.infoTimer.unref();
    this.disconnectedSinceMs = Date.now(); // until the first connect
    this.outageTimer = setInterval(() => this.warnOutage(), this.o.outageWarnMs);
    this.outageTimer.unref();
  }

  private warnOutage(): void {
    if (this.disconnectedSinceMs === null || this.stopping) return;
    const s = Math.round((Date.now() - this.disconnectedSinceMs) / 1000);
    this.note(new Error(`NATS unreachable for ${s} s (${this.o.url}); events wait in JetStream or the publishers' spools`));
  }

  private streamIssue(kind: StreamIssue["kind"], detail: string, missed = 0): void {
    const issue: StreamIssue = { kind, detail, missed, atMs: Date.now() };
    if (kind === "reset") this.issues.streamResets++;
    else {
      this.issues.sequenceGaps++;
      this.issues.missedMessages += missed;
    }
    this.lastStreamIssue = issue;
    this.o.onStreamIssue?.(issue);
  }

  /** Resolves once messages are being pulled (or after `timeoutMs`); returns whether they are. */
  async whenConsuming(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // Bounded by the deadline.
    while (!this.msgs && Date.now() < deadline && !this.stopping) await sleep(20, this.abort.signal);
    return this.msgs !== undefined;
  }

  /** Phase 1 of shutdown: stop pulling. Messages already handed to the batcher still get their ack/nak. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    await this.msgs?.close().catch(() => undefined);
  }

  /** Phase 2 (after the batcher closed): send the last acks/naks, disconnect. */
  async close(): Promise<void> {
    await this.stop();
    clearInterval(this.workingTimer);
    clearInterval(this.infoTimer);
    clearInterval(this.outageTimer);
    clearTimeout(this.gapCheck);
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // Acks are fire-and-forget publishes: flush makes sure they left before we hang up.
      await withTimeout(nc.flush(), 2_000).catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
    await this.loop;
  }

  stats(): JetStreamInputStats {
    return {
      durable: this.o.durable,
      connected: this.connected,
      consuming: this.msgs !== undefined,
      ...this.s,
      malformed: { ...this.malformed },
      inFlight: this.inFlight.size,
      server: this.server,
      lastError: this.lastError,
      ...this.issues,
      lastStreamIssue: this.lastStreamIssue ? { ...this.lastStreamIssue, ageSeconds: Math.max(0, (Date.now() - this.lastStreamIssue.atMs) / 1000) } : null,
      lastStreamSeq: this.lastStreamSeq,
      disconnectedSinceMs: this.disconnectedSinceMs,
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  private note(err: unknown): void {
    // Error texts may quote the server URL: its token or password never reach a log line or /health.
    const text = redactNatsText(err instanceof Error ? err.message : String(err), natsSecrets(this.o.url, this.o.auth));
    const e = new Error(text, { cause: err });
    this.s.errors++;
    this.lastError = e.message;
    this.o.onError?.(e);
  }

  /** Connect (retrying with backoff), consume until the connection closes; repeat until stop(). */
  private async run(): Promise<void> {
    let delay = 100;
    while (!this.stopping) {
      let nc: NatsConnection;
      try {
        nc = await connect(natsConnectionOptions({ url: this.o.url, name: "tbg-collector", auth: this.o.auth, reconnectTimeWaitMs: this.o.reconnectTimeWaitMs }));
      } catch (err) {
        this.note(err);
        await sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, 2_000);
        continue;
      }
      delay = 100;
      this.nc = nc;
      this.connected = true;
      this.disconnectedSinceMs = null;
      void this.watchStatus(nc);
      await this.consumeWhileConnected(nc);
      if (this.stopping) return; // keep the connection: close() sends the last acks on it
      this.connected = false;
      this.disconnectedSinceMs ??= Date.now();
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.disconnectedSinceMs ??= Date.now();
        if (!this.stopping) this.note(new Error(`NATS connection lost (${this.o.url}); reconnecting`));
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.disconnectedSinceMs = null;
      }
    }
  }

  private async consumeWhileConnected(nc: NatsConnection): Promise<void> {
    let delay = 100;
    // Bounded by the connection's life and stop().
    while (!this.stopping && !nc.isClosed()) {
      this.lost = undefined;
      try {
        await this.setUp(nc);
        const consumer = await jetstream(nc).consumers.get(MINING_EVENTS_STREAM, this.o.durable);
        this.consumer = consumer;
        // Without abort_on_missing_resource, consume() re-pulls a deleted consumer forever.
        const msgs = await consumer.consume({ max_messages: this.o.pullBatch, abort_on_missing_resource: true });
        if (this.stopping) {
          await msgs.close().catch(() => undefined);
          return;
        }
        this.msgs = msgs;
        delay = 100;
        void this.watchConsume(msgs);
        void this.refreshInfo();
        for await (const m of msgs) this.onMessage(m);
        // Ended without an error: closed by stop(), by the connection closing, or by lose().
        if (this.lost) throw this.lost;
      } catch (err) {
        // Not consuming from here on (before the error is reported, so /health agrees with the log).
        this.msgs = undefined;
        this.consumer = undefined;
        if (!this.stopping) this.note(err);
      } finally {
        this.msgs = undefined;
      }
      if (this.stopping) return;
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, 2_000);
    }
  }

  /**
   * The stream is normally created by `tbg publisher` (with its operator's size limit): create it only
   * when it is missing, never "correct" an existing one. Then create/update our durable.
   */
  private async setUp(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc);
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(MINING_EVENTS_STREAM);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
      info = await ensureEventStream(nc);
    }
    this.checkStream(info);
    await ensureDurableConsumer(nc, { name: this.o.durable, ackWaitMs: this.o.ackWaitMs, maxAckPending: this.o.maxAckPending });
  }

  /** The stream as found at (re)setup: re-created, or its last sequence below what we were delivered, is a reset. */
  private checkStream(info: StreamInfo): void {
    const known = this.streamCreated;
    if (known !== undefined && known !== info.created) {
      this.streamIssue("reset", `stream ${MINING_EVENTS_STREAM} re-created (was created ${known}, now ${info.created}): messages not yet consumed from the old one are gone unless a publisher replays them`);
      this.lastStreamSeq = 0;
    } else if (known !== undefined && info.state.last_seq < this.lastStreamSeq) {
      this.streamIssue("reset", `stream ${MINING_EVENTS_STREAM} last sequence ${info.state.last_seq} is below ${this.lastStreamSeq} already delivered`);
      this.lastStreamSeq = 0;
    }
    this.streamCreated = info.created;
  }

  /**
   * First deliveries come in stream order, but a skip is only a gap when the skipped messages are
   * really gone: several collectors on one durable each see every other message. Skips are checked
   * against the stream (first sequence, deleted sequences) at most once a second.
   */
  private checkSequence(m: JsMsg): void {
    if (m.info.redelivered) return;
    const seq = m.info.streamSequence;
    const last = this.lastStreamSeq;
    if (last > 0 && seq > last + 1) {
      if (this.skips.length < 10_000) this.skips.push([last + 1, seq - 1]);
      else this.skips[this.skips.length - 1][1] = seq - 1; // bounded: widen the last range
      this.scheduleGapCheck();
    }
    // A step back is a re-created durable starting over (a re-created stream is caught by checkStream).
    this.lastStreamSeq = seq;
  }

  private scheduleGapCheck(): void {
    if (this.gapCheck) return;
    const wait = Math.max(0, this.lastGapCheckMs + 1_000 - Date.now());
    this.gapCheck = setTimeout(() => void this.checkGaps().finally(() => {
      this.gapCheck = undefined;
      this.lastGapCheckMs = Date.now();
      if (this.skips.length > 0 && !this.stopping) this.scheduleGapCheck();
    }), wait);
    this.gapCheck.unref();
  }

  /** Counts the skipped sequences no longer in the stream (expired, removed) and reports them as one gap. */
  private async checkGaps(): Promise<void> {
    const nc = this.nc;
    const ranges = this.skips.splice(0);
    if (!nc || ranges.length === 0) return;
    let state: StreamInfo["state"];
    try {
      state = (await (await jetstreamManager(nc)).streams.info(MINING_EVENTS_STREAM, { deleted_details: true })).state;
    } catch {
      return; // stream gone or NATS down: checkStream reports a reset at the next setup
    }
    const deleted = state.deleted ?? [];
    let missed = 0;
    let from = 0;
    let to = 0;
    for (const [lo, hi] of ranges) {
      let gone = Math.max(0, Math.min(hi, state.first_seq - 1) - lo + 1);
      for (const d of deleted) if (d >= lo && d <= hi && d >= state.first_seq) gone++;
      if (gone === 0) continue;
      missed += gone;
      if (from === 0) from = lo;
      to = hi;
    }
    if (missed > 0) {
      this.streamIssue("gap", `stream ${MINING_EVENTS_STREAM} sequences ${from}..${to} skipped: ${missed} message(s) expired or were removed before ${this.o.durable} read them`, missed);
    }
  }

  /** Closes the consume on a notification that the durable or stream is gone. */
  private async watchConsume(msgs: ConsumerMessages): Promise<void> {
    // Ends when msgs is closed or stopped.
    for await (const n of msgs.status()) {
      if (LOST_NOTIFICATIONS.has(n.type)) {
        this.lose(msgs, `JetStream ${n.type} (${MINING_EVENTS_STREAM}/${this.o.durable})`);
        return;
      }
    }
  }

  /** Marks the current consume lost and closes it: the consume loop re-runs setUp(). */
  private lose(msgs: ConsumerMessages, why: string, cause?: unknown): void {
    if (this.msgs !== msgs || this.stopping) return;
    this.lost ??= new ConsumerLostError(why, { cause });
    this.msgs = undefined;
    void msgs.close().catch(() => undefined);
  }

  private onMessage(m: JsMsg): void {
    this.s.received++;
    this.checkSequence(m);
    if (this.stopping) {
      this.settle(m, "aborted");
      return;
    }
    this.inFlight.add(m);
    const done = (outcome: EventOutcome, detail?: string) => {
      this.inFlight.delete(m);
      if (outcome === "malformed") {
        const reason = malformedReason(detail ?? "");
        this.malformed[reason]++;
        this.o.onMalformed?.(reason, detail ?? "");
      }
      this.settle(m, outcome);
    };
    try {
      this.o.batcher.pushRaw(m.data, done);
    } catch (err) {
      // A bug or a hostile message must cost that message (termed as malformed), never the consumer.
      if (this.inFlight.has(m)) done("malformed", `cannot process: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private settle(m: JsMsg, outcome: EventOutcome): void {
    try {
      if (outcome === "stored" || outcome === "duplicate") {
        m.ack();
        this.s.acked++;
      } else if (outcome === "malformed" || outcome === "rejected") {
        // No reason text: nats-server 2.9 (Debian's) matches "+TERM" exactly and silently ignores
        // "+TERM <reason>" (reasons came in 2.10), which would leave the message pending forever.
        m.term();
        this.s.termed++;
      } else {
        m.nak(this.o.nakDelayMs);
        this.s.naked++;
      }
    } catch (err) {
      // Connection gone: the server redelivers after ack_wait; the database de-duplicates.
      this.note(err);
    }
  }

  /** Extends the ack deadline of messages waiting on a held-up batch. */
  private keepAlive(): void {
    if (!this.connected) return;
    for (const m of this.inFlight) {
      try {
        m.working();
      } catch {
        return; // disconnected meanwhile
      }
    }
  }

  /** Also the backstop for a consume that missed the consumer's deletion: a definite "not found" closes it. */
  private async refreshInfo(): Promise<void> {
    const c = this.consumer;
    const msgs = this.msgs;
    if (!c || !this.connected) return;
    try {
      const info = await c.info();
      this.server = { ackPending: info.num_ack_pending, pending: info.num_pending, redelivered: info.num_redelivered };
    } catch (err) {
      const missing = err instanceof JetStreamApiError &&
        (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound);
      if (missing && msgs) this.lose(msgs, `JetStream consumer info: ${err.message}`, err);
      // Anything else is transient (reconnecting); the next tick tries again.
    }
  }
}
