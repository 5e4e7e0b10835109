/**
 * Hashrate estimation: exponentially decaying averages of difficulty-1 shares per second (dsps)
 * over 1 m, 5 m, 1 h, 1 d and 7 d. Hashrate (H/s) = dsps × 2^32.
 * ckpool's `decay_time` only halves the average over a long silence unless it is
 * called every minute; this is the exact continuous-time form instead: the work credited since the last
 * update is spread uniformly over the gap, so a steady rate converges to itself and a silence of
 * several windows decays to ~0 in one step, however rarely it is queried.
 * Pure: time is passed in.
 */

export const HASHRATE_WINDOWS = { "1m": 60, "5m": 300, "1h": 3600, "1d": 86_400, "7d": 604_800 } as const;
export type HashrateWindow = keyof typeof HASHRATE_WINDOWS;
const WINDOWS = Object.entries(HASHRATE_WINDOWS) as Array<[HashrateWindow, number]>;
const TWO_POW_32 = 4_294_967_296;
/** Updates closer together than this are accumulated and folded in later (ckpool: 0.05 s). */
const MIN_DECAY_INTERVAL_SEC = 0.05;

export class DecayingHashrate {
  private readonly dsps: Record<HashrateWindow, number> = { "1m": 0, "5m": 0, "1h": 0, "1d": 0, "7d": 0 };
  private lastMs: number;
  private pendingDifficulty = 0;

  constructor(nowMs: number) {
    this.lastMs = nowMs;
  }

  /** Credits an accepted share's credited difficulty (what it proves). */
  add(difficulty: number, nowMs: number): void {
    this.pendingDifficulty += difficulty;
    this.decay(nowMs);
  }

  /** Folds pending shares and elapsed time into the averages (call periodically with no shares, too). */
  decay(nowMs: number): void {
    const secs = (nowMs - this.lastMs) / 1000;
    if (secs < MIN_DECAY_INTERVAL_SEC) return;
    const add = this.pendingDifficulty;
    this.pendingDifficulty = 0;
    this.lastMs = nowMs;
    for (const [w, interval] of WINDOWS) {
      const keep = Math.exp(-Math.min(secs / interval, 36));
      let f = this.dsps[w] * keep + (add / secs) * (1 - keep);
      if (f < 2e-16) f = 0;
      this.dsps[w] = f;
    }
  }

  /** Hashrate per window in H/s. */
  hashrates(nowMs: number): Record<HashrateWindow, number> {
    this.decay(nowMs);
    const out = {} as Record<HashrateWindow, number>;
    for (const [w] of WINDOWS) out[w] = this.dsps[w] * TWO_POW_32;
    return out;
  }

  /** Difficulty-1 shares per second over the 5-minute window (used by vardiff as a cross-check). */
  dsps5(): number {
    return this.dsps["5m"];
  }
}
