/**
 * Region state and failover routing (pure: no sockets, no timers, no clock; times are passed in).
 *
 * Each probe round gives one **observation** per region:
 * - `down`: the Stratum port failed (no TCP connection, or no `mining.subscribe` answer in time): miners
 *   cannot mine there;
 * - `degraded`: Stratum answers but `/health` does not say ok (503, no answer, not JSON): miners can
 *   connect but the pool reports it cannot give good work (no healthy node, stale work) or cannot be seen;
 * - `ok`: both answer and `/health` says `"ok"`.
 *
 * The **state** (`healthy`, `degraded`, `down`) follows the observations with hysteresis, as Route53's
 * health checks do: it worsens only after `failureThreshold` consecutive observations worse than it (to
 * what the latest of them saw: `[degraded, down, down]` lands on down, not degraded), and improves only after
 * `recoveryThreshold` consecutive better ones (to the worst of them). The first observation sets the state
 * at once (`unknown` before it).
 */

export type Observation = "ok" | "degraded" | "down";
export type RegionState = "unknown" | "healthy" | "degraded" | "down";
export const REGION_STATES: readonly RegionState[] = ["unknown", "healthy", "degraded", "down"];

const SEVERITY: Record<Observation, number> = { ok: 0, degraded: 1, down: 2 };
const STATE_OF: Record<number, Exclude<RegionState, "unknown">> = { 0: "healthy", 1: "degraded", 2: "down" };
const severityOf = (s: Exclude<RegionState, "unknown">): number => (s === "healthy" ? 0 : s === "degraded" ? 1 : 2);

/** A state change. */
export interface Transition {
  from: RegionState;
  to: RegionState;
  /** When the deciding observation was made, ms since the epoch. */
  atMs: number;
  /** Consecutive observations that led to it (1 for the first). */
  observations: number;
  /** What the deciding observation saw. */
  reason: string;
}

/** Options of {@link RegionTracker}. */
export interface TrackerOptions {
  failureThreshold: number;
  recoveryThreshold: number;
  /** Transitions kept for {@link RegionTracker.transitions}. */
  transitionsKept: number;
}

/** One region's state machine; see the module comment. */
export class RegionTracker {
  private current: RegionState = "unknown";
  private sinceMs: number | null = null;
  /** Trailing observations that differ from the state, all in the same direction (worse or better). */
  private streak: Observation[] = [];
  private readonly log: Transition[] = [];

  constructor(private readonly opts: TrackerOptions) {}

  get state(): RegionState {
    return this.current;
  }

  /** When the current state began (ms), null before the first observation. */
  get stateSinceMs(): number | null {
    return this.sinceMs;
  }

  /** Consecutive observations pulling away from the current state (0 when the last one agreed with it). */
  get pending(): number {
    return this.streak.length;
  }

  /** The last state changes, oldest first. */
  transitions(): Transition[] {
    return [...this.log];
  }

  /** Feeds one observation; returns the transition it caused, if any. */
  observe(o: Observation, atMs: number, reason: string): Transition | null {
    if (this.current === "unknown") return this.move(STATE_OF[SEVERITY[o]], atMs, 1, reason);
    const s = severityOf(this.current);
    const v = SEVERITY[o];
    if (v === s) {
      this.streak = [];
      return null;
    }
    const worse = v > s;
    // A streak in the other direction, or back toward the state, starts over.
    if (this.streak.length > 0 && SEVERITY[this.streak[0]] > s !== worse) this.streak = [];
    this.streak.push(o);
    const need = worse ? this.opts.failureThreshold : this.opts.recoveryThreshold;
    if (this.streak.length < need) return null;
    // Worse: the latest observation decides (it is worse than the state, as every one of the streak is), so a
    // streak that deepens on its way ([degraded, down, down]) lands where it ended rather than needing another
    // full threshold of rounds. Better: the worst of the window (recovery stays cautious).
    const target = worse ? SEVERITY[o] : Math.max(...this.streak.slice(-need).map((x) => SEVERITY[x]));
    return this.move(STATE_OF[target], atMs, this.streak.length, reason);
  }

  private move(to: Exclude<RegionState, "unknown">, atMs: number, observations: number, reason: string): Transition {
    const t: Transition = { from: this.current, to, atMs, observations, reason };
    this.current = to;
    this.sinceMs = atMs;
    this.streak = [];
    this.log.push(t);
    if (this.log.length > this.opts.transitionsKept) this.log.splice(0, this.log.length - this.opts.transitionsKept);
    return t;
  }
}

/** What routing needs to know of a region. */
export interface RoutingRegion {
  name: string;
  state: RegionState;
  failover: readonly string[];
}

/** Where one region's miners should be sent now. */
export interface RouteAnswer {
  /** The region asked about (or the default region for `"default"`). */
  region: string;
  /** Where to send its miners. */
  routeTo: string;
  /** false when no region is healthy or degraded: `routeTo` is then the region itself (nothing better exists). */
  available: boolean;
  /** Why, in words. */
  reason: string;
}

/**
 * The failover routing: a region keeps its miners while healthy; otherwise they go to the first healthy
 * region of its `failover` list, then the default region, then any healthy region in config order. With no
 * healthy region, the first degraded one in that same order (it still answers Stratum); with none, the
 * region itself.
 */
export function routeFor(name: string, regions: readonly RoutingRegion[], defaultRegion: string): RouteAnswer {
  const byName = new Map(regions.map((r) => [r.name, r]));
  const self = byName.get(name);
  if (!self) throw new Error(`routeFor: unknown region ${name}`);
  const order = [...new Set([name, ...self.failover, defaultRegion, ...regions.map((r) => r.name)])].filter((n) => byName.has(n));
  const pick = (state: RegionState) => order.find((n) => byName.get(n)!.state === state);
  const healthy = pick("healthy");
  if (healthy === name) return { region: name, routeTo: name, available: true, reason: `${name} is healthy` };
  if (healthy) return { region: name, routeTo: healthy, available: true, reason: `${name} is ${self.state}; ${healthy} is the first healthy region of ${order.join(" → ")}` };
  const degraded = pick("degraded");
  if (degraded) return { region: name, routeTo: degraded, available: true, reason: `no region is healthy; ${degraded} is the first degraded one of ${order.join(" → ")}` };
  return { region: name, routeTo: name, available: false, reason: "no region is healthy or degraded" };
}
