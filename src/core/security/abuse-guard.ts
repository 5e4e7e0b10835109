/**
 * Turns what the engine observes (protocol errors, disconnects, share verdicts) into ban strikes, and a
 * ban into disconnecting every session of the banned peer. Also keeps the hardening counters
 * (protocol errors by kind, disconnects by reason, refusals by reason, rate-limited lines, bans) that
 * /metrics and the tests read through `stats()`.
 *
 * Which observations earn a strike:
 * - junk lines: invalid JSON, not a request object, malformed params (miningcore `banOnJunkReceive`);
 * - failed authorizations (miningcore bans 60 s on one; we count them);
 * - a line over the length limit; a disconnect for flooding past the message rate limit;
 * - invalid-share floods: of `invalidShareWindow` consecutive shares from one address (IPv4, or IPv6
 *   /64 as bans key it; all its connections together, so reconnecting does not reset the count), at
 *   least `invalidShareRatio` rejected (stale shares excepted: a new block makes honest miners send a few);
 * - connection churn: every `churnPerStrike` connections from one address within the ban window that
 *   the client closed without an accepted share after less than `churnSessionMs` (subscribe, authorize,
 *   close: a flood of cheap connections that costs the pool events and work, never a valid share).
 * Unknown methods are answered and not struck (an error, not a disconnect).
 */
import { EventEmitter } from "node:events";
import { RejectReason } from "../shares/reject.ts";
import type { ShareVerdict } from "../shares/validator.ts";
import { BanList, StrikeReason, type BanInfo, type BanStats } from "./bans.ts";

/** A live connection the guard may drop (a Stratum session satisfies it): its peer, and a way to close it. */
export interface GuardedConnection {
  readonly isClosed: boolean;
  readonly transport: { readonly remoteAddress: string; close(reason: string): void };
}

/** Who an engine event is about: the session id and its peer address (a session snapshot satisfies it). */
export interface PeerRef {
  readonly id: string;
  readonly ip: string;
  readonly connectedAtMs: number;
  readonly sharesAccepted: number;
}
type Session = PeerRef;

/** The protocolError kinds that count as junk. */
const JUNK_KINDS = new Set(["invalid_json", "not_a_request", "bad_params"]);

/** The part of the engine bus the guard listens to. */
export interface GuardBus {
  on(event: "protocolError", fn: (e: { session: Session; kind: string; detail: string }) => void): unknown;
  on(event: "disconnected", fn: (e: { session: Session; reason: string }) => void): unknown;
  on(event: "refused", fn: (e: { ip: string; reason: string }) => void): unknown;
  on(event: "rateLimited", fn: (e: { session: Session }) => void): unknown;
  on(event: "share", fn: (e: { session: Session; verdict: ShareVerdict }) => void): unknown;
  off(event: string, fn: (...args: never[]) => void): unknown;
}

export interface AbuseGuardOptions {
  bus: GuardBus;
  bans: BanList;
  /** The live sessions (to disconnect a banned peer's). */
  sessions: () => Iterable<GuardedConnection>;
  /** Shares per evaluation window of the invalid-share rule. Default 50. */
  invalidShareWindow?: number;
  /** Rejected fraction (stale excepted) of a window that earns a strike. Default 0.9. */
  invalidShareRatio?: number;
  /** Period of ban expiry sweeps, ms. Default 5000. */
  sweepMs?: number;
  /** Churned connections (see the module comment) per strike; 0 = churn never strikes. Default 10. */
  churnPerStrike?: number;
  /** A connection that lasts at least this long is not churn, ms. Default 30 000. */
  churnSessionMs?: number;
  /** Churn counts reset after this long without a churned connection, ms. Default 60 000 (the ban window). */
  churnWindowMs?: number;
  /**
   * While this returns false (no current job: the node is down or still syncing) churn is not counted:
   * miners reconnecting during an outage are not attackers. Default: always true.
   */
  hasJob?: () => boolean;
  /**
   * Difficulty at which an accepted share counts fully toward the invalid-share window; one below it
   * counts `difficulty / floor` (cheap valid shares at a tiny difficulty cannot hide invalid ones).
   * Rejected shares always count 1. The engine passes `mindiff` (the lowest difficulty the pool assigns). Default 0 (every share counts 1).
   */
  validShareFloor?: number;
  /** Most addresses whose share window or churn count is remembered (oldest forgotten past it). Default 100 000. */
  maxTracked?: number;
}

/**
 * Disconnects that can be churn: the client went away. Connections the pool dropped (slow reader,
 * flood, idle, shutdown, ban) are not: they are struck for their own reason, or not the client's doing.
 */
const CHURN_REASONS = new Set(["client_closed"]); // not socket_error: a network fault (RST, timeout) is not the client's choice

/** Everything `stats()` returns; counters are monotonic. */
export interface AbuseStats {
  protocolErrors: Record<string, number>;
  disconnects: Record<string, number>;
  refused: Record<string, number>;
  /** Lines refused by the per-connection message rate limit. */
  rateLimitedLines: number;
  bans: BanStats;
}

export interface AbuseGuardEvents {
  banned: [BanInfo];
  banExpired: [BanInfo];
}

function inc(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export class AbuseGuard {
  readonly bans: BanList;
  readonly events = new EventEmitter<AbuseGuardEvents>();
  private readonly protocolErrors = new Map<string, number>();
  private readonly disconnects = new Map<string, number>();
  private readonly refused = new Map<string, number>();
  private rateLimitedLines = 0;
  /** Invalid-share window per ban key (address or IPv6 prefix), across all its connections. */
  private readonly shareWindows = new Map<string, { shares: number; bad: number; good: number; lastMs: number }>();
  /** Churned connections per ban key since `sinceMs`. */
  private readonly churn = new Map<string, { count: number; lastMs: number }>();
  private readonly churnPerStrike: number;
  private readonly churnSessionMs: number;
  private readonly churnWindowMs: number;
  private readonly maxTracked: number;
  private readonly window: number;
  private readonly ratio: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<[string, (...args: never[]) => void]> = [];

  constructor(private readonly opts: AbuseGuardOptions) {
    this.bans = opts.bans;
    this.window = Math.max(1, opts.invalidShareWindow ?? 50);
    this.ratio = opts.invalidShareRatio ?? 0.9;
    this.churnPerStrike = opts.churnPerStrike ?? 10;
    this.churnSessionMs = opts.churnSessionMs ?? 30_000;
    this.churnWindowMs = opts.churnWindowMs ?? 60_000;
    this.maxTracked = Math.max(1, opts.maxTracked ?? 100_000);
    this.bans.onBan = (ban) => this.kick(ban);
    this.bans.onExpire = (ban) => this.events.emit("banExpired", ban);
    this.listen("protocolError", ({ session, kind }: { session: Session; kind: string }) => {
      inc(this.protocolErrors, kind);
      if (JUNK_KINDS.has(kind)) this.strike(session, StrikeReason.Junk);
      else if (kind === "auth_failed") this.strike(session, StrikeReason.AuthFailed);
    });
    this.listen("disconnected", ({ session, reason }: { session: Session; reason: string }) => {
      inc(this.disconnects, reason);
      this.shareWindows.delete(session.id);
      if (reason === "line_too_long") this.strike(session, StrikeReason.LineTooLong);
      else if (reason === "rate_limited") this.strike(session, StrikeReason.RateLimited);
      this.onDisconnected(session, reason);
    });
    this.listen("refused", ({ reason }: { ip: string; reason: string }) => inc(this.refused, reason));
    this.listen("rateLimited", () => this.rateLimitedLines++);
    this.listen("share", ({ session, verdict }: { session: Session; verdict: ShareVerdict }) => this.onShare(session, verdict));
  }

  /** Starts the periodic sweep that ends expired bans (so their expiry is logged without a new connection). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.bans.sweep();
      this.forgetIdle();
    }, this.opts.sweepMs ?? 5000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [event, fn] of this.listeners) this.opts.bus.off(event, fn);
    this.listeners.length = 0;
  }

  /** The StratumServer/Engine `admit` hook. */
  admit(ip: string): { ok: true } | { ok: false; reason: string } {
    return this.bans.admit(ip);
  }

  stats(): AbuseStats {
    return {
      protocolErrors: Object.fromEntries(this.protocolErrors),
      disconnects: Object.fromEntries(this.disconnects),
      refused: Object.fromEntries(this.refused),
      rateLimitedLines: this.rateLimitedLines,
      bans: this.bans.stats(),
    };
  }

  private listen(event: string, fn: (arg: never) => void): void {
    (this.opts.bus.on as (e: string, f: (arg: never) => void) => unknown)(event, fn);
    this.listeners.push([event, fn]);
  }

  private strike(session: Session, reason: StrikeReason): void {
    this.bans.strike(session.ip, reason);
  }

  /** Drops share windows and churn counts not touched within the churn window (bounded memory). */
  private forgetIdle(): void {
    const now = this.bans.now();
    for (const [k, w] of this.shareWindows) if (now - w.lastMs > this.churnWindowMs * 10) this.shareWindows.delete(k);
    for (const [k, c] of this.churn) if (now - c.lastMs > this.churnWindowMs) this.churn.delete(k);
  }

  /** Map.get or insert, evicting the oldest entry past `maxTracked`. */
  private tracked<V>(map: Map<string, V>, key: string, make: () => V): V {
    let v = map.get(key);
    if (v) return v;
    if (map.size >= this.maxTracked) map.delete(map.keys().next().value as string);
    v = make();
    map.set(key, v);
    return v;
  }

  private onDisconnected(session: Session, reason: string): void {
    if (this.churnPerStrike <= 0 || !CHURN_REASONS.has(reason) || session.sharesAccepted > 0) return;
    if (this.opts.hasJob && !this.opts.hasJob()) return; // no work to do: reconnecting is not churn
    const now = this.bans.now();
    if (now - session.connectedAtMs >= this.churnSessionMs) return;
    const key = this.bans.keyOf(session.ip);
    const c = this.tracked(this.churn, key, () => ({ count: 0, lastMs: now }));
    if (now - c.lastMs > this.churnWindowMs) c.count = 0;
    c.lastMs = now;
    if (++c.count % this.churnPerStrike === 0) this.strike(session, StrikeReason.Churn);
  }

  private onShare(session: Session, verdict: ShareVerdict): void {
    const now = this.bans.now();
    const w = this.tracked(this.shareWindows, this.bans.keyOf(session.ip), () => ({ shares: 0, bad: 0, good: 0, lastMs: now }));
    w.lastMs = now;
    w.shares++;
    if (!verdict.accepted && verdict.reason !== RejectReason.Stale && !verdict.block) w.bad++;
    else {
      const floor = this.opts.validShareFloor ?? 0;
      w.good += floor > 0 && verdict.difficulty < floor ? Math.max(0, verdict.difficulty) / floor : 1;
    }
    if (w.shares < this.window) return;
    const flood = w.bad >= this.ratio * (w.bad + w.good);
    w.shares = 0;
    w.bad = 0;
    w.good = 0;
    if (flood) this.strike(session, StrikeReason.InvalidShares);
  }

  /** A ban started: announce it, then drop every session from the banned address or prefix. */
  private kick(ban: BanInfo): void {
    this.events.emit("banned", ban);
    for (const s of this.opts.sessions()) {
      if (!s.isClosed && this.bans.keyOf(s.transport.remoteAddress) === ban.key) s.transport.close("banned");
    }
  }
}
