/**
 * Temporary IP bans with escalation (issue 8).
 *
 * Peers collect *strikes* (junk lines, oversized lines, failed authorizations, invalid-share floods,
 * rate-limit disconnects). `threshold` strikes within `windowSec` ban the peer for `durationSec`;
 * each repeat offence doubles the duration up to `maxDurationSec`, and offences are forgotten after
 * `forgetAfterSec` without a new ban. Allow-listed IPs/CIDRs are never banned. Bans expire by
 * themselves (checked lazily on `check`/`admit` and by `sweep`).
 *
 * Peers elsewhere: miningcore bans 3 min on junk and 60 s on a failed authorize; NOMP bans 600 s on
 * invalid-share floods. Escalation is ours: a scanner that comes back is
 * costlier each time, a misconfigured miner that stops is forgiven.
 *
 * Pure apart from the injected clock. Memory is bounded: at most `maxTracked` peers are remembered
 * (the oldest record is evicted past that), each with at most `threshold` strike times.
 */
import { IpAllowList, banKey } from "./ip.ts";

/** Why a peer got a strike (also the reason a ban names: the strike that crossed the threshold). */
export const StrikeReason = {
  /** A line that is not JSON, not a request object, or a request with malformed params. */
  Junk: "junk",
  LineTooLong: "line_too_long",
  AuthFailed: "auth_failed",
  /** Mostly-invalid shares over a window (see AbuseGuard). */
  InvalidShares: "invalid_shares",
  /** Disconnected for flooding past the message rate limit. */
  RateLimited: "rate_limited",
  /** Many short connections without an accepted share (see AbuseGuard). */
  Churn: "churn",
} as const;
export type StrikeReason = (typeof StrikeReason)[keyof typeof StrikeReason];
export const ALL_STRIKE_REASONS: readonly StrikeReason[] = Object.values(StrikeReason);

/** Options of {@link BanList}. Config: `bans.{enabled,threshold,window_sec,duration_sec,allowlist}`. */
export interface BanListOptions {
  /** false: strikes are counted but nobody is ever banned. */
  enabled: boolean;
  /** Strike weight within `windowSec` that triggers a ban. */
  threshold: number;
  windowSec: number;
  /** First ban's length; doubled on each repeat offence. */
  durationSec: number;
  /** Longest ban. Default 24 h (or `durationSec` if that is longer). */
  maxDurationSec?: number;
  /** Offences are forgotten this long after the last ban ended. Default 24 h. */
  forgetAfterSec?: number;
  /** IPs and CIDR blocks never banned. */
  allowlist: readonly string[];
  /** IPv6 peers are tracked by this prefix (bits, multiple of 16). Default 64. */
  ipv6PrefixBits?: number;
  /** Most peers remembered at once. Default 100 000. */
  maxTracked?: number;
  now: () => number;
}

/** A ban as reported to listeners and in `list()`. */
export interface BanInfo {
  /** The tracking key: the IPv4 address or the IPv6 prefix (`2001:db8::/64`). */
  key: string;
  /** The address whose strike triggered the ban. */
  ip: string;
  reason: StrikeReason;
  /** 1 for a first ban, 2 for the next one, … */
  offence: number;
  durationSec: number;
  sinceMs: number;
  untilMs: number;
}

/** Counters for /metrics (all monotonic except `active` and `tracked`). */
export interface BanStats {
  /** Bans in force now. */
  active: number;
  /** Peers with a record (strikes, a ban or an offence history). */
  tracked: number;
  strikesTotal: Record<StrikeReason, number>;
  /** Strikes against allow-listed peers (counted, never banned). */
  allowlistedStrikesTotal: number;
  /** Bans imposed, by the reason of the strike that crossed the threshold. */
  bansTotal: Record<StrikeReason, number>;
  /** Bans that ran out. */
  expiredTotal: number;
  /** Connections refused because their peer was banned. */
  refusedTotal: number;
}

interface PeerRecord {
  /** Strike times (ms) and weights within the window, oldest first. */
  strikes: Array<{ atMs: number; weight: number }>;
  offences: number;
  ban: BanInfo | null;
  /** When the last ban ended (ms), 0 = never banned. */
  lastBanEndMs: number;
}

const zeroes = (): Record<StrikeReason, number> => Object.fromEntries(ALL_STRIKE_REASONS.map((r) => [r, 0])) as Record<StrikeReason, number>;

export class BanList {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly allow: IpAllowList;
  private readonly windowMs: number;
  private readonly durationMs: number;
  private readonly maxDurationMs: number;
  private readonly forgetAfterMs: number;
  private readonly ipv6PrefixBits: number;
  private readonly maxTracked: number;
  private activeCount = 0;
  private readonly counters = {
    strikesTotal: zeroes(),
    allowlistedStrikesTotal: 0,
    bansTotal: zeroes(),
    expiredTotal: 0,
    refusedTotal: 0,
  };
  /** Called when a ban starts (for logs and to disconnect the peer's sessions). */
  onBan: ((ban: BanInfo) => void) | null = null;
  /** Called when a ban runs out. */
  onExpire: ((ban: BanInfo) => void) | null = null;

  constructor(private readonly opts: BanListOptions) {
    this.allow = new IpAllowList(opts.allowlist);
    this.windowMs = opts.windowSec * 1000;
    this.durationMs = opts.durationSec * 1000;
    this.maxDurationMs = Math.max(this.durationMs, (opts.maxDurationSec ?? 86_400) * 1000);
    this.forgetAfterMs = (opts.forgetAfterSec ?? 86_400) * 1000;
    this.ipv6PrefixBits = opts.ipv6PrefixBits ?? 64;
    this.maxTracked = Math.max(1, opts.maxTracked ?? 100_000);
  }

  /** Entries of the allow-list that are not IPs or CIDR blocks (the config loader should have refused them). */
  get invalidAllowlistEntries(): readonly string[] {
    return this.allow.invalid;
  }

  /** The injected clock (ms). */
  now(): number {
    return this.opts.now();
  }

  /** The key `ip` is tracked under (IPv4 address or IPv6 prefix); bans name it in `BanInfo.key`. */
  keyOf(ip: string): string {
    return banKey(ip, this.ipv6PrefixBits);
  }

  isAllowlisted(ip: string): boolean {
    return this.allow.has(ip);
  }

  /**
   * Records a strike against `ip`. Returns the ban it triggered, or null (below the threshold,
   * allow-listed, already banned, or bans disabled).
   */
  strike(ip: string, reason: StrikeReason, weight = 1): BanInfo | null {
    this.counters.strikesTotal[reason]++;
    if (this.allow.has(ip)) {
      this.counters.allowlistedStrikesTotal++;
      return null;
    }
    const now = this.opts.now();
    const key = banKey(ip, this.ipv6PrefixBits);
    const rec = this.record(key, now);
    if (this.activeBan(key, rec, now)) return null; // its connections are being dropped already
    if (rec.offences > 0 && rec.lastBanEndMs > 0 && now - rec.lastBanEndMs > this.forgetAfterMs) rec.offences = 0;
    rec.strikes.push({ atMs: now, weight });
    let total = 0;
    for (let i = rec.strikes.length - 1; i >= 0; i--) {
      if (now - rec.strikes[i].atMs >= this.windowMs) {
        rec.strikes.splice(0, i + 1);
        break;
      }
      total += rec.strikes[i].weight;
    }
    if (rec.strikes.length > this.opts.threshold) rec.strikes.splice(0, rec.strikes.length - this.opts.threshold);
    if (!this.opts.enabled || total < this.opts.threshold) return null;

    rec.offences++;
    rec.strikes = [];
    const durationMs = Math.min(this.durationMs * 2 ** Math.min(rec.offences - 1, 30), this.maxDurationMs);
    const ban: BanInfo = { key, ip, reason, offence: rec.offences, durationSec: durationMs / 1000, sinceMs: now, untilMs: now + durationMs };
    rec.ban = ban;
    this.activeCount++;
    this.counters.bansTotal[reason]++;
    this.onBan?.(ban);
    return ban;
  }

  /** The ban in force for `ip`, or null. Expired bans are cleared here. */
  check(ip: string): BanInfo | null {
    if (this.peers.size === 0) return null;
    const key = banKey(ip, this.ipv6PrefixBits);
    const rec = this.peers.get(key);
    return rec ? this.activeBan(key, rec, this.opts.now()) : null;
  }

  /** The StratumServer `admit` hook: refuses banned peers and counts the refusal. */
  admit(ip: string): { ok: true } | { ok: false; reason: string } {
    if (!this.check(ip)) return { ok: true };
    this.counters.refusedTotal++;
    return { ok: false, reason: "banned" };
  }

  /** Lifts a ban now (operator action); the offence history stays. Returns whether one was lifted. */
  unban(ip: string): boolean {
    const key = banKey(ip, this.ipv6PrefixBits);
    const rec = this.peers.get(key);
    if (!rec?.ban) return false;
    this.endBan(rec, this.opts.now(), false);
    return true;
  }

  /** Bans in force. */
  list(): BanInfo[] {
    const now = this.opts.now();
    const out: BanInfo[] = [];
    for (const [key, rec] of this.peers) {
      const ban = this.activeBan(key, rec, now);
      if (ban) out.push({ ...ban });
    }
    return out;
  }

  /** Ends expired bans and forgets peers with nothing left to remember. Returns how many bans expired. */
  sweep(): number {
    const now = this.opts.now();
    let expired = 0;
    for (const [key, rec] of this.peers) {
      if (rec.ban && rec.ban.untilMs <= now) {
        this.endBan(rec, now, true);
        expired++;
      }
      if (rec.ban) continue;
      const lastStrike = rec.strikes.length ? rec.strikes[rec.strikes.length - 1].atMs : 0;
      const strikesLive = lastStrike > 0 && now - lastStrike < this.windowMs;
      const historyLive = rec.offences > 0 && now - rec.lastBanEndMs <= this.forgetAfterMs;
      if (!strikesLive && !historyLive) this.peers.delete(key);
    }
    return expired;
  }

  stats(): BanStats {
    return {
      active: this.activeCount,
      tracked: this.peers.size,
      strikesTotal: { ...this.counters.strikesTotal },
      allowlistedStrikesTotal: this.counters.allowlistedStrikesTotal,
      bansTotal: { ...this.counters.bansTotal },
      expiredTotal: this.counters.expiredTotal,
      refusedTotal: this.counters.refusedTotal,
    };
  }

  private lastFullSweepMs = -Infinity;

  private record(key: string, now: number): PeerRecord {
    let rec = this.peers.get(key);
    if (rec) return rec;
    if (this.peers.size >= this.maxTracked) {
      // A full sweep is O(tracked): at most once a second, or a flood of new peers would pay it per line.
      if (now - this.lastFullSweepMs >= 1000) {
        this.lastFullSweepMs = now;
        this.sweep();
      }
      // Still full: evict the oldest record that holds no ban, looking at a bounded number of the oldest
      // (Map order is insertion order); only if all of those are banned, the very oldest. A flood of
      // distinct addresses can never grow memory, and rarely shortens a ban.
      if (this.peers.size >= this.maxTracked) {
        let victim: [string, PeerRecord] | null = null;
        let looked = 0;
        for (const entry of this.peers) {
          victim ??= entry;
          if (!entry[1].ban) {
            victim = entry;
            break;
          }
          if (++looked >= 64) break;
        }
        const [oldKey, old] = victim!;
        if (old.ban) this.endBan(old, now, false);
        this.peers.delete(oldKey);
      }
    }
    rec = { strikes: [], offences: 0, ban: null, lastBanEndMs: 0 };
    this.peers.set(key, rec);
    return rec;
  }

  private activeBan(_key: string, rec: PeerRecord, now: number): BanInfo | null {
    if (!rec.ban) return null;
    if (rec.ban.untilMs > now) return rec.ban;
    this.endBan(rec, now, true);
    return null;
  }

  private endBan(rec: PeerRecord, now: number, expired: boolean): void {
    const ban = rec.ban;
    if (!ban) return;
    rec.ban = null;
    rec.lastBanEndMs = Math.min(now, ban.untilMs);
    this.activeCount--;
    if (expired) {
      this.counters.expiredTotal++;
      this.onExpire?.(ban);
    }
  }
}
