/**
 * The region monitor's loop: every `interval` it probes each region's Stratum port and `/health` (in
 * parallel, each bounded by `timeout`), feeds the observation to the region's {@link RegionTracker}, and
 * (when configured) counts the NATS hub's leaf nodes. It publishes typed events (`probe`, `transition`,
 * `round`) that the metrics and the log subscribe to, and hands out plain `status()` snapshots.
 *
 * Probes are injected (tests and other transports); the defaults are src/tools/monitor/probes.ts.
 */
import { EventEmitter } from "node:events";
import type { MonitorConfig, RegionConfig } from "./config.ts";
import { probeHealth, probeNatsLeafnodes, probeStratum, type HealthProbeResult, type NatsProbeResult, type PoolSummary, type StratumProbeResult } from "./probes.ts";
import { RegionTracker, routeFor, type Observation, type RegionState, type RouteAnswer, type Transition } from "./state.ts";

/** The probes the monitor runs (injectable). */
export interface MonitorProbes {
  stratum(host: string, port: number, timeoutMs: number): Promise<StratumProbeResult>;
  health(url: string, timeoutMs: number): Promise<HealthProbeResult>;
  nats(monitorUrl: string, timeoutMs: number): Promise<NatsProbeResult>;
}

const DEFAULT_PROBES: MonitorProbes = { stratum: probeStratum, health: probeHealth, nats: probeNatsLeafnodes };

/** Events of {@link RegionMonitor}. */
export interface MonitorEvents {
  probe: [e: { region: string; probe: "stratum" | "health"; ok: boolean; durationMs: number | null; error: string | null }];
  transition: [e: { region: string; role: RegionConfig["role"]; transition: Transition }];
  round: [e: { atMs: number; durationMs: number }];
  nats: [e: NatsProbeResult];
  /** A round failed unexpectedly (a probe threw); the loop goes on. */
  roundError: [e: { error: unknown }];
}

/** Options of {@link RegionMonitor}. */
export interface RegionMonitorOptions {
  config: MonitorConfig;
  probes?: Partial<MonitorProbes>;
  /** Wall clock, ms since the epoch (timestamps shown to people). Default Date.now. */
  now?: () => number;
  /**
   * Monotonic clock, ms (scheduling and the stall check: a wall-clock step must not stop or fake the loop).
   * Default performance.now.
   */
  monotonic?: () => number;
}

/** The last probe round of one region. */
export interface LastProbe {
  atMs: number;
  observation: Observation;
  stratum: StratumProbeResult;
  health: HealthProbeResult;
}

/** One region in a {@link MonitorStatus}. */
export interface RegionStatus {
  name: string;
  role: RegionConfig["role"];
  state: RegionState;
  stateSinceMs: number | null;
  /** Consecutive observations disagreeing with the state (a change is coming at the threshold). */
  pending: number;
  stratum: string;
  publicStratum: string;
  healthUrl: string;
  failover: string[];
  /** In maintenance (config `drain`): health endpoint 503, routed around; `state` still what the probes say. */
  drained: boolean;
  route: RouteAnswer;
  last: LastProbe | null;
  /** From the last `/health` body that parsed (kept while `/health` is unreachable). */
  pool: PoolSummary | null;
  /** When that body was read (ms); older than `last.atMs` when the latest `/health` probe got no body. */
  poolAtMs: number | null;
  transitions: Transition[];
}

/** The monitor's snapshot. */
export interface MonitorStatus {
  startedAtMs: number;
  rounds: number;
  lastRoundAtMs: number | null;
  lastRoundDurationMs: number | null;
  /** Time since the last round began, on the monotonic clock (null before the first round). */
  lastRoundAgeMs: number | null;
  intervalMs: number;
  timeoutMs: number;
  failureThreshold: number;
  recoveryThreshold: number;
  defaultRegion: string;
  regions: RegionStatus[];
  /** Where miners of unknown location go (the default region's route). */
  defaultRoute: RouteAnswer;
  nats: (NatsProbeResult & { expected: number; atMs: number | null }) | null;
}

interface RegionEntry {
  cfg: RegionConfig;
  tracker: RegionTracker;
  last: LastProbe | null;
  pool: PoolSummary | null;
  poolAtMs: number | null;
}

/** See the module comment. */
export class RegionMonitor extends EventEmitter<MonitorEvents> {
  private readonly cfg: MonitorConfig;
  private readonly probes: MonitorProbes;
  private readonly now: () => number;
  private readonly mono: () => number;
  private lastRoundMono: number | null = null;
  private readonly regions: RegionEntry[];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  private rounds = 0;
  private lastRoundAtMs: number | null = null;
  private lastRoundDurationMs: number | null = null;
  private nats: (NatsProbeResult & { atMs: number | null }) | null = null;
  readonly startedAtMs: number;

  constructor(opts: RegionMonitorOptions) {
    super();
    this.cfg = opts.config;
    this.probes = { ...DEFAULT_PROBES, ...opts.probes };
    this.now = opts.now ?? Date.now;
    this.mono = opts.monotonic ?? (() => performance.now());
    this.startedAtMs = this.now();
    this.regions = opts.config.regions.map((cfg) => ({
      cfg,
      tracker: new RegionTracker({ failureThreshold: opts.config.failureThreshold, recoveryThreshold: opts.config.recoveryThreshold, transitionsKept: opts.config.transitionsKept }),
      last: null,
      pool: null,
      poolAtMs: null,
    }));
    if (opts.config.nats) this.nats = { ok: false, leafnodes: null, error: "not probed yet", atMs: null };
  }

  /** Runs the first round (so the first answers are informed), then one every interval. */
  async start(): Promise<void> {
    if (this.closed) throw new Error("RegionMonitor: closed");
    await this.round();
    this.schedule();
  }

  /** Stops the loop and waits for a round in flight (bounded by the probe timeout). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule(): void {
    if (this.closed) return;
    // Monotonic, and never more than one interval: a wall-clock step back must not stop the probing.
    const { intervalMs } = this.cfg;
    const wait = this.lastRoundMono === null ? intervalMs : Math.min(intervalMs, Math.max(0, this.lastRoundMono + intervalMs - this.mono()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.round()
        .catch((error: unknown) => this.emit("roundError", { error }))
        .finally(() => this.schedule());
    }, wait);
  }

  /** One probe round over every region (exported for tests; the loop calls it). */
  round(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const p = this.doRound().finally(() => {
      this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  private async doRound(): Promise<void> {
    const atMs = this.now();
    const t0 = this.mono();
    const { timeoutMs } = this.cfg;
    const work: Promise<unknown>[] = this.regions.map(async (r) => {
      const [stratum, health] = await Promise.all([this.probes.stratum(r.cfg.stratumHost, r.cfg.stratumPort, timeoutMs), this.probes.health(r.cfg.healthUrl, timeoutMs)]);
      this.emit("probe", { region: r.cfg.name, probe: "stratum", ok: stratum.ok, durationMs: stratum.rttMs, error: stratum.error });
      this.emit("probe", { region: r.cfg.name, probe: "health", ok: health.ok, durationMs: health.rttMs, error: health.error });
      const observation: Observation = !stratum.ok ? "down" : health.ok ? "ok" : "degraded";
      const reason = !stratum.ok ? `stratum: ${stratum.error}` : !health.ok ? `health: ${health.error}` : "stratum and health ok";
      r.last = { atMs, observation, stratum, health };
      if (health.pool) {
        r.pool = health.pool;
        r.poolAtMs = atMs;
      }
      if (this.closed) return;
      const t = r.tracker.observe(observation, atMs, reason);
      if (t) this.emit("transition", { region: r.cfg.name, role: r.cfg.role, transition: t });
    });
    const nats = this.cfg.nats;
    if (nats) {
      work.push(
        this.probes.nats(nats.monitorUrl, timeoutMs).then((res) => {
          this.nats = { ...res, atMs };
          this.emit("nats", res);
        }),
      );
    }
    await Promise.all(work);
    this.rounds++;
    this.lastRoundAtMs = atMs;
    this.lastRoundMono = t0;
    this.lastRoundDurationMs = this.mono() - t0;
    this.emit("round", { atMs, durationMs: this.lastRoundDurationMs });
  }

  private routingView() {
    // A drained region is routed around as if it were down (its own state, and the alerts, stay as probed).
    return this.regions.map((r) => ({ name: r.cfg.name, state: r.cfg.drain ? ("down" as const) : r.tracker.state, failover: r.cfg.failover }));
  }

  /** Where the miners of `name` (a region, or `"default"` for unknown locations) should go now; undefined for an unknown name. */
  route(name: string): RouteAnswer | undefined {
    const view = this.routingView();
    if (name === "default") return routeFor(this.cfg.defaultRegion, view, this.cfg.defaultRegion);
    return view.some((r) => r.name === name) ? routeFor(name, view, this.cfg.defaultRegion) : undefined;
  }

  /** Public Stratum address of a region. */
  publicStratum(name: string): string | undefined {
    return this.regions.find((r) => r.cfg.name === name)?.cfg.publicStratum;
  }

  /** The current snapshot (plain data). */
  status(): MonitorStatus {
    const view = this.routingView();
    return {
      startedAtMs: this.startedAtMs,
      rounds: this.rounds,
      lastRoundAtMs: this.lastRoundAtMs,
      lastRoundDurationMs: this.lastRoundDurationMs,
      lastRoundAgeMs: this.lastRoundMono === null ? null : this.mono() - this.lastRoundMono,
      intervalMs: this.cfg.intervalMs,
      timeoutMs: this.cfg.timeoutMs,
      failureThreshold: this.cfg.failureThreshold,
      recoveryThreshold: this.cfg.recoveryThreshold,
      defaultRegion: this.cfg.defaultRegion,
      regions: this.regions.map((r) => ({
        name: r.cfg.name,
        role: r.cfg.role,
        state: r.tracker.state,
        stateSinceMs: r.tracker.stateSinceMs,
        pending: r.tracker.pending,
        stratum: r.cfg.stratum,
        publicStratum: r.cfg.publicStratum,
        healthUrl: r.cfg.healthUrl,
        failover: [...r.cfg.failover],
        drained: r.cfg.drain,
        route: routeFor(r.cfg.name, view, this.cfg.defaultRegion),
        last: r.last,
        pool: r.pool,
        poolAtMs: r.poolAtMs,
        transitions: r.tracker.transitions(),
      })),
      defaultRoute: routeFor(this.cfg.defaultRegion, view, this.cfg.defaultRegion),
      nats: this.nats && this.cfg.nats ? { ...this.nats, expected: this.cfg.nats.expectedLeafnodes } : null,
    };
  }
}
