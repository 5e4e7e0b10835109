/**
 * Block notifications from every configured ZMQ endpoint at once: one `zeromq`
 * Subscriber per endpoint on Bitcoin Core's `hashblock` topic (doc/zmq.md). The first notification of
 * a block calls `onBlock`; copies from the other endpoints are only counted ({@link HashblockTracker}).
 *
 * zeromq v6 facts this relies on:
 * - socket options go in the constructor so they apply before `connect`. ZMTP heartbeats
 *   (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL, libzmq ≥ 4.2 answers PINGs, so this works against bitcoind) make a
 *   silently dead publisher a `disconnect`; TCP alone would not notice it.
 * - libzmq reconnects by itself, with a backoff from ZMQ_RECONNECT_IVL doubling to ZMQ_RECONNECT_IVL_MAX,
 *   and re-sends the subscription. zeromq.js only processes that while a `receive()` is pending, so
 *   each socket has exactly one reader loop running for its whole life (a second `receive()` is EBUSY).
 * - socket state comes from the `events` Observer: `handshake` (ZMTP handshake done), `disconnect`,
 *   `connect:retry`.
 * - shutdown is `close()` alone (linger 0): no `disconnect()`/`unbind()` first (libzmq 4.3.5 can abort).
 * Messages published while disconnected are lost (PUB/SUB has no replay): `onReconnect` lets the
 * caller check the tip over RPC at once, the safety net the reference recommends.
 */
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import { TbgError, errorText } from "../../util/errors.ts";
import { decodeHashblock, HASHBLOCK_TOPIC } from "./zmq-format.ts";
import { HashblockTracker, type HashblockVerdict, type ZmqEndpointSpec, type ZmqEndpointState } from "./zmq-tracker.ts";

export type { ZmqEndpointSpec, ZmqEndpointState } from "./zmq-tracker.ts";

/** Socket timing defaults, each used unless overridden in {@link ZmqBlockNotifierOptions}. */
export const ZMQ_NOTIFIER_DEFAULTS = {
  /** ZMTP PING every 5 s (ZMQ_HEARTBEAT_IVL). */
  heartbeatIntervalMs: 5_000,
  /** Drop the connection when nothing (not even a PONG) arrived 15 s after a PING (ZMQ_HEARTBEAT_TIMEOUT). */
  heartbeatTimeoutMs: 15_000,
  /** Asks the publisher to drop us after 60 s of silence from our side (ZMQ_HEARTBEAT_TTL; 100 ms granularity). */
  heartbeatTtlMs: 60_000,
  /** First reconnect delay (ZMQ_RECONNECT_IVL); libzmq adds up to the same again as jitter. */
  reconnectIntervalMs: 1_000,
  /** Backoff ceiling (ZMQ_RECONNECT_IVL_MAX): the delay doubles per failed attempt up to this. */
  reconnectMaxIntervalMs: 10_000,
  /** A TCP connect that has not completed after this long is abandoned and retried (ZMQ_CONNECT_TIMEOUT). */
  connectTimeoutMs: 5_000,
} as const;

/** Socket timing; see {@link ZMQ_NOTIFIER_DEFAULTS}. */
export type ZmqNotifierTiming = { -readonly [K in keyof typeof ZMQ_NOTIFIER_DEFAULTS]: number };

/** Options of {@link ZmqBlockNotifier}. */
export interface ZmqBlockNotifierOptions extends Partial<ZmqNotifierTiming> {
  /** Endpoints to subscribe to (duplicates are merged). */
  endpoints: readonly ZmqEndpointSpec[];
  /** The first notification of a block (display-order hash, as getbestblockhash returns it). */
  onBlock(hashHex: string, endpoint: string): void;
  /** An endpoint connected again after a disconnect: notifications may have been lost meanwhile. */
  onReconnect?(endpoint: string): void;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
}

/** Typed events of {@link ZmqBlockNotifier} (for logs; metrics read {@link ZmqBlockNotifier.status}). */
export interface ZmqNotifierEvents {
  /** State transitions, one event each. `reconnected` is false for the first connection. */
  connected: [{ endpoint: string; reconnected: boolean }];
  disconnected: [{ endpoint: string }];
  /** The first connection attempt failed; libzmq keeps retrying with backoff. */
  unreachable: [{ endpoint: string; retryMs: number }];
  /** Every reconnection attempt (debug-level noise). */
  retry: [{ endpoint: string; retryMs: number }];
  /** Every valid notification, with the de-duplication verdict. */
  notification: [{ endpoint: string; hashHex: string; sequence: number } & HashblockVerdict];
  decodeError: [{ endpoint: string; frames: number; sizes: number[] }];
  /** A socket or reader failed unexpectedly (the socket is recreated), or `onBlock` threw. Not named "error": EventEmitter would throw without a listener. */
  failure: [{ endpoint: string; error: unknown }];
}

/** An endpoint string libzmq refused (e.g. `tcp://host` without a port). */
export class ZmqEndpointError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ZMQ_ENDPOINT", message, options);
  }
}

interface Link {
  endpoint: string;
  socket: zmq.Subscriber;
  reader: Promise<void>;
}

/** Delay before a socket whose reader failed unexpectedly is recreated. */
const RECREATE_DELAY_MS = 1_000;

/** Subscribes to every endpoint; see the module comment. `start()` once, `close()` once. */
export class ZmqBlockNotifier {
  readonly events = new EventEmitter<ZmqNotifierEvents>();
  private readonly tracker: HashblockTracker;
  private readonly timing: ZmqNotifierTiming;
  private readonly links = new Map<string, Link>();
  private readonly everConnected = new Set<string>();
  private closed = false;

  constructor(private readonly opts: ZmqBlockNotifierOptions) {
    this.tracker = new HashblockTracker(opts.endpoints, { now: opts.now ?? Date.now });
    const t = { ...ZMQ_NOTIFIER_DEFAULTS } as ZmqNotifierTiming;
    for (const k of Object.keys(t) as Array<keyof ZmqNotifierTiming>) if (opts[k] !== undefined) t[k] = opts[k];
    this.timing = t;
  }

  /** Endpoints followed, in configured order. */
  get endpoints(): string[] {
    return this.tracker.endpoints;
  }

  /** Per-endpoint state and counters (for /health and /metrics). */
  status(): ZmqEndpointState[] {
    return this.tracker.status();
  }

  /**
   * Creates and connects every socket. Connecting never waits for the publisher (libzmq connects in the
   * background and keeps retrying); throws ZMQ_ENDPOINT only for an endpoint libzmq cannot parse.
   */
  start(): void {
    if (this.closed) throw new TbgError("ZMQ_CLOSED", "ZmqBlockNotifier was closed");
    try {
      for (const endpoint of this.tracker.endpoints) if (!this.links.has(endpoint)) this.open(endpoint);
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** Closes every socket and waits for the reader loops to end. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) if (!l.socket.closed) l.socket.close();
    await Promise.all(links.map((l) => l.reader));
  }

  private open(endpoint: string): void {
    const t = this.timing;
    const socket = new zmq.Subscriber({
      linger: 0,
      heartbeatInterval: t.heartbeatIntervalMs,
      heartbeatTimeout: t.heartbeatTimeoutMs,
      heartbeatTimeToLive: t.heartbeatTtlMs,
      reconnectInterval: t.reconnectIntervalMs,
      reconnectMaxInterval: t.reconnectMaxIntervalMs,
      connectTimeout: t.connectTimeoutMs,
    });
    const ev = socket.events;
    ev.on("handshake", () => this.connected(endpoint));
    ev.on("disconnect", () => {
      if (this.tracker.onDisconnected(endpoint)) this.events.emit("disconnected", { endpoint });
    });
    ev.on("connect:retry", (e) => {
      if (this.tracker.onRetry(endpoint)) this.events.emit("unreachable", { endpoint, retryMs: e.interval });
      this.events.emit("retry", { endpoint, retryMs: e.interval });
    });
    try {
      socket.subscribe(HASHBLOCK_TOPIC);
      socket.connect(endpoint);
    } catch (err) {
      socket.close();
      throw new ZmqEndpointError(`ZMQ endpoint '${endpoint}': ${errorText(err)}`, { cause: err });
    }
    const link: Link = { endpoint, socket, reader: Promise.resolve() };
    link.reader = this.read(link);
    this.links.set(endpoint, link);
  }

  private connected(endpoint: string): void {
    if (!this.tracker.onConnected(endpoint)) return;
    const reconnected = this.everConnected.has(endpoint);
    this.everConnected.add(endpoint);
    this.events.emit("connected", { endpoint, reconnected });
    if (reconnected) this.opts.onReconnect?.(endpoint);
  }

  /** The one reader loop of a socket: runs until the socket closes. */
  private async read(link: Link): Promise<void> {
    const { endpoint, socket } = link;
    try {
      for await (const frames of socket) this.handle(endpoint, frames);
    } catch (err) {
      if (this.closed || socket.closed) return;
      // Not expected from a SUB socket (no EBUSY: this is its only reader). Start over with a fresh socket.
      this.events.emit("failure", { endpoint, error: err });
      if (this.tracker.onDisconnected(endpoint)) this.events.emit("disconnected", { endpoint });
      socket.close();
      await new Promise((r) => setTimeout(r, RECREATE_DELAY_MS).unref());
      if (this.closed || this.links.get(endpoint) !== link) return;
      this.links.delete(endpoint);
      try {
        this.open(endpoint);
      } catch (openErr) {
        this.events.emit("failure", { endpoint, error: openErr });
      }
    }
  }

  private handle(endpoint: string, frames: Buffer[]): void {
    const msg = decodeHashblock(frames);
    if (!msg) {
      this.tracker.onDecodeError(endpoint);
      this.events.emit("decodeError", { endpoint, frames: frames.length, sizes: frames.map((f) => f.length) });
      return;
    }
    // A message proves the link even when its handshake event has not been processed yet.
    this.connected(endpoint);
    const verdict = this.tracker.onMessage(endpoint, msg);
    if (verdict.first) {
      try {
        this.opts.onBlock(msg.hashHex, endpoint);
      } catch (err) {
        this.events.emit("failure", { endpoint, error: err });
      }
    }
    this.events.emit("notification", { endpoint, hashHex: msg.hashHex, sequence: msg.sequence, ...verdict });
  }
}
