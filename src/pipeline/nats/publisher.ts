/**
 * `tbg publisher`: the relay-side bridge from the engine's Unix datagram event socket to NATS
 * JetStream. Receive → validate → append to the spool (before anything else) → forward to
 * `mining.events.{region}.{event_type}` with `Nats-Msg-Id` = event_id. While NATS is unreachable
 * events pile up in the spool and go out in order once it is back; a restart resumes from the spool.
 *
 * Every datagram from an engine whose socket is bound (its ack path) is confirmed back to it once it
 * is in the spool file (malformed and refused ones at once: they are counted here), so an engine resends
 * what a killed publisher took with it (src/events/confirm.ts).
 *
 * Stream resets: the spool keeps acknowledged records for a retention window. The stream's identity
 * (creation time, highest acknowledged sequence) is kept in `stream.json` in the spool directory; when the
 * stream is found re-created after a (re)connect, or a PubAck's sequence goes backwards, JetStream lost
 * what it had acknowledged (e.g. nats-server restarted with an empty store before the collector read it),
 * so the retained records are published again. `Nats-Msg-Id` and the database's event_id key drop repeats.
 *
 * Composition only; the parts are DgramReader (src/events), Spool, NatsLink and Forwarder.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StreamInfo } from "@nats-io/jetstream";
import { eventIdOf, ReaderConfirmer, type ConfirmTicket, type ReaderConfirmerStats } from "../events/confirm.ts";
import { DgramReader, type ReaderMessage } from "../events/dgram-reader.ts";
import { validateEvent } from "../events/schemas.ts";
import { Forwarder, type ForwarderStats } from "./forwarder.ts";
import { MINING_EVENTS_STREAM, type EventStreamOptions } from "./jetstream.ts";
import { NatsLink, type NatsAuth, type NatsLinkStats } from "./nats-link.ts";
import { Spool, type SpoolOptions, type SpoolStats } from "./spool.ts";

/** Options of {@link JetStreamPublisher}; defaults per field. */
export interface JetStreamPublisherOptions {
  /** Datagram socket to bind (the engine's `events.socket`). Omit to feed events only via `ingest()`. */
  socketPath?: string;
  /** chmod of the socket file, e.g. 0o660. */
  socketMode?: number;
  /** NATS server URL(s), comma-separated. */
  natsUrl: string;
  /** Region for the subject. */
  region: string;
  /** Spool directory (created if missing). */
  spoolDir: string;
  /** Spool tuning (fsync policy, size caps); see {@link SpoolOptions}. */
  spool?: Omit<SpoolOptions, "dir">;
  /** Stream settings; see {@link EventStreamOptions}. */
  stream?: EventStreamOptions;
  /** Records in flight to JetStream. Default 256. */
  window?: number;
  /** PubAck wait, ms. Default 5 000. */
  publishTimeoutMs?: number;
  /** NATS reconnect wait, ms. Default 1 000. */
  reconnectTimeWaitMs?: number;
  /** Errors worth logging (NATS, publish, malformed events). */
  onError?: (err: Error, context: string) => void;
  /** NATS credentials, when the server requires them. */
  auth?: NatsAuth;
  /** The stream was found reset and the retained spool is being published again (for logging at warn). */
  onStreamReset?: (reason: string) => void;
  /** NATS became usable (connected, stream in place) or stopped being usable. */
  onNatsReady?: (ready: boolean) => void;
}

/** Counters of a {@link JetStreamPublisher}. */
export interface JetStreamPublisherStats {
  /** Events received (socket + ingest), valid or not. */
  received: number;
  /** Refused by validation (not spooled). */
  malformed: number;
  /** Valid events the spool refused (full). */
  spoolDropped: number;
  /** Delivery confirmations sent back to the engine. */
  confirms: ReaderConfirmerStats;
  spool: SpoolStats;
  forwarder: ForwarderStats;
  nats: NatsLinkStats;
  /** Stream resets seen (each replays the retained spool), and the last one. */
  streamResets: number;
  lastStreamReset: { atMs: number; reason: string } | null;
}

/** What the publisher remembers of the stream, to notice it was reset. */
interface StreamIdentity {
  created: string;
  lastSeq: number;
}

const STREAM_FILE = "stream.json";

/** See the module comment. */
export class JetStreamPublisher {
  private spool: Spool | undefined;
  private reader: DgramReader | undefined;
  private forwarder: Forwarder | undefined;
  private readonly link: NatsLink;
  private readonly s = { received: 0, malformed: 0, spoolDropped: 0 };
  private readonly confirmer = new ReaderConfirmer();
  /** One entry per record appended and not yet written, in append order (null: nobody to confirm to). */
  private unwritten: Array<ConfirmTicket | null> = [];
  private unwrittenHead = 0;
  private identity: StreamIdentity | undefined;
  private savedIdentity = "";
  private identityTimer: NodeJS.Timeout | undefined;
  private streamResets = 0;
  private lastStreamReset: JetStreamPublisherStats["lastStreamReset"] = null;

  constructor(private readonly o: JetStreamPublisherOptions) {
    this.link = new NatsLink({
      url: o.natsUrl, stream: o.stream, reconnectTimeWaitMs: o.reconnectTimeWaitMs, auth: o.auth,
      onError: (err) => o.onError?.(err, "nats"),
      onStream: (info) => this.onStream(info),
      onReadyChange: (ready) => o.onNatsReady?.(ready),
    });
  }

  /** Opens the spool (replaying what an earlier run left), binds the socket, starts forwarding. */
  async start(): Promise<void> {
    this.spool = await Spool.open({ ...this.o.spool, dir: this.o.spoolDir });
    this.spool.onWritten((n) => this.written(n));
    this.forwarder = new Forwarder({
      spool: this.spool, link: this.link, region: this.o.region, window: this.o.window,
      publishTimeoutMs: this.o.publishTimeoutMs, onError: (err) => this.o.onError?.(err, "publish"),
      onSequenceBackwards: (seq, previous) => this.streamReset(`a PubAck carried stream sequence ${seq} after ${previous}`),
    });
    this.identity = await readIdentity(join(this.o.spoolDir, STREAM_FILE));
    this.savedIdentity = JSON.stringify(this.identity ?? null);
    if (this.identity) this.forwarder.resetSequence(this.identity.lastSeq);
    this.identityTimer = setInterval(() => void this.saveIdentity().catch(() => undefined), 1_000);
    this.identityTimer.unref();
    this.link.start();
    this.forwarder.start();
    if (this.o.socketPath) {
      this.reader = new DgramReader({ socketPath: this.o.socketPath, mode: this.o.socketMode, onMessage: (m) => this.onMessage(m) });
      await this.reader.start();
    }
  }

  /** After each (re)connect: the stream re-created, or its last sequence below what we had acknowledged, is a reset. */
  private onStream(info: StreamInfo): void {
    const known = this.identity;
    const ackedSeq = Math.max(known?.lastSeq ?? 0, this.forwarder?.stats().lastSeq ?? 0);
    if (known && known.created !== info.created) this.streamReset(`stream ${MINING_EVENTS_STREAM} re-created (was created ${known.created}, now ${info.created})`);
    else if (known && info.state.last_seq < ackedSeq) this.streamReset(`stream ${MINING_EVENTS_STREAM} last sequence ${info.state.last_seq} is below the ${ackedSeq} already acknowledged`);
    const lastSeq = known && known.created === info.created ? Math.max(ackedSeq, info.state.last_seq) : info.state.last_seq;
    this.identity = { created: info.created, lastSeq };
    this.forwarder?.resetSequence(lastSeq);
  }

  private streamReset(reason: string): void {
    this.streamResets++;
    this.lastStreamReset = { atMs: Date.now(), reason };
    this.forwarder?.requestReplay();
    this.o.onStreamReset?.(reason);
  }

  private async saveIdentity(): Promise<void> {
    if (!this.identity) return;
    const id: StreamIdentity = { created: this.identity.created, lastSeq: Math.max(this.identity.lastSeq, this.forwarder?.stats().lastSeq ?? 0) };
    const text = JSON.stringify(id);
    if (text === this.savedIdentity) return;
    const path = join(this.o.spoolDir, STREAM_FILE);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
    this.savedIdentity = text;
  }

  /** Feeds one raw event (bytes as the engine sends them). Returns whether it was spooled. */
  ingest(raw: Buffer): boolean {
    const v = validateEvent(raw);
    return this.onMessage(v.ok ? { ok: true, event: v.event, raw } : { ok: false, error: v.error, raw });
  }

  private onMessage(m: ReaderMessage): boolean {
    this.s.received++;
    const id = m.ok ? m.event.event_id : eventIdOf(m.raw);
    const ticket = id ? this.confirmer.track(m.sender, id) : null;
    if (!m.ok) {
      this.s.malformed++;
      this.o.onError?.(new Error(`malformed event: ${m.error}`), "malformed");
      this.confirmer.done(ticket); // counted here: resending it would not help
      return false;
    }
    // A found block must never be dropped for lack of spool space.
    const ok = this.spool!.append(m.raw, { critical: m.event.event === "block_found" });
    if (!ok) {
      this.s.spoolDropped++;
      this.confirmer.done(ticket);
      return false;
    }
    this.unwritten.push(ticket);
    return true;
  }

  /** The next `n` appended records reached the spool file: confirm them. */
  private written(n: number): void {
    const end = Math.min(this.unwritten.length, this.unwrittenHead + n);
    for (; this.unwrittenHead < end; this.unwrittenHead++) this.confirmer.done(this.unwritten[this.unwrittenHead]);
    if (this.unwrittenHead > 4096 && this.unwrittenHead * 2 > this.unwritten.length) {
      this.unwritten = this.unwritten.slice(this.unwrittenHead);
      this.unwrittenHead = 0;
    }
  }

  stats(): JetStreamPublisherStats {
    return {
      ...this.s,
      confirms: this.confirmer.stats(),
      spool: this.spool?.stats() ?? { appended: 0, dropped: 0, unacked: 0, bytes: 0, segments: 0, corrupt: 0, ioErrors: 0, retainedBytes: 0, replays: 0, replayed: 0 },
      forwarder: this.forwarder?.stats() ?? { published: 0, duplicates: 0, failedRounds: 0, undecodable: 0, lastSeq: 0 },
      nats: this.link.stats(),
      streamResets: this.streamResets,
      lastStreamReset: this.lastStreamReset,
    };
  }

  /** True when everything spooled has been acknowledged by JetStream. */
  get drained(): boolean {
    return (this.spool?.stats().unacked ?? 0) === 0;
  }

  /** Stop receiving, finish the publish round in flight, save the spool cursor, disconnect. */
  async close(): Promise<void> {
    try {
      await this.reader?.close();
      await this.forwarder?.close();
      await this.spool?.close();
      await this.confirmer.close();
      clearInterval(this.identityTimer);
      await this.saveIdentity().catch(() => undefined);
    } finally {
      await this.link.close();
    }
  }
}

async function readIdentity(path: string): Promise<StreamIdentity | undefined> {
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as Partial<StreamIdentity>;
    return typeof v.created === "string" && Number.isInteger(v.lastSeq) ? { created: v.created, lastSeq: v.lastSeq! } : undefined;
  } catch {
    return undefined; // first run, or unreadable: nothing to compare with
  }
}
