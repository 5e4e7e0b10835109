/**
 * The Stratum TCP server: accepts miners on every `serverurl`, frames lines, enforces connection-level
 * limits (maxclients, max line length, per-connection message rate, idle timeout for connections
 * that never authorize; send-queue cap and write timeout for miners that never read), and fans new work
 * out to every session. Protocol logic lives in Session; this file is transport and limits only.
 */
import net from "node:net";
import { LineDecoder } from "./framing.ts";
import { Session, type SessionHost } from "./session.ts";
import { encodeError, Errors } from "./messages.ts";
import { errorTuple, StratumCode } from "./errors.ts";
import type { Job } from "../work/jobs.ts";
import { listenError } from "../../util/ports.ts";

/** Housekeeping slices per tickMs (tickSlice). */
const TICK_SLICES = 10;

export interface ListenAddress {
  host: string;
  port: number;
  /** Start difficulty for connections on this listener (ckpool's high-difficulty ports); default the pool's `startdiff`. */
  startDifficulty?: number;
}

/**
 * The IPv6 /48 an address belongs to (`"2001:db8:1::/48"`), or null for IPv4 and `::ffff:`-mapped
 * IPv4 (their own per-IP key already covers them). The per-/48 limit counts under this key.
 */
export function ipv6Prefix48(ip: string): string | null {
  const addr = ip.replace(/%.*$/, "").toLowerCase();
  if (!addr.includes(":") || /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(addr)) return null;
  const [head = "", tail = ""] = addr.split("::", 2) as [string, string?];
  const left = head === "" ? [] : head.split(":");
  const right = addr.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = addr.includes("::") ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  const g = groups.slice(0, 3).map((x) => (parseInt(x, 16) || 0).toString(16));
  while (g.length < 3) g.push("0");
  return `${g.join(":")}::/48`;
}

export interface StratumServerOptions {
  listen: ListenAddress[];
  /** Most concurrent connections (0 = unlimited). */
  maxClients: number;
  /** Most concurrent connections from one address, as `ipKey` groups them (0 = unlimited). */
  maxConnectionsPerIp: number;
  /**
   * The key the per-IP limit counts under. Default: the address as the socket reports it. The engine
   * passes the ban key (`::ffff:` folded to IPv4, IPv6 grouped by /64), so one host cannot multiply
   * its slots by rotating the interface id of its prefix.
   */
  ipKey?: (ip: string) => string;
  /**
   * Most concurrent connections from one IPv6 /48 (the key {@link ipv6Prefix48} builds: the first
   * three groups), whatever their /64s: a site is usually given a /48, so rotating /64s cannot
   * multiply the per-IP slots past this. 0 = unlimited. Allow-listed addresses are exempt.
   */
  maxConnectionsPerIpv6Prefix?: number;
  /** Addresses exempt from the per-IP limit (the engine passes `bans.allowlist`: farms behind one NAT address). */
  perIpExempt?: (ip: string) => boolean;
  /** Longest inbound line (bytes). */
  maxLineBytes: number;
  /** Seconds a connection may stay without authorizing. */
  authTimeoutSec: number;
  /** Seconds an authorized connection may go without submitting a share before it is dropped (ckpool `dropidle`; 0 = never). */
  dropIdleSec?: number;
  /** Seconds a connection may stay without any accepted share before it is dropped (reason `shareless`; 0 = never). */
  dropSharelessSec?: number;
  /** Sustained messages per second per connection (token bucket rate; 0 = unlimited). */
  messageRatePerSec: number;
  /** Token bucket size: lines a connection may send at once (`stratum.message_burst`). Default max(10, 2 × rate). */
  messageBurst?: number;
  /**
   * Junk lines (invalid JSON, not a request, malformed params) a connection may send per minute before
   * it is dropped (`protocol_errors`). Bans act across connections; this bounds one connection even
   * for allow-listed peers. Default 20.
   */
  maxProtocolErrorsPerMin?: number;
  /** Bytes a connection may have queued for sending before it is dropped. */
  sendQueueMaxBytes: number;
  /** Seconds the send queue may stay non-empty without draining before the connection is dropped. */
  writeTimeoutSec: number;
  /**
   * Bytes queued for sending across all connections. `sendQueueMaxBytes` alone bounds memory only to
   * maxclients × that (tens of GB at the defaults); past this total the most backlogged connections are
   * dropped (`send_queue_full`) at the next housekeeping tick. Default 256 MiB.
   */
  sendQueueTotalMaxBytes?: number;
  /** Housekeeping period (ms): timeouts, vardiff for silent miners. Each connection is visited once per period, in 10 slices. */
  tickMs?: number;
  /** Decides whether an IP may connect (bans live outside). */
  admit?: (ip: string) => { ok: true } | { ok: false; reason: string };
}

/** Why a connection ended (a counter label and an event field). */
export type CloseReason =
  | "client_closed"
  | "socket_error"
  | "line_too_long"
  | "auth_timeout"
  | "rate_limited"
  | "send_queue_full"
  | "write_timeout"
  | "shutdown"
  | "banned"
  | "protocol_errors"
  | "protocol";

export interface StratumServerEvents {
  onSessionOpened?(session: Session): void;
  onSessionClosed?(session: Session, reason: CloseReason | string): void;
  /** A connection refused before it got a session (maxclients, per-IP limit, ban). */
  onRefused?(ip: string, reason: string): void;
  onRateLimited?(session: Session): void;
}

interface Conn {
  socket: net.Socket;
  /** What the per-IP limit counts this connection under. */
  ipKey: string;
  /** Its IPv6 /48 for the aggregate limit, null for IPv4. */
  prefixKey: string | null;
  session: Session;
  decoder: LineDecoder;
  tokens: number;
  lastRefillMs: number;
  rateViolations: number;
  /** Junk-line score: +1 per junk line, decays by maxProtocolErrorsPerMin per minute. */
  junkScore: number;
  junkSeen: number;
  /** Since when the send queue has been non-empty (0 = empty). */
  backloggedSinceMs: number;
  closeReason: string | null;
  /** True while the lines of one socket read are being handled: replies gather in `pending`. */
  gathering: boolean;
  /** Replies to the current read, written with one `socket.write` when the read is handled. */
  pending: string;
}

export class StratumServer {
  private readonly servers: net.Server[] = [];
  private readonly conns = new Set<Conn>();
  private readonly perIp = new Map<string, number>();
  private readonly perPrefix = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** Housekeeping: the connections of the current round and the next slice (tickSlice). */
  private tickList: Conn[] = [];
  private tickSliceNo = 0;
  private accepting = false;
  /** Resolve when each listener has fully closed (after its last connection ended). */
  private listenerClosed: Array<Promise<void>> = [];
  /** Addresses actually bound (port 0 resolved). */
  readonly bound: ListenAddress[] = [];

  constructor(
    private readonly host: SessionHost,
    private readonly opts: StratumServerOptions,
    private readonly events: StratumServerEvents = {},
  ) {}

  get connectionCount(): number {
    return this.conns.size;
  }

  *sessions(): Iterable<Session> {
    for (const c of this.conns) yield c.session;
  }

  async start(): Promise<void> {
    this.accepting = true;
    for (const addr of this.opts.listen) {
      const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (s) => this.accept(s, addr.startDifficulty));
      server.on("error", () => {}); // listen errors surface through the promise below; later errors are per socket
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(listenError({ component: "Stratum", host: addr.host, port: addr.port, setting: "serverurl" }, err));
        server.once("error", onError);
        server.listen({ host: addr.host, port: addr.port, backlog: 1024 }, () => {
          server.off("error", onError);
          resolve();
        });
      });
      const a = server.address() as net.AddressInfo;
      this.bound.push({ host: addr.host, port: a.port, startDifficulty: addr.startDifficulty });
      this.servers.push(server);
    }
    this.timer = setInterval(() => this.tickSlice(), Math.max(1, (this.opts.tickMs ?? 1000) / TICK_SLICES));
    this.timer.unref();
  }

  private accept(socket: net.Socket, startDifficulty: number | undefined): void {
    const ip = socket.remoteAddress ?? "unknown";
    const refuse = (reason: string) => {
      this.events.onRefused?.(ip, reason);
      socket.destroy();
    };
    if (!this.accepting) return refuse("shutdown");
    // Bans first: a banned peer must not take a slot or count toward its IP's limit (miningcore checks at accept).
    const admitted = this.opts.admit?.(ip);
    if (admitted && !admitted.ok) return refuse(admitted.reason);
    if (this.opts.maxClients > 0 && this.conns.size >= this.opts.maxClients) return refuse("maxclients");
    const ipKey = this.opts.ipKey ? this.opts.ipKey(ip) : ip;
    const fromIp = this.perIp.get(ipKey) ?? 0;
    if (this.opts.maxConnectionsPerIp > 0 && fromIp >= this.opts.maxConnectionsPerIp && !this.opts.perIpExempt?.(ip)) return refuse("per_ip_limit");
    const prefix = ipv6Prefix48(ip);
    const fromPrefix = prefix === null ? 0 : (this.perPrefix.get(prefix) ?? 0);
    const prefixMax = this.opts.maxConnectionsPerIpv6Prefix ?? 0;
    if (prefix !== null && prefixMax > 0 && fromPrefix >= prefixMax && !this.opts.perIpExempt?.(ip)) return refuse("per_prefix_limit");
    this.perIp.set(ipKey, fromIp + 1);
    if (prefix !== null) this.perPrefix.set(prefix, fromPrefix + 1);

    socket.setKeepAlive(true, 60_000); // half-open peers are found by TCP keepalive
    socket.setNoDelay(true);
    const now = this.host.now();
    // eslint-disable-next-line prefer-const
    let conn: Conn;
    const transport = {
      remoteAddress: ip,
      send: (data: string) => this.write(conn, data),
      close: (reason: string) => this.drop(conn, reason),
    };
    const session = new Session(this.host, transport, { startDifficulty });
    const decoder = new LineDecoder({
      maxLineBytes: this.opts.maxLineBytes,
      onLine: (line) => this.onLine(conn, line),
      onViolation: (v) => {
        this.write(conn, encodeError(null, errorTuple(StratumCode.Other, `Line exceeds ${v.limitBytes} bytes`)));
        this.drop(conn, "line_too_long");
      },
    });
    conn = { socket, ipKey, prefixKey: prefix, session, decoder, tokens: this.burst(), lastRefillMs: now, rateViolations: 0, junkScore: 0, junkSeen: 0, backloggedSinceMs: 0, closeReason: null, gathering: false, pending: "" };
    this.conns.add(conn);
    socket.on("data", (chunk: Buffer) => this.onData(conn, chunk));
    socket.on("error", () => this.drop(conn, "socket_error"));
    socket.on("close", () => this.closed(conn));
    socket.on("end", () => this.drop(conn, "client_closed"));
    socket.on("drain", () => (conn.backloggedSinceMs = 0));
    this.events.onSessionOpened?.(session);
  }

  private burst(): number {
    return this.opts.messageBurst ?? Math.max(10, this.opts.messageRatePerSec * 2);
  }

  private get junkLimit(): number {
    return this.opts.maxProtocolErrorsPerMin ?? 20;
  }

  private onLine(conn: Conn, line: string): void {
    if (conn.closeReason) return;
    if (this.opts.messageRatePerSec > 0) {
      const now = this.host.now();
      conn.tokens = Math.min(this.burst(), conn.tokens + ((now - conn.lastRefillMs) / 1000) * this.opts.messageRatePerSec);
      conn.lastRefillMs = now;
      if (conn.tokens < 1) {
        conn.rateViolations++;
        this.events.onRateLimited?.(conn.session);
        // A flood far past the limit is not a miner: drop it. A short overshoot only loses the extra lines.
        if (conn.rateViolations > this.burst()) return this.drop(conn, "rate_limited");
        this.write(conn, encodeError(null, errorTuple(StratumCode.Other, "Rate limit exceeded")));
        return;
      }
      conn.tokens -= 1;
    }
    try {
      conn.session.handleLine(line);
    } catch (err) {
      // A bug must cost one connection, never the server.
      this.host.reports.onProtocolError(conn.session, "internal_error", String(err));
      this.write(conn, encodeError(null, Errors.badParams("internal error")));
      this.drop(conn, "protocol");
      return;
    }
    const junk = conn.session.protocolErrorCount - conn.junkSeen;
    if (junk > 0) {
      conn.junkSeen += junk;
      conn.junkScore += junk;
      if (conn.junkScore > this.junkLimit) this.drop(conn, "protocol_errors");
    }
  }

  /**
   * One socket read: every line in it is handled, and the replies (and anything else sent to this
   * connection meanwhile, e.g. a vardiff set_difficulty and job) go out in one write, one syscall,
   * instead of one per reply.
   */
  private onData(conn: Conn, chunk: Buffer): void {
    conn.gathering = true;
    try {
      conn.decoder.push(chunk);
    } finally {
      conn.gathering = false;
      if (conn.pending !== "") this.flush(conn);
    }
  }

  private write(conn: Conn, data: string): void {
    if (conn.closeReason || conn.socket.destroyed) return;
    // The send-queue cap counts what is gathered for this read as queued.
    if (conn.socket.writableLength + conn.pending.length + data.length > this.opts.sendQueueMaxBytes) return this.drop(conn, "send_queue_full");
    if (conn.gathering) conn.pending += data;
    else this.socketWrite(conn, data);
  }

  /** Writes what was gathered for the current read. */
  private flush(conn: Conn): void {
    const data = conn.pending;
    conn.pending = "";
    if (!conn.socket.destroyed) this.socketWrite(conn, data);
  }

  /** One socket write; a full stream buffer starts the write-timeout clock. */
  private socketWrite(conn: Conn, data: string): void {
    const flushed = conn.socket.write(data);
    if (!flushed && conn.backloggedSinceMs === 0) conn.backloggedSinceMs = this.host.now();
  }

  private drop(conn: Conn, reason: string): void {
    if (conn.closeReason) return;
    conn.closeReason = reason;
    conn.decoder.stop();
    if (reason === "send_queue_full" || reason === "write_timeout" || reason === "socket_error") {
      conn.pending = "";
      conn.socket.destroy();
    } else {
      // What was gathered for this read (e.g. the error that explains the close) goes out before the FIN.
      if (conn.pending !== "") this.flush(conn);
      conn.socket.end();
    }
    // A peer that ignores FIN must not hold the socket forever.
    setTimeout(() => conn.socket.destroy(), 2000).unref();
  }

  private closed(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    const n = (this.perIp.get(conn.ipKey) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.ipKey);
    else this.perIp.set(conn.ipKey, n);
    const prefix = conn.prefixKey;
    if (prefix !== null) {
      const m = (this.perPrefix.get(prefix) ?? 1) - 1;
      if (m <= 0) this.perPrefix.delete(prefix);
      else this.perPrefix.set(prefix, m);
    }
    conn.session.dispose();
    this.events.onSessionClosed?.(conn.session, conn.closeReason ?? "client_closed");
  }

  /**
   * Sends a job to every working session; returns how long the fan-out took (ms). A job is one line per
   * session, written as is: cork/uncork around a single write only sent it through the writev path.
   */
  broadcast(job: Job): number {
    const t0 = performance.now();
    for (const c of this.conns) {
      if (c.closeReason) continue;
      c.session.sendJob(job);
    }
    return performance.now() - t0;
  }

  /**
   * Housekeeping in slices: every tickMs / TICK_SLICES the next slice of the connections (a snapshot taken
   * at the first slice), so each connection is still visited once per tickMs but no single pass walks all of
   * them: at 10,000 connections one pass held the event loop for milliseconds, and every share reply that
   * arrived meanwhile waited (the submit round trip's p99).
   */
  private tickSlice(): void {
    if (this.tickSliceNo === 0) {
      this.enforceTotalSendQueue();
      this.tickList = [...this.conns];
    }
    const n = this.tickList.length;
    const from = Math.floor((n * this.tickSliceNo) / TICK_SLICES);
    const to = Math.floor((n * (this.tickSliceNo + 1)) / TICK_SLICES);
    this.tickSliceNo = (this.tickSliceNo + 1) % TICK_SLICES;
    const now = this.host.now();
    const authDeadline = this.opts.authTimeoutSec * 1000;
    for (let i = from; i < to; i++) this.tickConn(this.tickList[i], now, authDeadline);
    if (this.tickSliceNo === 0) this.tickList = [];
  }

  private tickConn(c: Conn, now: number, authDeadline: number): void {
    if (c.closeReason || !this.conns.has(c)) return;
    if (!c.session.isAuthorized && authDeadline > 0 && now - c.session.connectedAtMs > authDeadline) {
      this.drop(c, "auth_timeout");
      return;
    }
    const idleMs = (this.opts.dropIdleSec ?? 0) * 1000;
    if (idleMs > 0 && c.session.isAuthorized && now - Math.max(c.session.lastShareMs, c.session.connectedAtMs) > idleMs) {
      this.drop(c, "idle");
      return;
    }
    const sharelessMs = (this.opts.dropSharelessSec ?? 0) * 1000;
    if (sharelessMs > 0 && c.session.sharesAccepted === 0 && now - c.session.connectedAtMs > sharelessMs) {
      this.drop(c, "shareless");
      return;
    }
    // The write timeout runs from when the queue was last empty: a miner gets a job every ~30 s, so
    // an honest one empties it within milliseconds; one that cannot in write_timeout_sec is stalled or
    // trickle-reading. Checked here too because a queue below the stream's high-water mark never
    // makes write() return false.
    if (c.socket.writableLength === 0) c.backloggedSinceMs = 0;
    else if (c.backloggedSinceMs === 0) c.backloggedSinceMs = now;
    if (c.backloggedSinceMs > 0 && now - c.backloggedSinceMs > this.opts.writeTimeoutSec * 1000) {
      this.drop(c, "write_timeout");
      return;
    }
    if (c.rateViolations > 0) c.rateViolations = Math.max(0, c.rateViolations - this.opts.messageRatePerSec);
    if (c.junkScore > 0) c.junkScore = Math.max(0, c.junkScore - (this.junkLimit * (this.opts.tickMs ?? 1000)) / 60_000);
    c.session.tick(now);
  }

  /** Bytes queued for sending, all connections together (for /metrics). */
  get queuedBytes(): number {
    let total = 0;
    for (const c of this.conns) if (!c.closeReason) total += c.socket.writableLength;
    return total;
  }

  /** Drops the most backlogged connections while the total send queue is over its cap. */
  private enforceTotalSendQueue(): void {
    const cap = this.opts.sendQueueTotalMaxBytes ?? 256 * 1024 * 1024;
    let total = this.queuedBytes;
    if (total <= cap) return;
    const backlogged = [...this.conns].filter((c) => !c.closeReason && c.socket.writableLength > 0).sort((a, b) => b.socket.writableLength - a.socket.writableLength);
    for (const c of backlogged) {
      if (total <= cap) break;
      total -= c.socket.writableLength;
      this.drop(c, "send_queue_full");
    }
  }

  /**
   * Stops accepting new connections at once; existing ones stay. (net.Server#close's callback only
   * fires after the last connection ends, so it is not awaited here: `close()` waits for it, bounded.)
   */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    for (const s of this.servers.splice(0)) {
      if (!s.listening) continue;
      this.listenerClosed.push(new Promise<void>((r) => s.close(() => r())));
    }
  }

  /** Asks every miner to reconnect (client.reconnect), then closes all connections. */
  async close(opts: { reconnect?: boolean; graceMs?: number } = {}): Promise<void> {
    await this.stopAccepting();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const c of this.conns) {
      if (opts.reconnect) c.session.sendReconnect();
      this.drop(c, "shutdown");
    }
    const deadline = Date.now() + (opts.graceMs ?? 2000);
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns) c.socket.destroy();
    await Promise.all(this.listenerClosed.splice(0));
  }
}
