/**
 * The collector's datagram input: binds the engine's Unix datagram event socket and feeds
 * every valid event to the batcher. The socket belongs to the collector, not to the engine: it is bound
 * before the engine starts and stays bound while engines come and go (the engine only sends to the
 * path, so an engine restart never touches it).
 *
 * The receive path does nothing but validate and queue (the kernel holds only
 * `net.unix.max_dgram_qlen` datagrams). Malformed datagrams are counted by reason and reported through
 * `onMalformed`; they never reach the batcher, so they cannot poison a batch.
 *
 * Every `watchIntervalMs` it checks that the path still names the socket it bound: a socket unlinked
 * (and perhaps replaced by another user's) would otherwise leave the collector reading nothing, with
 * no sign of it. A missing path is re-bound at once; a replaced one stays reported (health degraded,
 * `onPathProblem`) until it is fixed: the collector does not remove a file it did not create.
 */
import { DgramReader, type DgramReaderStats, type ReaderMessage } from "../events/dgram-reader.ts";
import type { Batcher, EventOutcome } from "../storage/batcher.ts";
import { emptyMalformedCounts, malformedReason, type MalformedReason } from "./malformed.ts";

/** Options of {@link SocketInput}. */
export interface SocketInputOptions {
  /** Path to bind, e.g. `/run/tbg/events.sock` (directory created if missing; a stale file is taken over). */
  socketPath: string;
  /** chmod of the socket file (the engine needs write permission), e.g. 0o660. Default: as the umask gives. */
  socketMode?: number;
  batcher: Batcher;
  /** A datagram failed validation (for rate-limited logging). */
  onMalformed?: (reason: MalformedReason, error: string) => void;
  /** How often the socket path is checked, ms. Default 1 000. */
  watchIntervalMs?: number;
  /** The path no longer names our socket (`problem`), or it does again (`null`). */
  onPathProblem?: (problem: string | null) => void;
}

/** Counters of a {@link SocketInput}. */
export interface SocketInputStats {
  path: string;
  /** Currently bound. */
  bound: boolean;
  /** Events received (valid or not): one a datagram, or one a line of a datagram carrying several. */
  received: number;
  /** Malformed events by reason. */
  malformed: Record<MalformedReason, number>;
  /** Valid events the batcher refused (queue full, or closing): lost, the engine does not resend. */
  dropped: number;
  /** Socket errors (the reader re-binds after each). */
  socketErrors: number;
  /** Why the path no longer names the socket this collector reads (null when it does). */
  pathProblem: string | null;
  /** Times the socket was bound again after its path went missing. */
  rebinds: number;
}

/** See the module comment. */
export class SocketInput {
  private reader: DgramReader | undefined;
  private closed = false;
  private received = 0;
  private dropped = 0;
  private readonly malformed = emptyMalformedCounts();
  private watchTimer: NodeJS.Timeout | undefined;
  private watching = false;
  private pathProblem: string | null = null;
  private rebinds = 0;
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
    this.watchTimer = setInterval(() => void this.watch(), this.o.watchIntervalMs ?? 1_000);
    this.watchTimer.unref();
  }

  /** One check of the socket path (see the module comment). */
  async watch(): Promise<void> {
    const reader = this.reader;
    if (!reader || this.closed || this.watching) return;
    this.watching = true;
    try {
      const state = await reader.pathState();
      if (state === "ok" || state === "unbound") return this.setProblem(null);
      if (state === "replaced") {
        return this.setProblem(`${this.o.socketPath} no longer names the socket this collector reads: another process replaced it and may be receiving the events; find who (ss -xlp), remove it, restart the collector`);
      }
      this.setProblem(`${this.o.socketPath} was removed: events sent there were lost; binding it again`);
      await reader.rebind();
      this.rebinds++;
      this.setProblem(null);
    } catch (err) {
      this.setProblem(`${this.o.socketPath}: cannot bind it again: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.watching = false;
    }
  }

  private setProblem(problem: string | null): void {
    if (problem === this.pathProblem) return;
    this.pathProblem = problem;
    this.o.onPathProblem?.(problem);
  }

  /** Unbinds and removes the socket file (if it is still ours). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
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
      pathProblem: this.pathProblem,
      rebinds: this.rebinds,
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
