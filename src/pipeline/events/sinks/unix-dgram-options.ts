/**
 * Options, defaults, counters and seams of the Unix datagram sink (./unix-dgram.ts), kept apart so
 * the sink file holds only its state machine. Also the errno classification of send failures.
 */
import type { SinkStats } from "../sink.ts";

/** The part of node-unix-socket's DgramSocket this sink uses (injectable for tests). */
export interface NativeDgramSocket {
  sendTo(buf: Buffer, offset: number, length: number, destPath: string, onWrite?: (err: undefined | Error) => void): void;
  on(event: "error", listener: (err: Error) => void): unknown;
  /** Receives delivery confirmations once bound (only used with `ackSocketPath`). */
  on(event: "data", listener: (buf: Buffer, path?: string) => void): unknown;
  /** Binds the sending socket to the ack path (only used with `ackSocketPath`). */
  bind?(path: string): void;
  close(): void;
  setSendBufferSize(size: number): void;
}

/** Timer seam (timers behind a seam). Handles may have `unref()`. */
export interface SinkTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate(fn: () => void): unknown;
}

/** Defaults of {@link UnixDgramSinkOptions}, each with its reason. */
export const UNIX_DGRAM_SINK_DEFAULTS = {
  /** Datagrams held while the reader is slow or absent: a 100k-event burst fits (≈ 30 MB at ~300 B). */
  queueMax: 100_000,
  /** Byte cap of the same queue, so 4 KiB events cannot take 400 MB. */
  queueMaxBytes: 64 * 1024 * 1024,
  /**
   * How long the native socket may retry one datagram (busy-polling) before we back off. Not 0: with
   * the kernel's default `max_dgram_qlen` of 10, backing off at the first EAGAIN would cap delivery at
   * about 10 datagrams per backoff (~5,000 events/s at 2 ms) even when the reader keeps up, while this
   * short retry delivers at the reader's pace. Measured at 10,000 shares/s with a live reader, 0 saved
   * no clear pool CPU (65.5 against 69.8 µs a share, medians of 3; minima 59.4 and 55.2).
   */
  stallMs: 5,
  /**
   * Several events a datagram, up to this many bytes (0: one event a datagram, sent at once). Events
   * emitted in one turn of the event loop then go out together right after it: at 10,000 events/s each
   * datagram cost the pool ~17 µs of CPU (the reader's wake-up is paid in the sender's system call), so
   * fewer datagrams is most of the cost of delivering events. The pool passes `events.batch_max_bytes`.
   */
  batchMaxBytes: 0,
  /** Backoff after a stall, doubling per consecutive stall. */
  congestedBackoffMs: { min: 2, max: 250 },
  /** Probe interval while there is no reader, doubling up to max. */
  noReaderRetryMs: { min: 100, max: 2_000 },
  /** close(): how long to keep delivering the queue before dropping the rest. */
  flushTimeoutMs: 2_000,
  /**
   * SO_SNDBUF. An AF_UNIX datagram stays charged to the *sender* until read, so with a raised
   * `max_dgram_qlen` the default 208 KiB send buffer becomes the limit. The kernel caps it at
   * `net.core.wmem_max`.
   */
  sendBufferBytes: 4 * 1024 * 1024,
  /**
   * Events sent and not yet confirmed by a confirming reader, kept to be sent again if the reader dies
   * with them. A live publisher confirms within milliseconds, so this only fills while a reader is
   * stuck; past it the oldest is given up and counted `unconfirmed`.
   */
  ackWindow: 10_000,
  /**
   * With unconfirmed events, no confirmation for this long and nothing else to send: send the oldest
   * unconfirmed event again, so a reader restarted while the engine was quiet still gets what its
   * predecessor lost. Doubles per probe up to 60 s.
   */
  ackProbeMs: 5_000,
  /** An event presumed lost this many times is given up and counted `unconfirmed`. */
  ackMaxResends: 3,
} as const;

/** Options of {@link UnixDgramSink}. */
export interface UnixDgramSinkOptions {
  /** Path of the reader's socket, e.g. `/run/tbg/events.sock`. */
  socketPath: string;
  queueMax?: number;
  queueMaxBytes?: number;
  stallMs?: number;
  /** Several events a datagram, up to this many bytes; 0 (default): one each. See the defaults. */
  batchMaxBytes?: number;
  congestedBackoffMs?: { min: number; max: number };
  noReaderRetryMs?: { min: number; max: number };
  flushTimeoutMs?: number;
  sendBufferBytes?: number;
  /**
   * Bind the sending socket here, so a confirming reader (tbg publisher) can confirm every event it has
   * made safe, and events a dead reader took with it are sent again (src/events/confirm.ts). Omit: no
   * confirmations, as before.
   */
  ackSocketPath?: string;
  ackWindow?: number;
  ackProbeMs?: number;
  ackMaxResends?: number;
  /** Clock for probes, ms. Default Date.now. */
  now?: () => number;
  /** Creates the native socket. Default `new DgramSocket()` from node-unix-socket. */
  createSocket?: () => NativeDgramSocket;
  /** Default: Node's timers (backoff timers unref'd). */
  timers?: SinkTimers;
  /**
   * Run at start: create the socket's directory if missing and refuse one another user could use to
   * replace the socket (src/events/socket-dir.ts). Default: that check, unless `createSocket` is
   * injected (a fake socket has no real path).
   */
  prepareDir?: (socketPath: string) => Promise<void>;
}

/** Counters of {@link UnixDgramSink}. */
export interface UnixDgramSinkStats extends SinkStats {
  /** Bytes held in the queue. */
  queuedBytes: number;
  /** Datagrams inside the native socket awaiting the kernel (0 or 1). */
  inFlight: number;
  /** Sends the kernel refused with EAGAIN/ENOBUFS (then retried). */
  retries: number;
  /** Times a datagram stalled past `stallMs` and we backed off. */
  stalls: number;
  /** Datagrams that carried more than one event (batching). */
  batches: number;
  /** Native sockets created (1 + recreations). */
  socketsCreated: number;
  /** Sends refused because the socket path was not a socket of this user or root (possible hijack). */
  ownerRefusals: number;
  /** Last socket error text, or null. */
  lastError: string | null;
  /** Delivery confirmations (zeros and `enabled: false` without an ack path). */
  confirm: {
    enabled: boolean;
    /** A confirmation has been received: the reader confirms, lost events are resent. */
    readerConfirms: boolean;
    /** Events confirmed by the reader. */
    confirmed: number;
    /** Sent and not yet confirmed (kept for resending). */
    awaiting: number;
    /** Events sent again because the reader lost them. */
    resent: number;
    /** Oldest-unconfirmed probes sent while nothing else was flowing. */
    probes: number;
    /** Datagrams on the ack socket that were not confirmations. */
    malformed: number;
    /**
     * Times a confirming reader stopped confirming for a whole `ackWindow` of sends (e.g. tbg publisher
     * replaced by a collector on the socket): the sink went back to not expecting confirmations.
     */
    silentFallbacks: number;
    /** Why confirmations are off although an ack path is configured (bind failed, path in use), or null. */
    error: { code: string; message: string } | null;
  };
}

/** How a failed send is treated. */
export type SendFailure = "no_reader" | "too_large" | "error";

const NO_READER_CODES = new Set(["ENOENT", "ECONNREFUSED", "ENOTDIR", "EACCES", "EPERM", "EPROTOTYPE"]);
// node-unix-socket reports errno only as strerror() text (glibc/musl wording), no `code`.
const NO_READER_TEXT =
  /No such file or directory|Connection refused|Not a directory|Permission denied|Operation not permitted|Protocol wrong type/i;

/** Classify a send error: the reader is gone, the datagram is too large, or something else. */
export function classifySendError(err: Error): SendFailure {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && NO_READER_CODES.has(code)) return "no_reader";
  if (code === "EMSGSIZE" || /Message too long/i.test(err.message)) return "too_large";
  if (NO_READER_TEXT.test(err.message)) return "no_reader";
  return "error";
}

/** Node's timers. */
export const NODE_TIMERS: SinkTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setImmediate: (fn) => setImmediate(fn),
};

/** Let a timer not keep the process alive. */
export function unref(handle: unknown): unknown {
  (handle as { unref?: () => void } | null)?.unref?.();
  return handle;
}
