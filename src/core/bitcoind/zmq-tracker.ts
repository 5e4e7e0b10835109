/**
 * Bookkeeping for several ZMQ `hashblock` endpoints announcing the same blocks:
 * which notification is the first of its block (the only one acted on), how far behind the others
 * arrive, and each endpoint's health. Pure: no sockets, no timers; the clock is injected.
 *
 * Bitcoin Core (doc/zmq.md) sends `hashblock` whenever its tip changes, with a per-topic uint32
 * sequence number: a jump in the sequence while connected means notifications were lost (the
 * publisher's high-water mark dropped them); a sequence back at 0 means the publisher restarted.
 * PUB/SUB has no replay, so nothing is known about what was sent while disconnected: the expected
 * sequence is forgotten on every disconnect.
 */
import type { HashblockMessage } from "./zmq-format.ts";

/** One endpoint to follow. */
export interface ZmqEndpointSpec {
  /** `tcp://host:port` or `ipc://path`. */
  endpoint: string;
  /** Where it was configured, e.g. `btcd[1].zmqnotify` or `zmqblock`. Default: "". */
  source?: string;
  /** The `btcd` entry it belongs to; null for `zmqblock`. Default null. */
  btcdIndex?: number | null;
}

/** Per-endpoint failure counters. */
export type ZmqFailures = {
  /** Connections lost (publisher closed, network dropped, heartbeat timeout). */
  disconnects: number;
  /** Messages on the subscribed topic that are not a valid 3-frame hashblock. */
  decodeErrors: number;
  /** Sequence jumps while connected (each jump counts once). */
  sequenceGaps: number;
  /** Notifications lost inside those jumps (sum of the skipped sequence numbers). */
  missed: number;
};

/**
 * What `/health` (zmq section) and `/metrics` show for one endpoint. A type alias rather than an
 * interface so it is assignable to the app layer's open `ZmqEndpointStatus` record.
 */
export type ZmqEndpointState = {
  endpoint: string;
  source: string;
  btcdIndex: number | null;
  /** Same as `connected` (the generic field the app layer reads). */
  healthy: boolean;
  /** ZMTP handshake done and not disconnected since. */
  connected: boolean;
  /** "connecting" (never connected yet), "connected" or "disconnected". */
  state: "connecting" | "connected" | "disconnected";
  /** When the current state began, ms since the epoch. */
  sinceMs: number;
  /** Last valid notification, ms since the epoch; null before the first. */
  lastMessageAtMs: number | null;
  /** Valid `hashblock` notifications received. */
  messages: number;
  /** How often this endpoint's notification was the first of its block. */
  first: number;
  /** Copies of blocks another endpoint had already announced. */
  duplicates: number;
  /** Mean lag behind the first copy over this endpoint's notifications (0 for the ones it was first with), ms; null before any. */
  avgLagMs: number | null;
  /** Lag of the latest notification behind the first copy, ms. */
  lastLagMs: number | null;
  /** Reconnection attempts (libzmq `connect:retry`). */
  reconnectAttempts: number;
  /** Sequence number of the last notification (reset on disconnect). */
  lastSequence: number | null;
  failures: ZmqFailures;
  /** Sum of the failure counters except `missed`. */
  failuresTotal: number;
};

/** What {@link HashblockTracker.onMessage} concluded. */
export interface HashblockVerdict {
  /** First notification of this block on any endpoint: act on it. */
  first: boolean;
  /** Endpoint that announced it first (this one when `first`). */
  firstEndpoint: string;
  /** ms behind the first copy (0 when first). */
  lagMs: number;
  /** Set when the sequence jumped: how many notifications were skipped. */
  gap: { expected: number; got: number; missed: number } | null;
  /** The sequence restarted at 0 without a disconnect (publisher restarted). */
  restarted: boolean;
}

interface Round {
  firstEndpoint: string;
  firstAtMs: number;
  seen: Set<string>;
}

interface EndpointBook extends Omit<ZmqEndpointState, "healthy" | "connected" | "avgLagMs" | "failuresTotal" | "failures"> {
  failures: ZmqFailures;
  lagSumMs: number;
}

/** Blocks remembered for de-duplication (far more than can arrive within any endpoint's lag). */
const DEFAULT_REMEMBERED_BLOCKS = 256;

/** De-duplicates notifications across endpoints and keeps per-endpoint statistics. */
export class HashblockTracker {
  private readonly books = new Map<string, EndpointBook>();
  private readonly rounds = new Map<string, Round>();
  private readonly now: () => number;
  private readonly maxRemembered: number;

  constructor(endpoints: readonly ZmqEndpointSpec[], opts: { now: () => number; maxRememberedBlocks?: number }) {
    this.now = opts.now;
    this.maxRemembered = opts.maxRememberedBlocks ?? DEFAULT_REMEMBERED_BLOCKS;
    const t = this.now();
    for (const e of endpoints) {
      if (this.books.has(e.endpoint)) continue;
      this.books.set(e.endpoint, {
        endpoint: e.endpoint,
        source: e.source ?? "",
        btcdIndex: e.btcdIndex ?? null,
        state: "connecting",
        sinceMs: t,
        lastMessageAtMs: null,
        messages: 0,
        first: 0,
        duplicates: 0,
        lastLagMs: null,
        reconnectAttempts: 0,
        lastSequence: null,
        failures: { disconnects: 0, decodeErrors: 0, sequenceGaps: 0, missed: 0 },
        lagSumMs: 0,
      });
    }
  }

  /** The endpoints, in the order given. */
  get endpoints(): string[] {
    return [...this.books.keys()];
  }

  /** Handshake done. Returns true on a transition (log it). */
  onConnected(endpoint: string): boolean {
    const b = this.book(endpoint);
    if (b.state === "connected") return false;
    b.state = "connected";
    b.sinceMs = this.now();
    return true;
  }

  /** Connection lost. Returns true on a transition (log it); counts a failure only when it was connected. */
  onDisconnected(endpoint: string): boolean {
    const b = this.book(endpoint);
    b.lastSequence = null; // whatever was published meanwhile is lost (no replay): nothing to compare with
    if (b.state !== "connected") return false;
    b.state = "disconnected";
    b.sinceMs = this.now();
    b.failures.disconnects++;
    return true;
  }

  /**
   * A connection attempt failed and libzmq will retry. Returns true when this is the first failure
   * since start (state "connecting" becomes "disconnected": log that the endpoint is unreachable).
   */
  onRetry(endpoint: string): boolean {
    const b = this.book(endpoint);
    b.reconnectAttempts++;
    if (b.state !== "connecting") return false;
    b.state = "disconnected";
    b.sinceMs = this.now();
    return true;
  }

  /** A message on the topic that is not a valid hashblock. */
  onDecodeError(endpoint: string): void {
    this.book(endpoint).failures.decodeErrors++;
  }

  /** A valid notification. Decides whether it is the first of its block and updates the statistics. */
  onMessage(endpoint: string, msg: HashblockMessage): HashblockVerdict {
    const b = this.book(endpoint);
    const t = this.now();
    // A message proves the connection even if the handshake event was missed.
    if (b.state !== "connected") this.onConnected(endpoint);
    b.messages++;
    b.lastMessageAtMs = t;

    let gap: HashblockVerdict["gap"] = null;
    let restarted = false;
    if (b.lastSequence !== null) {
      const expected = (b.lastSequence + 1) >>> 0;
      if (msg.sequence !== expected) {
        if (msg.sequence === 0) restarted = true;
        else {
          const missed = msg.sequence > expected ? msg.sequence - expected : 0;
          gap = { expected, got: msg.sequence, missed };
          b.failures.sequenceGaps++;
          b.failures.missed += missed;
        }
      }
    }
    b.lastSequence = msg.sequence;

    let round = this.rounds.get(msg.hashHex);
    // The same endpoint announcing a block again means its tip moved away and back (a reorg):
    // a new event, acted on again.
    if (round?.seen.has(endpoint)) {
      this.rounds.delete(msg.hashHex);
      round = undefined;
    }
    let first = false;
    let lagMs = 0;
    if (!round) {
      first = true;
      round = { firstEndpoint: endpoint, firstAtMs: t, seen: new Set([endpoint]) };
      this.rounds.set(msg.hashHex, round);
      if (this.rounds.size > this.maxRemembered) this.rounds.delete(this.rounds.keys().next().value as string);
      b.first++;
    } else {
      round.seen.add(endpoint);
      lagMs = Math.max(0, t - round.firstAtMs);
      b.duplicates++;
    }
    b.lagSumMs += lagMs;
    b.lastLagMs = lagMs;
    return { first, firstEndpoint: round.firstEndpoint, lagMs, gap, restarted };
  }

  /** Snapshot of every endpoint (copies; safe to keep). */
  status(): ZmqEndpointState[] {
    return [...this.books.values()].map((b) => {
      const connected = b.state === "connected";
      const f = b.failures;
      return {
        endpoint: b.endpoint,
        source: b.source,
        btcdIndex: b.btcdIndex,
        healthy: connected,
        connected,
        state: b.state,
        sinceMs: b.sinceMs,
        lastMessageAtMs: b.lastMessageAtMs,
        messages: b.messages,
        first: b.first,
        duplicates: b.duplicates,
        avgLagMs: b.messages > 0 ? b.lagSumMs / b.messages : null,
        lastLagMs: b.lastLagMs,
        reconnectAttempts: b.reconnectAttempts,
        lastSequence: b.lastSequence,
        failures: { ...f },
        failuresTotal: f.disconnects + f.decodeErrors + f.sequenceGaps,
      };
    });
  }

  private book(endpoint: string): EndpointBook {
    const b = this.books.get(endpoint);
    if (!b) throw new RangeError(`unknown ZMQ endpoint ${endpoint}`);
    return b;
  }
}
