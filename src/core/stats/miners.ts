/**
 * Per-worker and per-user hashrate over 1m/5m/1h/1d/7d, fed with accepted shares' credited difficulty (the assigned one, or the share's own when lower).
 * Workers/users with no share for `forgetAfterMs` and no live connection are forgotten to bound memory.
 */
import { DecayingHashrate, type HashrateWindow } from "./hashrate.ts";

export interface HashrateEntry {
  user: string;
  worker: string | null;
  hashrate: Record<HashrateWindow, number>;
}

export class MinerStats {
  private readonly workers = new Map<string, { user: string; worker: string; rate: DecayingHashrate; lastMs: number }>();
  private readonly users = new Map<string, { rate: DecayingHashrate; lastMs: number }>();
  readonly pool: DecayingHashrate;

  constructor(
    nowMs: number,
    private readonly forgetAfterMs = 7 * 86_400_000,
  ) {
    this.pool = new DecayingHashrate(nowMs);
  }

  addShare(user: string, worker: string, difficulty: number, nowMs: number): void {
    const wk = `${user}\u0000${worker}`;
    let w = this.workers.get(wk);
    if (!w) this.workers.set(wk, (w = { user, worker, rate: new DecayingHashrate(nowMs), lastMs: nowMs }));
    w.rate.add(difficulty, nowMs);
    w.lastMs = nowMs;
    let u = this.users.get(user);
    if (!u) this.users.set(user, (u = { rate: new DecayingHashrate(nowMs), lastMs: nowMs }));
    u.rate.add(difficulty, nowMs);
    u.lastMs = nowMs;
    this.pool.add(difficulty, nowMs);
  }

  userHashrate(user: string, nowMs: number): Record<HashrateWindow, number> | null {
    return this.users.get(user)?.rate.hashrates(nowMs) ?? null;
  }

  /** One worker's hashrate (null when it has no accepted share on record). */
  workerHashrate(user: string, worker: string, nowMs: number): Record<HashrateWindow, number> | null {
    return this.workers.get(`${user}\u0000${worker}`)?.rate.hashrates(nowMs) ?? null;
  }

  /** Every worker and user seen within `activeWithinMs`, for hashrate_update events. */
  snapshot(nowMs: number, activeWithinMs: number): HashrateEntry[] {
    const out: HashrateEntry[] = [];
    for (const [k, w] of this.workers) {
      if (nowMs - w.lastMs > this.forgetAfterMs) this.workers.delete(k);
      else if (nowMs - w.lastMs <= activeWithinMs) out.push({ user: w.user, worker: w.worker, hashrate: w.rate.hashrates(nowMs) });
    }
    for (const [user, u] of this.users) {
      if (nowMs - u.lastMs > this.forgetAfterMs) this.users.delete(user);
      else if (nowMs - u.lastMs <= activeWithinMs) out.push({ user, worker: null, hashrate: u.rate.hashrates(nowMs) });
    }
    return out;
  }

  get workerCount(): number {
    return this.workers.size;
  }

  get userCount(): number {
    return this.users.size;
  }
}
