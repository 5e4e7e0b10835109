/**
 * Delivery confirmations on the Unix datagram event socket: the reader tells the engine which events
 * it has made safe, so the engine can resend what a reader that died (SIGKILL) took with it: datagrams
 * still in the dying socket's kernel queue, and events read but not yet spooled.
 *
 * Addresses. The engine receives confirmations on its ack socket (`events.ack_socket_path`, a socket
 * that only reads) and sends events from a socket bound to the ack path + `.tx` (one that only sends:
 * node-unix-socket stops reading on a socket whose sends have hit EAGAIN). So every event datagram carries
 * `<ack path>.tx` as its source address, and the reader confirms to that address minus `.tx`
 * ({@link confirmPathOf}).
 *
 * Wire format. A confirming reader sends datagrams of the form
 *
 *     TBGC1\n<event_id>\n<event_id>…            (at most {@link CONFIRM_MAX_IDS} ids, in arrival order)
 *
 * once each event is safe (the publisher: written to its spool file; malformed or refused events are
 * confirmed too: the reader has counted them). Because a Unix datagram socket delivers in order and the
 * reader confirms in arrival order, the engine treats any event sent *before* a confirmed one and not
 * confirmed itself as lost in a reader that died, and sends it again (src/events/sinks/unix-dgram.ts).
 * A repeat is harmless: `Nats-Msg-Id` and the database's `event_id` key drop it.
 *
 * This module: the format, and {@link ReaderConfirmer}, the reader side (coalescing, bounded, never
 * blocking the reader: at most one confirmation datagram in flight, a stalled send is abandoned and
 * retried on a fresh socket, exactly like the engine's sink).
 */
import { DgramSocket } from "node-unix-socket";

const MAGIC = "TBGC1\n";
const MAGIC_BYTES = Buffer.from(MAGIC, "latin1");
/** Event ids per confirmation datagram (≈ 3.7 KiB). */
export const CONFIRM_MAX_IDS = 100;
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Encodes one confirmation datagram. */
export function encodeConfirm(ids: readonly string[]): Buffer {
  return Buffer.from(MAGIC + ids.join("\n"), "latin1");
}

/** Decodes a confirmation datagram: the event ids, or null when it is not one. */
export function decodeConfirm(buf: Buffer): string[] | null {
  if (buf.length < MAGIC_BYTES.length || !buf.subarray(0, MAGIC_BYTES.length).equals(MAGIC_BYTES)) return null;
  const body = buf.toString("latin1", MAGIC_BYTES.length);
  if (body.length === 0) return [];
  const ids = body.split("\n");
  return ids.length <= CONFIRM_MAX_IDS && ids.every((id) => ID_RE.test(id)) ? ids : null;
}

/** Suffix of the engine's sending socket path: `<ack path>.tx`. */
export const TX_SUFFIX = ".tx";

/** Where to confirm events from `sender` (its source address), or null when it does not take confirmations. */
export function confirmPathOf(sender: string | undefined): string | null {
  return sender && sender.length > TX_SUFFIX.length && sender.endsWith(TX_SUFFIX) ? sender.slice(0, -TX_SUFFIX.length) : null;
}

const ID_KEY = Buffer.from('"event_id":"', "latin1");

/** The `event_id` of a serialised event, without parsing it (the engine calls this per sent event). */
export function eventIdOf(datagram: Buffer): string | null {
  const at = datagram.indexOf(ID_KEY);
  if (at < 0 || at + ID_KEY.length + 36 > datagram.length) return null;
  const start = at + ID_KEY.length;
  return datagram.toString("latin1", start, start + 36);
}

/** The part of node-unix-socket's DgramSocket the confirmer uses. */
export interface ConfirmSocket {
  sendTo(buf: Buffer, offset: number, length: number, destPath: string, onWrite?: (err: undefined | Error) => void): void;
  on(event: "error", listener: (err: Error) => void): unknown;
  close(): void;
}

/** Options of {@link ReaderConfirmer}; defaults per field. */
export interface ReaderConfirmerOptions {
  /** A confirmation not handed to the kernel within this long is abandoned and retried, ms. Default 20. */
  stallMs?: number;
  /** Backoff after a stall or a refused send, ms: doubles from min to max. Default {20, 1 000}. */
  retryMs?: { min: number; max: number };
  /** A sender whose confirmations keep failing this many times in a row is given up (its pending ids forgotten). Default 10. */
  maxFailures?: number;
  /** Confirmed ids waiting to be sent per sender; past it the oldest are forgotten (the engine then resends them). Default 20 000. */
  maxPendingIds?: number;
  createSocket?: () => ConfirmSocket;
}

/** One received event awaiting its confirmation. */
export interface ConfirmTicket {
  readonly sender: string;
  readonly id: string;
  done: boolean;
}

/** Counters of a {@link ReaderConfirmer}. */
export interface ReaderConfirmerStats {
  /** Event ids confirmed to their sender (handed to the kernel). */
  confirmed: number;
  /** Confirmation datagrams sent. */
  datagrams: number;
  /** Sends that failed (sender gone) or stalled. */
  failures: number;
  /** Ids never confirmed: the sender stayed unreachable, or too many waited (the engine resends those). */
  abandoned: number;
}

interface SenderState {
  /** Received, in arrival order; confirmed from the front once done. */
  waiting: ConfirmTicket[];
  head: number;
  /** Done, not yet sent. */
  ready: string[];
  inFlight: string[] | null;
  failures: number;
}

/** The reader side of delivery confirmations; see the module comment. */
export class ReaderConfirmer {
  private readonly senders = new Map<string, SenderState>();
  private sock: ConfirmSocket | null = null;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay: number;
  private closed = false;
  private readonly s: ReaderConfirmerStats = { confirmed: 0, datagrams: 0, failures: 0, abandoned: 0 };
  private readonly stallMs: number;
  private readonly retry: { min: number; max: number };
  private readonly maxFailures: number;
  private readonly maxPending: number;
  private readonly createSocket: () => ConfirmSocket;

  constructor(o: ReaderConfirmerOptions = {}) {
    this.stallMs = o.stallMs ?? 20;
    this.retry = o.retryMs ?? { min: 20, max: 1_000 };
    this.retryDelay = this.retry.min;
    this.maxFailures = o.maxFailures ?? 10;
    this.maxPending = o.maxPendingIds ?? 20_000;
    this.createSocket = o.createSocket ?? (() => new DgramSocket());
  }

  /** Call for every received event, in arrival order. Returns null when the sender takes no confirmations. */
  track(from: string | undefined, id: string): ConfirmTicket | null {
    const sender = confirmPathOf(from);
    if (!sender || this.closed) return null;
    let st = this.senders.get(sender);
    if (!st) this.senders.set(sender, (st = { waiting: [], head: 0, ready: [], inFlight: null, failures: 0 }));
    const t: ConfirmTicket = { sender, id, done: false };
    st.waiting.push(t);
    return t;
  }

  /** The event is safe (or counted as refused): confirm it once every earlier one from the same sender is. */
  done(t: ConfirmTicket | null): void {
    if (!t || t.done) return;
    t.done = true;
    const st = this.senders.get(t.sender);
    if (!st) return;
    while (st.head < st.waiting.length && st.waiting[st.head].done) st.ready.push(st.waiting[st.head++].id);
    if (st.head > 1024 && st.head * 2 > st.waiting.length) {
      st.waiting = st.waiting.slice(st.head);
      st.head = 0;
    }
    if (st.ready.length > this.maxPending) {
      const n = st.ready.length - this.maxPending;
      st.ready.splice(0, n);
      this.s.abandoned += n;
    }
    this.schedule();
  }

  stats(): ReaderConfirmerStats {
    return { ...this.s };
  }

  /** Sends what is ready (bounded by `waitMs`), then closes the socket. */
  async close(waitMs = 200): Promise<void> {
    const deadline = Date.now() + waitMs;
    // Bounded by the deadline.
    while (!this.idle() && Date.now() < deadline && this.retryTimer === null) {
      this.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retireSocket();
  }

  private idle(): boolean {
    for (const st of this.senders.values()) if (st.ready.length > 0 || st.inFlight) return false;
    return true;
  }

  private schedule(): void {
    if (this.scheduled || this.closed || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.retryTimer) return;
    for (const [sender, st] of this.senders) {
      if (this.retryTimer || this.closed) return;
      if (st.inFlight || st.ready.length === 0) {
        if (!st.inFlight && st.waiting.length === st.head && st.ready.length === 0) this.senders.delete(sender);
        continue;
      }
      const sock = this.socket();
      if (!sock) return;
      const ids = st.ready.splice(0, CONFIRM_MAX_IDS);
      st.inFlight = ids;
      const buf = encodeConfirm(ids);
      let stall: NodeJS.Timeout | null = null;
      const finish = (err: Error | undefined) => {
        if (st.inFlight !== ids) return;
        if (stall) clearTimeout(stall);
        st.inFlight = null;
        if (!err) {
          st.failures = 0;
          this.s.datagrams++;
          this.s.confirmed += ids.length;
          this.retryDelay = this.retry.min;
          if (st.ready.length > 0) this.schedule();
          return;
        }
        this.fail(st, ids);
      };
      try {
        sock.sendTo(buf, 0, buf.length, sender, finish);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (st.inFlight === ids) {
        // EAGAIN: the engine is not reading. Give the kernel stallMs, then stop the addon's busy retry.
        stall = setTimeout(() => {
          if (st.inFlight !== ids) return;
          this.s.failures++;
          this.retireSocket(); // puts every in-flight batch back
          this.scheduleRetry();
        }, this.stallMs);
        stall.unref();
      }
    }
  }

  /** A refused send (the sender is gone or restarting): put the ids back and retry later; after `maxFailures` in a row, forget them. */
  private fail(st: SenderState, ids: string[]): void {
    this.s.failures++;
    st.failures++;
    if (st.failures >= this.maxFailures) {
      this.s.abandoned += ids.length + st.ready.length;
      st.ready = [];
      st.failures = 0;
    } else {
      st.ready.unshift(...ids);
    }
    this.retireSocket(); // the addon closes a socket after an error
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, this.retry.max);
  }

  private socket(): ConfirmSocket | null {
    if (this.sock) return this.sock;
    try {
      const sock = this.createSocket();
      sock.on("error", () => {
        if (this.sock === sock) this.sock = null;
      });
      this.sock = sock;
      return sock;
    } catch {
      return null;
    }
  }

  private retireSocket(): void {
    const sock = this.sock;
    this.sock = null;
    // A closed native socket drops what it still queued without calling back: put those batches back.
    for (const st of this.senders.values()) {
      if (st.inFlight) st.ready.unshift(...st.inFlight);
      st.inFlight = null;
    }
    try {
      sock?.close();
    } catch {
      // already closed
    }
  }
}
