/**
 * The collector's datagram input: binds the engine's Unix datagram event socket and feeds
 * every valid event to the batcher. The socket belongs to the collector, not to the engine: it is bound
 * before the engine starts and stays bound while engines come and go (the engine only sends to the
 * path, so an engine restart never touches it).
 *
 * The receive path does nothing but validate and queue (the kernel holds only
 * `net.unix.max_dgram_qlen` datagrams). Malformed datagrams are counted by reason and reported through
 * `onMalformed`; they never reach the batcher, so they cannot poison a batch.
 */
import { DgramReader, type DgramReaderStats, type ReaderMessage } from "../events/dgram-reader.ts";
import type { Batcher, EventOutcome } from "../storage/batcher.ts";
import { emptyMalformedCounts, malformedReason, type MalformedReason } from "./malformed.ts";

/** Options of {@link SocketInput}. */
export interface SocketInputOptions {
  /** Path to bind, e.g. `/tmp/ckpool/events.sock` (directory created if missing; a stale file is taken over). */
  socketPath: string;
  /** chmod of the socket file (the engine needs write permission), e.g. 0o660. Default: as the umask gives. */
  socketMode?: number;
  batcher: Batcher;
  /** A datagram failed validation (for rate-limited logging). */
  onMalformed?: (reason: MalformedReason, error: string) => void;
}

/** Counters of a {@link SocketInput}. */
export interface SocketInputStats {
  path: string;
  /** Currently bound. */
  bound: boolean;
  /** Datagrams received (valid or not). */
  received: number;
  /** Malformed datagrams by reason. */
  malformed: Record<MalformedReason, number>;
  /** Valid events the batcher refused (queue full, or closing): lost, the engine does not resend. */
  dropped: number;
  /** Socket errors (the reader re-binds after each). */
  socketErrors: number;
}

/** See the module comment. */
export class SocketInput {
  private reader: DgramReader | undefined;
  private closed = false;
  private received = 0;
  private dropped = 0;
  private readonly malformed = emptyMalformedCounts();
  private readonly onOutcome = (outcome: EventOutcome) => {
    if (outcome === "dropped" || outcome === "aborted") this.dropped++;
  };

  constructor(private readonly o: SocketInputOptions) {}

  /** Binds the socket. Throws EVENTS_SOCKET_IN_USE when another live reader holds the path. */
  async start(): Promise<void> {
    if (this.reader) return;
    const reader = new DgramReader({ socketPath: this.o.socketPath, mode: this.o.socketMode, onMessage: (m) => this.onMessage(m) });
    await reader.start();
    this.reader = reader;
  }

  /** Unbinds and removes the socket file (if it is still ours). */
  async close(): Promise<void> {
    this.closed = true;
    await this.reader?.close();
  }

  stats(): SocketInputStats {
    const r: DgramReaderStats | undefined = this.reader?.stats();
    return {
      path: this.o.socketPath,
      bound: this.reader !== undefined && !this.closed,
      received: this.received,
      malformed: { ...this.malformed },
      dropped: this.dropped,
      socketErrors: r?.socketErrors ?? 0,
    };
  }

  private onMessage(m: ReaderMessage): void {
    this.received++;
    if (m.ok) {
      this.o.batcher.push(m.event, this.onOutcome);
      return;
    }
    const reason = malformedReason(m.error);
    this.malformed[reason]++;
    this.o.batcher.countMalformed();
    this.o.onMalformed?.(reason, m.error);
  }
}
