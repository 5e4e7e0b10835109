/**
 * Variable difficulty per connection, toward a target share interval.
 * Retarget after `retargetShares` accepted shares or `retargetSec` seconds, from the measured rate of
 * difficulty-1 work; a hysteresis band avoids flapping; results are clamped to
 * [floor, min(maxdiff, network difficulty)], never below `mindiff`. A miner that goes silent (difficulty far too high)
 * is lowered by `tick()`. Fractional difficulty down to 0.0001 works (NerdMiner needs < 1).
 * `mindiff` is applied last and wins over every cap: on a network whose difficulty is below it (regtest,
 * testnet's minimum-difficulty blocks) a share target under `mindiff` would make nearly every hash a
 * share and a block, and flood the node with block submissions. A share that meets the network target
 * is a block whatever its share target (the validator checks that separately).
 * Pure: time is passed in.
 */

export interface VardiffOptions {
  /** Desired seconds between shares. */
  targetIntervalSec: number;
  /** Accepted shares after which a retarget is considered. */
  retargetShares: number;
  /** Seconds after which a retarget is considered even with few shares. */
  retargetSec: number;
  minDifficulty: number;
  /** 0 = no limit. */
  maxDifficulty: number;
  /** No change while the measured rate is within ± this percent of the target (config `vardiff.variance_percent`). Default 30. */
  variancePercent?: number;
}

/** Rounds to what we announce: integers at ≥ 1 (what most firmware expects), 3 significant digits below. */
export function roundDifficulty(d: number): number {
  if (d >= 1) return Math.round(d);
  return Number(d.toPrecision(3));
}

export class Vardiff {
  private windowStartMs: number;
  private windowShares = 0;
  private windowDifficultySum = 0;
  /** Lower bound requested by the miner (suggest_difficulty or BIP310 minimum-difficulty). */
  private floor = 0;

  constructor(
    private readonly opts: VardiffOptions,
    nowMs: number,
  ) {
    this.windowStartMs = nowMs;
  }

  setFloor(difficulty: number): void {
    this.floor = difficulty;
  }

  /**
   * Clamps a wanted difficulty to the miner's floor, `maxdiff` and the network difficulty, then raises
   * it to `mindiff`: never below `mindiff`, even when the network difficulty is lower.
   */
  clamp(d: number, networkDifficulty = Infinity): number {
    let v = Math.max(d, this.floor);
    if (this.opts.maxDifficulty > 0) v = Math.min(v, this.opts.maxDifficulty);
    v = Math.min(v, networkDifficulty);
    v = Math.max(v, this.opts.minDifficulty);
    // Rounding must not take it below mindiff either (3 significant digits can round down).
    const r = roundDifficulty(Math.max(v, 1e-9));
    return r < this.opts.minDifficulty ? this.opts.minDifficulty : r;
  }

  /** Starts a new measurement window (after any difficulty change). */
  reset(nowMs: number): void {
    this.windowStartMs = nowMs;
    this.windowShares = 0;
    this.windowDifficultySum = 0;
  }

  /**
   * Records an accepted share credited at `difficulty`; returns the new difficulty when a change is due.
   * `current` is the connection's difficulty now.
   */
  onAccepted(difficulty: number, current: number, nowMs: number, networkDifficulty?: number): number | null {
    this.windowShares++;
    this.windowDifficultySum += difficulty;
    const elapsedSec = (nowMs - this.windowStartMs) / 1000;
    if (this.windowShares < this.opts.retargetShares && elapsedSec < this.opts.retargetSec) return null;
    return this.decide(current, Math.max(elapsedSec, 0.001), nowMs, networkDifficulty);
  }

  /** Periodic check: lowers the difficulty of a miner whose shares stopped arriving. */
  tick(current: number, nowMs: number, networkDifficulty?: number): number | null {
    const elapsedSec = (nowMs - this.windowStartMs) / 1000;
    if (elapsedSec < Math.max(this.opts.retargetSec, this.opts.targetIntervalSec * 4)) return null;
    if (this.windowShares >= 2) return this.decide(current, elapsedSec, nowMs, networkDifficulty);
    // No (or one) share in a long time: the true rate is below ~1 share per elapsed interval.
    const wanted = (current * this.opts.targetIntervalSec) / elapsedSec;
    return this.apply(Math.min(wanted, current / 2), current, nowMs, networkDifficulty);
  }

  private decide(current: number, elapsedSec: number, nowMs: number, networkDifficulty?: number): number | null {
    const rate = this.windowDifficultySum / elapsedSec; // difficulty-1 shares per second
    const wanted = rate * this.opts.targetIntervalSec;
    const ratio = wanted / current;
    const band = (this.opts.variancePercent ?? 30) / 100;
    if (ratio >= 1 - band && ratio <= 1 + band) {
      this.reset(nowMs);
      return null;
    }
    return this.apply(wanted, current, nowMs, networkDifficulty);
  }

  private apply(wanted: number, current: number, nowMs: number, networkDifficulty?: number): number | null {
    const next = this.clamp(wanted, networkDifficulty);
    this.reset(nowMs);
    return next === current ? null : next;
  }
}
