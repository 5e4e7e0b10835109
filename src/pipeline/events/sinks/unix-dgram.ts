/**
 * Unix datagram socket sink: one JSON event per datagram, sent to a reader bound at
 * `socketPath` (the collector or the publisher sidecar), never blocking the mining path.
 *
 * Why the extra machinery around node-unix-socket:
 * - Linux queues only `net.unix.max_dgram_qlen` datagrams per receiving socket (10 here), so any
 *   burst hits EAGAIN. We keep our OWN bounded FIFO (`queueMax` datagrams / `queueMaxBytes`) and
 *   retry; only overflow drops, oldest first, counted.
 * - node-unix-socket queues EAGAIN'd sends in an unbounded native queue and retries whenever the
 *   socket polls writable. An unconnected AF_UNIX datagram socket always polls writable (the kernel
 *   checks the *peer's* queue only for connected sockets, net/unix/af_unix.c unix_dgram_poll), so a
 *   stuck reader makes that retry a busy loop (measured: 100 % of a core). We therefore keep at most
 *   ONE datagram inside the native socket, and if it has not gone out within `stallMs` we close the
 *   native socket (which discards its copy without calling back), put the datagram back at the head
 *   of our queue and retry on a fresh socket after an exponential backoff.
 * - The native socket closes itself on error; we recreate it on the next send.
 * - No reader (ENOENT: no socket file; ECONNREFUSED: stale file, reader dead): we keep queueing
 *   (bounded, oldest dropped and counted as `no_reader`) and probe with the head datagram on an
 *   exponential backoff up to `noReaderRetryMs.max`, so a restarting collector gets the most recent
 *   `queueMax` events and a missing one costs one syscall per probe interval.
 * - Delivery confirmations (`ackSocketPath`, src/events/confirm.ts): the sending socket is bound to
 *   `<ack path>.tx`, a confirming reader (tbg publisher) sends the ids of the events it has made safe to
 *   the ack socket (bound at `start()`, only ever read),
 *   and every sent event waits in a bounded window until confirmed. Datagrams arrive in order and are
 *   confirmed in order, so an event sent before a confirmed one and not confirmed itself was lost by a
 *   reader that died (its kernel queue, or read but not yet spooled): it is sent again, at most
 *   `ackMaxResends` times, then counted `unconfirmed`. When nothing flows, the oldest unconfirmed event
 *   is re-sent after `ackProbeMs` as a probe, so a restarted reader's first confirmation brings back the rest.
 */
import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { decodeConfirm, eventIdOf, TX_SUFFIX } from "../confirm.ts";
import { EventsConfigError } from "../errors.ts";
import { RingQueue } from "../ring-queue.ts";
import { prepareSocketDir, socketOwnerProblem } from "../socket-dir.ts";
import { emptyDropCounts, NOOP_OBSERVER } from "../sink.ts";
import type { DropReason, EventSink, SinkObserver, SinkState } from "../sink.ts";
import type { EventType } from "../types.ts";
import { classifySendError, NODE_TIMERS, UNIX_DGRAM_SINK_DEFAULTS, unref } from "./unix-dgram-options.ts";
import type { NativeDgramSocket, SinkTimers, UnixDgramSinkOptions, UnixDgramSinkStats } from "./unix-dgram-options.ts";

/** The largest batch: readers (node-unix-socket) receive at most 65,535 bytes a datagram. */
export const MAX_BATCH_BYTES = 65_000;
/** How long a passed owner check of the reader's socket holds (see UnixDgramSink.ownerProblem). */
const OWNER_CHECK_MS = 1000;
export { UNIX_DGRAM_SINK_DEFAULTS } from "./unix-dgram-options.ts";
export type { NativeDgramSocket, SinkTimers, UnixDgramSinkOptions, UnixDgramSinkStats } from "./unix-dgram-options.ts";

interface Item {
  buf: Buffer;
  type: EventType;
  /** event_id, read from the datagram when first tracked (null: none found, not tracked). */
  id?: string | null;
  /** Times sent again after a reader lost it. */
  resends?: number;
  /** A batch: these events, in order, one per line of `buf` (only ever in flight, never queued). */
  parts?: Item[];
}

/** A sent event awaiting its confirmation. */
interface Awaiting {
  item: Item;
  /** Send order. */
  seq: number;
  atMs: number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new EventsConfigError(`unix datagram sink: ${name} must be > 0`);
  return value;
}

/** Sends events to a Unix datagram socket; see the module comment. */
export class UnixDgramSink implements EventSink {
  readonly name: string;
  readonly socketPath: string;
  private readonly queue: RingQueue<Item>;
  private readonly queueMaxBytes: number;
  private readonly stallMs: number;
  private readonly batchMaxBytes: number;
  /** Events to send one a datagram (a batch of them was too large for the socket). */
  private unbatched = 0;
  private readonly congestedBackoff: { min: number; max: number };
  private readonly noReaderRetry: { min: number; max: number };
  private readonly flushTimeoutMs: number;
  private readonly sendBufferBytes: number;
  private readonly createSocket: () => NativeDgramSocket;
  private readonly prepareDir: (socketPath: string) => Promise<void>;
  /** lstat the socket before each send (real sockets only): owned by this user or root, and a socket. */
  private readonly checkOwner: boolean;
  private ownerRefusals = 0;
  /** When the reader's socket last passed the owner check (performance.now() ms); null: check before the next send. */
  private ownerOkAtMs: number | null = null;
  private readonly timers: SinkTimers;
  private observer: SinkObserver = NOOP_OBSERVER;

  private sock: NativeDgramSocket | null = null;
  private inflight: Item | null = null;
  private queuedBytes = 0;
  private state: SinkState = "idle";
  private started = false;
  private pumping = false;
  private immediatePending = false;
  private stallTimer: unknown = null;
  private retryTimer: unknown = null;
  private congestedDelayMs: number;
  private noReaderDelayMs: number;
  private closing: { deadline: unknown; resolve: () => void; promise: Promise<void> } | null = null;
  private finished = false;
  /** Set when close() found no reader: stop sending, finish on the next tick. */
  private givingUp = false;

  private sent = 0;
  /** Datagrams that carried more than one event. */
  private batches = 0;
  private retries = 0;
  private stalls = 0;
  private socketsCreated = 0;
  private lastError: string | null = null;
  private readonly dropped = emptyDropCounts();

  // Delivery confirmations (null ackPath: off).
  private readonly ackPath: string | null;
  private readonly ackWindow: number;
  private readonly ackProbeMs: number;
  private readonly ackMaxResends: number;
  private readonly now: () => number;
  /** Sent, unconfirmed, in send order (Map keeps insertion order; a re-send moves to the end). */
  private readonly awaiting = new Map<string, Awaiting>();
  private sendSeq = 0;
  private readerConfirms = false;
  /** A confirmation arrived since the reader last went away (no_reader): it is a confirming reader. */
  private everConfirmed = false;
  private lastConfirmAtMs = 0;
  private probeTimer: unknown = null;
  private probeDelayMs: number;
  private ackSock: NativeDgramSocket | null = null;
  private readonly bound = new Map<string, number>(); // path → inode we bound there
  private readonly confirm = { confirmed: 0, resent: 0, probes: 0, malformed: 0, silentFallbacks: 0 };
  /** Sends since the last confirmation: a whole window of them means the reader no longer confirms. */
  private sendsSinceConfirm = 0;
  private ackError: { code: string; message: string } | null = null;

  constructor(options: UnixDgramSinkOptions) {
    const d = UNIX_DGRAM_SINK_DEFAULTS;
    if (!options.socketPath) throw new EventsConfigError("unix datagram sink: socketPath is required");
    // sockaddr_un.sun_path is 108 bytes on Linux, NUL included (unix(7)).
    if (Buffer.byteLength(options.socketPath) > 107) {
      throw new EventsConfigError(`unix datagram sink: socket path longer than 107 bytes: ${options.socketPath}`);
    }
    this.socketPath = options.socketPath;
    this.name = `unix:${options.socketPath}`;
    const queueMax = positive("queueMax", options.queueMax ?? d.queueMax);
    if (!Number.isInteger(queueMax)) throw new EventsConfigError("unix datagram sink: queueMax must be an integer");
    this.queue = new RingQueue<Item>(queueMax);
    this.queueMaxBytes = positive("queueMaxBytes", options.queueMaxBytes ?? d.queueMaxBytes);
    this.stallMs = positive("stallMs", options.stallMs ?? d.stallMs);
    this.batchMaxBytes = options.batchMaxBytes ?? d.batchMaxBytes;
    if (!Number.isInteger(this.batchMaxBytes) || this.batchMaxBytes < 0 || this.batchMaxBytes > MAX_BATCH_BYTES) {
      throw new EventsConfigError(`unix datagram sink: batchMaxBytes must be an integer from 0 (off) to ${MAX_BATCH_BYTES}`);
    }
    this.congestedBackoff = options.congestedBackoffMs ?? d.congestedBackoffMs;
    this.noReaderRetry = options.noReaderRetryMs ?? d.noReaderRetryMs;
    for (const [n, r] of [["congestedBackoffMs", this.congestedBackoff], ["noReaderRetryMs", this.noReaderRetry]] as const) {
      if (!(positive(`${n}.min`, r.min) <= positive(`${n}.max`, r.max))) {
        throw new EventsConfigError(`unix datagram sink: ${n}.min must be <= max`);
      }
    }
    this.flushTimeoutMs = positive("flushTimeoutMs", options.flushTimeoutMs ?? d.flushTimeoutMs);
    this.sendBufferBytes = options.sendBufferBytes ?? d.sendBufferBytes;
    this.createSocket = options.createSocket ?? (() => new DgramSocket());
    this.prepareDir = options.prepareDir ?? (options.createSocket ? async () => {} : prepareSocketDir);
    this.checkOwner = options.createSocket === undefined;
    this.timers = options.timers ?? NODE_TIMERS;
    this.congestedDelayMs = this.congestedBackoff.min;
    this.noReaderDelayMs = this.noReaderRetry.min;
    this.ackPath = options.ackSocketPath ?? null;
    if (this.ackPath !== null && (this.ackPath.length === 0 || Buffer.byteLength(this.ackPath + TX_SUFFIX) > 107)) {
      throw new EventsConfigError(`unix datagram sink: ack socket path must be 1–${107 - TX_SUFFIX.length} bytes: ${this.ackPath}`);
    }
    if (this.ackPath === this.socketPath) throw new EventsConfigError("unix datagram sink: the ack socket path must differ from the socket path");
    this.ackWindow = positive("ackWindow", options.ackWindow ?? d.ackWindow);
    this.ackProbeMs = positive("ackProbeMs", options.ackProbeMs ?? d.ackProbeMs);
    this.ackMaxResends = options.ackMaxResends ?? d.ackMaxResends;
    this.probeDelayMs = this.ackProbeMs;
    this.now = options.now ?? Date.now;
  }

  attach(observer: SinkObserver): void {
    this.observer = observer;
  }

  /** Queue one datagram and, when nothing is pending, send it right away (one non-blocking syscall). */
  send(datagram: Buffer, type: EventType): void {
    if (this.closing) return this.drop({ buf: datagram, type }, "closed");
    const overflow: DropReason = this.state === "no_reader" ? "no_reader" : "queue_full";
    // Make room: drop the oldest queued datagrams (never the one in flight). Newest data is the
    // most useful after an outage: current connections, difficulties, hashrates.
    while (
      this.queue.length > 0 &&
      (this.queue.length + this.inflightCount() >= this.queue.capacity ||
        this.queuedBytes + datagram.length > this.queueMaxBytes)
    ) {
      const old = this.queue.shift()!;
      this.queuedBytes -= old.buf.length;
      this.drop(old, overflow);
    }
    // Only when the events in flight fill the whole queue (queueMax 1, or smaller than a batch): nothing older to evict.
    if (this.queue.length + this.inflightCount() >= this.queue.capacity) return this.drop({ buf: datagram, type }, overflow);
    this.queue.push({ buf: datagram, type });
    this.queuedBytes += datagram.length;
    if (!this.started || this.pumping) return;
    // Batching: what this turn of the event loop emits goes out together, after it.
    if (this.batchMaxBytes > 0) this.schedulePump();
    else this.pump();
  }

  stats(): UnixDgramSinkStats {
    return {
      state: this.state,
      sent: this.sent,
      queued: this.queue.length + this.inflightCount(),
      dropped: { ...this.dropped },
      queuedBytes: this.queuedBytes + this.inflightBytes(),
      inFlight: this.inflightCount(),
      batches: this.batches,
      retries: this.retries,
      stalls: this.stalls,
      socketsCreated: this.socketsCreated,
      ownerRefusals: this.ownerRefusals,
      lastError: this.lastError,
      confirm: { enabled: this.ackPath !== null, readerConfirms: this.readerConfirms, awaiting: this.awaiting.size, ...this.confirm, error: this.ackError },
    };
  }

  /** Throws EVENTS_SOCKET_DIR_UNSAFE when another user could replace the reader's socket. */
  async start(): Promise<void> {
    if (this.started || this.closing) return;
    await this.prepareDir(this.socketPath);
    this.started = true;
    if (this.ackPath !== null) this.openAck(this.ackPath);
    this.setState("ready", "started");
    this.pump();
  }

  /**
   * Stop accepting, deliver the queue for up to `flushTimeoutMs`, then drop the rest (`closed`, or
   * `no_reader` when nobody is reading: then we give up after one immediate probe).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.closing = { deadline: null, resolve, promise };
    if (!this.started) {
      this.finish();
      return promise;
    }
    this.closing.deadline = this.timers.setTimeout(() => this.finish(), this.flushTimeoutMs);
    // Retry now rather than after a long backoff; in no_reader state this is the final probe.
    this.clearRetry();
    this.pump();
    return promise;
  }

  // ---- delivery ------------------------------------------------------------------------------

  private pump(): void {
    if (this.pumping || this.finished || !this.started) return;
    this.pumping = true;
    try {
      while (this.inflight === null && this.retryTimer === null && !this.givingUp && this.queue.length > 0) {
        const sock = this.socket();
        if (sock === null) break;
        const owner = this.ownerProblem();
        if (owner !== null) {
          // Not our reader's socket: keep the events (counted as no_reader when the queue overflows).
          this.lastError = owner;
          this.ownerRefusals++;
          this.enterNoReader(owner);
          break;
        }
        const item = this.nextDatagram();
        this.inflight = item;
        try {
          // Success and hard errors call back synchronously; EAGAIN/ENOBUFS leave it in the native queue.
          sock.sendTo(item.buf, 0, item.buf.length, this.socketPath, (err) => this.onSent(sock, item, err));
        } catch (err) {
          this.onSocketBroken(sock, err);
          break;
        }
        if (this.inflight === item) {
          this.retries++;
          this.armStall(sock, item);
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    this.maybeFinish();
  }

  /**
   * The owner check of the reader's socket, at most once per OWNER_CHECK_MS while it passes (an lstat per
   * event would be a syscall on the mining path for every share): a refused socket is checked again on
   * every attempt, and any failed send forgets the pass, so a replaced reader is seen at its next send error.
   */
  private ownerProblem(): string | null {
    if (!this.checkOwner) return null;
    const now = performance.now();
    if (this.ownerOkAtMs !== null && now - this.ownerOkAtMs < OWNER_CHECK_MS) return null;
    const problem = socketOwnerProblem(this.socketPath);
    this.ownerOkAtMs = problem === null ? now : null;
    return problem;
  }

  private onSent(sock: NativeDgramSocket, item: Item, err: Error | undefined): void {
    if (this.inflight !== item || this.sock !== sock) return; // from a retired socket: cannot happen, but harmless
    this.inflight = null;
    this.clearStall();
    if (!err) {
      if (item.parts) {
        this.batches++;
        for (const part of item.parts) {
          this.sent++;
          this.track(part);
        }
      } else {
        this.sent++;
        this.track(item);
      }
      this.congestedDelayMs = this.congestedBackoff.min;
      this.noReaderDelayMs = this.noReaderRetry.min;
      if (this.state !== "ready") this.setState("ready", "reader accepting events");
    } else {
      this.ownerOkAtMs = null;
      const kind = classifySendError(err);
      this.lastError = err.message;
      if (kind === "no_reader") {
        this.requeueFront(item);
        this.enterNoReader(err.message);
        return;
      }
      if (kind === "too_large" && item.parts) {
        // The batch is over what this socket can send (a small SO_SNDBUF): its events go one a datagram.
        this.unbatched += item.parts.length;
        this.requeueFront(item);
      } else this.drop(item, kind);
    }
    if (this.pumping) return; // synchronous callback: the pump loop continues
    // Called from the native flush on writable: resume outside it (no re-entry into the addon).
    this.schedulePump();
  }

  private enterNoReader(detail: string): void {
    // Whoever binds the socket next is a new reader: it gets a fresh window of tracked events.
    this.everConfirmed = false;
    this.sendsSinceConfirm = 0;
    if (this.state !== "no_reader") this.setState("no_reader", `${this.socketPath}: ${detail}`);
    if (this.closing) {
      // Nobody will read what is left: do not wait for the flush deadline. Finish outside the
      // addon's callback (finish() closes the native socket).
      this.givingUp = true;
      this.timers.setImmediate(() => this.finish());
      return;
    }
    this.scheduleRetry(this.noReaderDelayMs);
    this.noReaderDelayMs = Math.min(this.noReaderDelayMs * 2, this.noReaderRetry.max);
  }

  private armStall(sock: NativeDgramSocket, item: Item): void {
    this.clearStall();
    this.stallTimer = unref(
      this.timers.setTimeout(() => {
        this.stallTimer = null;
        if (this.inflight !== item || this.sock !== sock) return;
        // Reader full for stallMs: stop the addon's busy retry and back off.
        this.stalls++;
        this.retireSocket();
        this.inflight = null;
        this.requeueFront(item);
        if (this.state === "ready") this.setState("congested", "reader not keeping up");
        this.scheduleRetry(this.congestedDelayMs);
        this.congestedDelayMs = Math.min(this.congestedDelayMs * 2, this.congestedBackoff.max);
      }, this.stallMs),
    );
  }

  /** The native socket threw or reported an error (it has closed itself): recreate after a backoff. */
  private onSocketBroken(sock: NativeDgramSocket, err: unknown): void {
    if (this.sock !== sock) return;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.sock = null;
    try {
      sock.close();
    } catch {
      // already closed
    }
    this.clearStall();
    if (this.inflight) {
      this.requeueFront(this.inflight);
      this.inflight = null;
    }
    this.scheduleRetry(this.congestedDelayMs);
    this.congestedDelayMs = Math.min(this.congestedDelayMs * 2, this.congestedBackoff.max);
  }

  private socket(): NativeDgramSocket | null {
    if (this.sock) return this.sock;
    let sock: NativeDgramSocket;
    try {
      sock = this.createSocket();
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.scheduleRetry(this.congestedBackoff.max); // fd exhaustion or similar: retry slowly
      return null;
    }
    sock.on("error", (err) => this.onSocketBroken(sock, err));
    try {
      sock.setSendBufferSize(this.sendBufferBytes);
    } catch {
      // best effort: the default buffer works, it just fills sooner
    }
    if (this.ackPath !== null && this.ackSock !== null) this.bindPath(sock, this.ackPath + TX_SUFFIX);
    this.socketsCreated++;
    this.sock = sock;
    return sock;
  }

  private retireSocket(): void {
    const sock = this.sock;
    this.sock = null;
    try {
      sock?.close(); // discards the native queue without calling back
    } catch {
      // already closed
    }
  }

  private requeueFront(item: Item): void {
    // Room is guaranteed: the in-flight events were counted against the capacity.
    if (item.parts) {
      for (let i = item.parts.length - 1; i >= 0; i--) this.requeueFront(item.parts[i]);
      return;
    }
    this.queue.unshift(item);
    this.queuedBytes += item.buf.length;
  }

  /**
   * The head of the queue, as the next datagram: with batching, it and the events behind it that fit in
   * `batchMaxBytes`, one per line (JSON text has no raw newline, so a reader splits on `\n`).
   */
  private nextDatagram(): Item {
    const first = this.queue.shift()!;
    this.queuedBytes -= first.buf.length;
    if (this.unbatched > 0) {
      this.unbatched--;
      return first;
    }
    if (this.batchMaxBytes === 0) return first;
    const parts = [first];
    let bytes = first.buf.length;
    for (let next = this.queue.peek(); next !== undefined && bytes + 1 + next.buf.length <= this.batchMaxBytes; next = this.queue.peek()) {
      this.queue.shift();
      this.queuedBytes -= next.buf.length;
      parts.push(next);
      bytes += 1 + next.buf.length;
    }
    if (parts.length === 1) return first;
    const buf = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const part of parts) {
      if (at > 0) buf[at++] = 0x0a;
      at += part.buf.copy(buf, at);
    }
    return { buf, type: first.type, parts };
  }

  /** Events in flight (a batch counts each of its events). */
  private inflightCount(): number {
    return this.inflight === null ? 0 : (this.inflight.parts?.length ?? 1);
  }

  private inflightBytes(): number {
    if (this.inflight === null) return 0;
    if (!this.inflight.parts) return this.inflight.buf.length;
    let n = 0;
    for (const part of this.inflight.parts) n += part.buf.length;
    return n;
  }

  // ---- delivery confirmations ----------------------------------------------------------------

  /** Binds the ack socket (read only). Failure: no confirmations, the reason in lastError. */
  private openAck(path: string): void {
    let sock: NativeDgramSocket;
    try {
      sock = this.createSocket();
    } catch (err) {
      this.ackFailed("EVENTS_ACK_SOCKET_FAILED", `events.ack_socket_path ${path}: cannot create the socket (${err instanceof Error ? err.message : String(err)}); delivery confirmations are off`);
      return;
    }
    sock.on("error", () => {
      // A receive error closes the addon's socket: confirmations stop; unconfirmed events are probed and counted.
      if (this.ackSock === sock) this.ackSock = null;
    });
    sock.on("data", (buf) => this.onConfirm(buf));
    if (this.bindPath(sock, path, true)) this.ackSock = sock;
    else {
      if (!this.ackError) this.ackFailed("EVENTS_ACK_SOCKET_FAILED", `events.ack_socket_path ${path}: ${this.lastError ?? "bind failed"}; delivery confirmations are off`);
      try {
        sock.close();
      } catch {
        // ignore
      }
    }
  }

  private ackFailed(code: string, message: string): void {
    this.ackError = { code, message };
    this.lastError = `${code}: ${message}`;
  }

  /**
   * Binds `sock` at `path`, taking over a stale socket file there (ours, or a dead engine's). With
   * `probe`, a socket someone else bound is first sent an empty datagram: delivered means a live engine
   * is using the path, and it is left alone (EVENTS_ACK_SOCKET_IN_USE).
   */
  private bindPath(sock: NativeDgramSocket, path: string, probe = false): boolean {
    if (!sock.bind) return false;
    try {
      mkdirSync(dirname(path), { recursive: true });
      try {
        const st = lstatSync(path);
        if (!st.isSocket()) throw new EventsConfigError(`${path} exists and is not a socket; not using it`);
        if (probe && this.bound.get(path) !== st.ino && this.probeLive(path)) {
          this.ackFailed("EVENTS_ACK_SOCKET_IN_USE", `events.ack_socket_path ${path} is bound by another live process (another engine?); not taking it over, so delivery confirmations are off for this engine. Give each engine its own events.ack_socket_path`);
          return false;
        }
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      sock.bind(path);
      this.bound.set(path, lstatSync(path).ino);
      return true;
    } catch (err) {
      this.lastError = `bind ${path}: ${err instanceof Error ? err.message : String(err)}`;
      return false;
    }
  }

  /** An empty datagram to `path`: delivered (or queued on EAGAIN) means someone is bound there. */
  private probeLive(path: string): boolean {
    let live = true; // no synchronous answer: queued behind a busy reader, so it is live
    let probe: NativeDgramSocket;
    try {
      probe = this.createSocket();
    } catch {
      return false;
    }
    probe.on("error", () => {});
    try {
      probe.sendTo(Buffer.alloc(0), 0, 0, path, (err) => (live = !err));
    } catch {
      live = false;
    }
    try {
      probe.close();
    } catch {
      // ignore
    }
    return live;
  }

  private unlinkBound(): void {
    for (const [path, ino] of this.bound) {
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // gone already
      }
    }
    this.bound.clear();
  }

  /** A sent event starts waiting for its confirmation. */
  private track(item: Item): void {
    if (this.ackPath === null) return;
    if (!this.everConfirmed && this.sendsSinceConfirm >= this.ackWindow) {
      // A whole window sent and not one event ever confirmed since this reader appeared: it reads without
      // confirming (a collector). Its window would only be forgotten again, at the cost of an id parse, a
      // Map entry and a retained datagram per event (~7 µs of pool CPU at 10,000 events/s); stop tracking
      // until a confirmation arrives. Not after a reader that did confirm: a frozen publisher's socket
      // queue can hold more than a window (batches), and its window is what is sent again if it dies.
      if (this.awaiting.size > 0) this.awaiting.clear();
      return;
    }
    if (item.id === undefined) item.id = eventIdOf(item.buf);
    if (item.id === null) return;
    this.awaiting.delete(item.id);
    this.awaiting.set(item.id, { item, seq: ++this.sendSeq, atMs: this.now() });
    this.sendsSinceConfirm++;
    if (this.readerConfirms && this.sendsSinceConfirm > this.ackWindow) {
      // A whole window sent without one confirmation: the reader changed (e.g. a collector took the
      // socket) or stopped confirming. Back to not expecting confirmations until one arrives again.
      this.readerConfirms = false;
      this.confirm.silentFallbacks++;
      this.lastError = `no delivery confirmation for ${this.ackWindow} events sent: the reader does not confirm; unconfirmed events are no longer counted`;
    }
    if (this.awaiting.size > this.ackWindow) {
      const [oldestId, oldest] = this.awaiting.entries().next().value as [string, Awaiting];
      this.awaiting.delete(oldestId);
      // Without a confirming reader (e.g. a collector) the window is only a safety net: forget silently.
      if (this.readerConfirms) this.drop(oldest.item, "unconfirmed");
    }
    this.armProbe();
  }

  private onConfirm(buf: Buffer): void {
    if (buf.length === 0) return; // another engine probing whether this path is live
    const ids = decodeConfirm(buf);
    if (ids === null) {
      this.confirm.malformed++;
      return;
    }
    this.readerConfirms = true;
    this.everConfirmed = true;
    this.sendsSinceConfirm = 0;
    this.lastConfirmAtMs = this.now();
    this.probeDelayMs = this.ackProbeMs;
    let maxSeq = -1;
    for (const id of ids) {
      const a = this.awaiting.get(id);
      if (!a) continue; // a repeat, or forgotten
      this.awaiting.delete(id);
      this.confirm.confirmed++;
      if (a.seq > maxSeq) maxSeq = a.seq;
    }
    // Sent before a confirmed event and still unconfirmed: the reader that had it is gone.
    const lost: Item[] = [];
    for (const [id, a] of this.awaiting) {
      if (a.seq > maxSeq) break;
      this.awaiting.delete(id);
      lost.push(a.item);
    }
    for (let i = lost.length - 1; i >= 0; i--) {
      const item = lost[i];
      item.resends = (item.resends ?? 0) + 1;
      if (item.resends > this.ackMaxResends) this.drop(item, "unconfirmed");
      else this.resend(item);
    }
    if (lost.length > 0) this.schedulePump();
    else this.maybeFinishSoon();
  }

  /** Back at the head of the queue (it is older than anything queued). */
  private resend(item: Item): void {
    if (this.queue.length + this.inflightCount() >= this.queue.capacity ||
        this.queuedBytes + item.buf.length > this.queueMaxBytes) {
      this.drop(item, "queue_full");
      return;
    }
    this.confirm.resent++;
    this.requeueFront(item);
  }

  private maybeFinishSoon(): void {
    if (this.closing && !this.finished) this.schedulePump(); // pump() ends with maybeFinish()
  }

  private armProbe(): void {
    if (!this.readerConfirms || this.probeTimer !== null || this.finished) return;
    this.probeTimer = unref(this.timers.setTimeout(() => this.probe(), this.probeDelayMs));
  }

  /** Nothing confirmed for a while and nothing else to send: send the oldest unconfirmed event again. */
  private probe(): void {
    this.probeTimer = null;
    if (this.finished || this.awaiting.size === 0) return;
    const quietMs = this.now() - this.lastConfirmAtMs;
    const [oldestId, oldest] = this.awaiting.entries().next().value as [string, Awaiting];
    if (quietMs >= this.probeDelayMs && this.now() - oldest.atMs >= this.probeDelayMs && this.queue.length === 0 &&
        this.inflight === null && this.retryTimer === null) {
      this.awaiting.delete(oldestId);
      this.confirm.probes++;
      this.requeueFront(oldest.item);
      this.probeDelayMs = Math.min(this.probeDelayMs * 2, 60_000);
      this.pump();
    }
    this.armProbe();
  }

  // ---- timers --------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.immediatePending) return;
    this.immediatePending = true;
    this.timers.setImmediate(() => {
      this.immediatePending = false;
      this.pump();
    });
  }

  private scheduleRetry(delayMs: number): void {
    this.clearRetry();
    this.retryTimer = unref(
      this.timers.setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delayMs),
    );
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearStall(): void {
    if (this.stallTimer !== null) this.timers.clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  // ---- shutdown and accounting ---------------------------------------------------------------

  private maybeFinish(): void {
    if (this.closing && !this.finished && this.inflight === null && this.queue.length === 0 && (!this.readerConfirms || this.awaiting.size === 0)) this.finish();
  }

  private finish(): void {
    if (this.finished || !this.closing) return;
    this.finished = true;
    this.clearRetry();
    this.clearStall();
    if (this.closing.deadline !== null) this.timers.clearTimeout(this.closing.deadline);
    const reason: DropReason = this.state === "no_reader" ? "no_reader" : "closed";
    if (this.inflight) this.drop(this.inflight, reason);
    this.inflight = null;
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) this.drop(item, reason);
    this.queuedBytes = 0;
    // Handed to a confirming reader that did not confirm them by the deadline: possibly lost.
    if (this.readerConfirms) for (const a of this.awaiting.values()) this.drop(a.item, "unconfirmed");
    this.awaiting.clear();
    if (this.probeTimer !== null) this.timers.clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.retireSocket();
    try {
      this.ackSock?.close();
    } catch {
      // already closed
    }
    this.ackSock = null;
    this.unlinkBound();
    this.setState("closed", "closed");
    this.closing.resolve();
  }

  private drop(item: Item, reason: DropReason): void {
    if (item.parts) {
      for (const part of item.parts) this.drop(part, reason);
      return;
    }
    this.dropped[reason]++;
    try {
      this.observer.dropped(reason, item.type);
    } catch {
      // observers must not break delivery
    }
  }

  private setState(state: SinkState, detail: string): void {
    if (this.state === state) return;
    this.state = state;
    try {
      this.observer.stateChanged(state, detail);
    } catch {
      // observers must not break delivery
    }
  }
}
