/**
 * Reader side of the Unix datagram event socket: binds `socketPath` and pushes every datagram,
 * validated, to `onMessage` (the collector's batcher) and/or an async iterator (tests, tools).
 *
 * It reads as fast as the event loop allows and does no other work on the receive path
 * (the kernel holds only `net.unix.max_dgram_qlen` datagrams, so a
 * slow reader makes the engine queue and, past its high-water mark, drop).
 *
 * Start-up takes over a stale socket file (a previous reader that died: sending to it gives
 * ECONNREFUSED) but refuses to steal the path from a live reader (EVENTS_SOCKET_IN_USE).
 */
import { lstat, chmod, unlink } from "node:fs/promises";
import { prepareSocketDir } from "./socket-dir.ts";
import { DgramSocket } from "node-unix-socket";
import { EventSocketBindError, EventSocketInUseError, EventsConfigError } from "./errors.ts";
import { RingQueue } from "./ring-queue.ts";
import { validateEvent } from "./schemas.ts";
import type { EventType, MiningEvent } from "./types.ts";

/**
 * One received datagram. `raw` is the datagram as received; `sender` the sending socket's bound path
 * (the engine's ack path, where delivery confirmations go: src/events/confirm.ts), absent when unbound.
 */
export type ReaderMessage =
  | { ok: true; event: MiningEvent; raw: Buffer; sender?: string }
  | { ok: false; error: string; type?: EventType; raw: Buffer; sender?: string };

/** The part of node-unix-socket's DgramSocket the reader uses. */
export interface NativeDgramReaderSocket {
  bind(path: string): void;
  on(event: "data", listener: (buf: Buffer, path?: string) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  close(): void;
  sendTo(buf: Buffer, offset: number, length: number, destPath: string, onWrite?: (err: undefined | Error) => void): void;
}

/** Options of {@link DgramReader}. */
export interface DgramReaderOptions {
  /** Path to bind, e.g. `/run/tbg/events.sock`. Its directory is created if missing. */
  socketPath: string;
  /** chmod the socket after binding (writers need write permission), e.g. `0o660`. Default: leave as umask gives. */
  mode?: number;
  /** Called synchronously for every datagram, in arrival order. Exceptions are counted, not propagated. */
  onMessage?: (message: ReaderMessage) => void;
  /** Feed {@link DgramReader.messages}; messages beyond this many unread are dropped (counted). Default 0 = iterator off. */
  iteratorBuffer?: number;
  /** Default `new DgramSocket()` (node-unix-socket). */
  createSocket?: () => NativeDgramReaderSocket;
}

/** Counters of {@link DgramReader}. */
export interface DgramReaderStats {
  /** Events received: one per datagram, or one per line of a datagram carrying several (empty probes excluded). */
  received: number;
  /** Datagrams received (excluding empty probes). */
  datagrams: number;
  /** Of those, valid events. */
  valid: number;
  /** Of those, refused by validateEvent. */
  malformed: number;
  /** Messages dropped because the iterator's consumer fell behind. */
  iteratorDropped: number;
  /** onMessage threw. */
  handlerErrors: number;
  /** Socket errors (the socket is re-bound after each). */
  socketErrors: number;
}

const REBIND_DELAY_MS = 100;
const MAX_REBIND_DELAY_MS = 5_000;

/** Binds a Unix datagram socket and yields parsed events; see the module comment. */
export class DgramReader {
  readonly socketPath: string;
  private readonly options: DgramReaderOptions;
  private readonly createSocket: () => NativeDgramReaderSocket;
  private sock: NativeDgramReaderSocket | null = null;
  private boundIno: number | null = null;
  private boundDev: number | null = null;
  private closed = false;
  private rebindTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly buffer: RingQueue<ReaderMessage> | null;
  private waiter: ((r: IteratorResult<ReaderMessage>) => void) | null = null;
  private readonly counters: DgramReaderStats = {
    received: 0,
    datagrams: 0,
    valid: 0,
    malformed: 0,
    iteratorDropped: 0,
    handlerErrors: 0,
    socketErrors: 0,
  };

  constructor(options: DgramReaderOptions) {
    if (!options.socketPath || Buffer.byteLength(options.socketPath) > 107) {
      throw new EventsConfigError("datagram reader: socketPath must be 1–107 bytes (sockaddr_un)");
    }
    this.socketPath = options.socketPath;
    this.options = options;
    this.createSocket = options.createSocket ?? (() => new DgramSocket());
    const n = options.iteratorBuffer ?? 0;
    this.buffer = n > 0 ? new RingQueue<ReaderMessage>(n) : null;
  }

  /**
   * Create the directory (0750), refuse one another user could use to replace the socket
   * (EVENTS_SOCKET_DIR_UNSAFE, src/events/socket-dir.ts), take over a stale socket file, bind.
   * Throws EVENTS_SOCKET_IN_USE / EVENTS_SOCKET_BIND.
   */
  async start(): Promise<void> {
    if (this.sock) return;
    await prepareSocketDir(this.socketPath);
    await this.removeStale();
    await this.bind();
  }

  /** Stop reading, remove the socket file (if it is still ours), end the iterator. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rebindTimer) clearTimeout(this.rebindTimer);
    this.closeSocket();
    await this.unlinkIfOurs();
    if (this.waiter && (this.buffer?.length ?? 0) === 0) {
      const w = this.waiter;
      this.waiter = null;
      w({ done: true, value: undefined });
    }
  }

  stats(): DgramReaderStats {
    return { ...this.counters };
  }

  /**
   * Whether the socket path still names the socket this reader bound: "ok", "missing" (unlinked) or
   * "replaced" (another file or socket there now: someone else may be receiving the events).
   */
  async pathState(): Promise<"ok" | "missing" | "replaced" | "unbound"> {
    if (this.boundIno === null) return "unbound";
    try {
      const st = await lstat(this.socketPath);
      return st.ino === this.boundIno && st.dev === this.boundDev ? "ok" : "replaced";
    } catch {
      return "missing";
    }
  }

  /** Binds again at the path after it went missing (the old socket is closed). */
  async rebind(): Promise<void> {
    if (this.closed) return;
    this.closeSocket();
    this.boundIno = null;
    await this.bind();
  }

  /**
   * Async iterator over received messages (requires `iteratorBuffer` > 0). Single consumer.
   * Ends after close() once the buffer is drained.
   */
  messages(): AsyncIterableIterator<ReaderMessage> {
    const buffer = this.buffer;
    if (!buffer) throw new EventsConfigError("datagram reader: messages() needs iteratorBuffer > 0");
    const iterator: AsyncIterableIterator<ReaderMessage> = {
      next: () => {
        const m = buffer.shift();
        if (m) return Promise.resolve({ done: false, value: m });
        if (this.closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => (this.waiter = resolve));
      },
      return: async () => {
        this.waiter = null;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---- internals -------------------------------------------------------------------------------

  private onData(buf: Buffer, path?: string): void {
    if (buf.length === 0) return; // another reader probing whether we are alive (removeStale)
    this.counters.datagrams++;
    const sender = path ? path : undefined;
    // One event, or several, one per line (an engine batching its events; JSON text has no raw newline).
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      if (nl > start) this.onEvent(buf.subarray(start, nl), sender);
      start = nl + 1;
    }
    if (start === 0) this.onEvent(buf, sender);
    else if (start < buf.length) this.onEvent(buf.subarray(start), sender);
  }

  private onEvent(buf: Buffer, sender: string | undefined): void {
    this.counters.received++;
    const result = validateEvent(buf);
    const message: ReaderMessage = result.ok
      ? { ok: true, event: result.event, raw: buf, sender }
      : { ok: false, error: result.error, type: result.type, raw: buf, sender };
    if (result.ok) this.counters.valid++;
    else this.counters.malformed++;
    if (this.options.onMessage) {
      try {
        this.options.onMessage(message);
      } catch {
        this.counters.handlerErrors++;
      }
    }
    if (this.buffer) {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w({ done: false, value: message });
      } else if (!this.buffer.push(message)) {
        this.counters.iteratorDropped++;
      }
    }
  }

  private async removeStale(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = (await lstat(this.socketPath)).isSocket();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new EventSocketBindError(`cannot stat ${this.socketPath}`, { cause: err });
    }
    if (!isSocket) throw new EventSocketBindError(`${this.socketPath} exists and is not a socket; refusing to remove it`);
    if (await this.probeLive()) throw new EventSocketInUseError(this.socketPath);
    await unlink(this.socketPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw new EventSocketBindError(`cannot remove stale ${this.socketPath}`, { cause: err });
    });
  }

  /** Send an empty datagram: delivered (or EAGAIN: a live but busy reader) means the path is in use. */
  private probeLive(): Promise<boolean> {
    const probe = this.createSocket();
    probe.on("error", () => {});
    return new Promise<boolean>((resolve) => {
      let answered = false;
      try {
        probe.sendTo(Buffer.alloc(0), 0, 0, this.socketPath, (err) => {
          answered = true;
          resolve(!err);
        });
      } catch {
        answered = true;
        resolve(false);
      }
      if (!answered) resolve(true); // queued on EAGAIN: someone is bound there, just busy
    }).finally(() => {
      try {
        probe.close();
      } catch {
        // already closed
      }
    });
  }

  private async bind(): Promise<void> {
    const sock = this.createSocket();
    sock.on("data", (buf, path) => this.onData(buf, path));
    sock.on("error", (err) => this.onSocketError(sock, err));
    try {
      sock.bind(this.socketPath);
    } catch (err) {
      try {
        sock.close();
      } catch {
        // ignore
      }
      throw new EventSocketBindError(`cannot bind ${this.socketPath}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    this.sock = sock;
    const st = await lstat(this.socketPath);
    this.boundIno = st.ino;
    this.boundDev = st.dev;
    if (this.options.mode !== undefined) await chmod(this.socketPath, this.options.mode);
    if (this.closed) {
      // close() ran while we were binding (a re-bind): undo.
      this.closeSocket();
      await this.unlinkIfOurs();
    }
  }

  /** The addon closes the socket on a receive error: re-bind after a delay (backing off to 5 s). */
  private onSocketError(sock: NativeDgramReaderSocket, _err: Error): void {
    if (sock !== this.sock || this.closed) return;
    this.counters.socketErrors++;
    this.sock = null;
    this.scheduleRebind(REBIND_DELAY_MS);
  }

  private scheduleRebind(delayMs: number): void {
    this.rebindTimer = setTimeout(() => {
      this.rebindTimer = null;
      if (this.closed) return;
      this.unlinkIfOurs()
        .then(() => this.bind())
        .catch(() => {
          if (!this.closed) this.scheduleRebind(Math.min(delayMs * 2, MAX_REBIND_DELAY_MS));
        });
    }, delayMs);
  }

  private closeSocket(): void {
    const sock = this.sock;
    this.sock = null;
    try {
      sock?.close();
    } catch {
      // already closed
    }
  }

  private async unlinkIfOurs(): Promise<void> {
    if (this.boundIno === null) return;
    try {
      const st = await lstat(this.socketPath);
      if (st.ino === this.boundIno) await unlink(this.socketPath);
    } catch {
      // gone already, or replaced: not ours to remove
    }
    this.boundIno = null;
  }
}
