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
 * - invalid-share floods: of `invalidShareWindow` consecutive shares on a connection, at least
 *   `invalidShareRatio` rejected (stale shares excepted: a new block makes honest miners send a few).
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
}

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
  /** Per session id; forgotten when the session disconnects. */
  private readonly shareWindows = new Map<string, { shares: number; bad: number }>();
  private readonly window: number;
  private readonly ratio: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<[string, (...args: never[]) => void]> = [];

  constructor(private readonly opts: AbuseGuardOptions) {
    this.bans = opts.bans;
    this.window = Math.max(1, opts.invalidShareWindow ?? 50);
    this.ratio = opts.invalidShareRatio ?? 0.9;
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
    });
    this.listen("refused", ({ reason }: { ip: string; reason: string }) => inc(this.refused, reason));
    this.listen("rateLimited", () => this.rateLimitedLines++);
    this.listen("share", ({ session, verdict }: { session: Session; verdict: ShareVerdict }) => this.onShare(session, verdict));
  }

  /** Starts the periodic sweep that ends expired bans (so their expiry is logged without a new connection). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.bans.sweep(), this.opts.sweepMs ?? 5000);
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

  private onShare(session: Session, verdict: ShareVerdict): void {
    let w = this.shareWindows.get(session.id);
    if (!w) {
      w = { shares: 0, bad: 0 };
      this.shareWindows.set(session.id, w);
    }
    w.shares++;
    if (!verdict.accepted && verdict.reason !== RejectReason.Stale && !verdict.block) w.bad++;
    if (w.shares < this.window) return;
    const flood = w.bad >= this.ratio * w.shares;
    w.shares = 0;
    w.bad = 0;
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
