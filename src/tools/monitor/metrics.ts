/**
 * The monitor's Prometheus metrics (prom-client, a Registry of its own). Probe counts and durations and
 * state changes are counted from the monitor's events; states, routes and what `/health` reported are read
 * from `status()` at scrape time. Labels: `region` and `role` from the config, `state`/`probe`/`result`
 * from fixed sets. deploy/prometheus/alerts.yml and the Grafana dashboard use these names (a test checks).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RegionMonitor } from "./monitor.ts";
import { REGION_STATES } from "./state.ts";

/** Names of every metric family this module registers (besides Node's process metrics). */
export const MONITOR_METRIC_NAMES = [
  "tbg_monitor_region_state",
  "tbg_monitor_region_state_seconds",
  "tbg_monitor_region_transitions_total",
  "tbg_monitor_probes_total",
  "tbg_monitor_probe_duration_seconds",
  "tbg_monitor_route",
  "tbg_monitor_region_miners",
  "tbg_monitor_region_hashrate_hs",
  "tbg_monitor_region_template_age_seconds",
  "tbg_monitor_relay_independent",
  "tbg_monitor_relay_primary_connected",
  "tbg_monitor_relay_template_latency_seconds",
  "tbg_monitor_relay_primary_rtt_seconds",
  "tbg_monitor_relay_stale_share_ratio",
  "tbg_monitor_nats_up",
  "tbg_monitor_nats_leafnodes",
  "tbg_monitor_nats_leafnodes_expected",
  "tbg_monitor_last_round_timestamp_seconds",
  "tbg_monitor_region_drained",
] as const;

/** See the module comment. */
export class MonitorMetrics {
  readonly registry = new Registry();
  private readonly offs: Array<() => void> = [];

  constructor(monitor: RegionMonitor, opts: { defaultMetrics?: boolean; now?: () => number } = {}) {
    const reg = [this.registry];
    const now = opts.now ?? Date.now;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const snapshot = () => monitor.status();

    const state = new Gauge({ name: "tbg_monitor_region_state", help: "1 for the region's current state (healthy, degraded, down, unknown)", labelNames: ["region", "role", "state"], registers: reg, collect() {
      for (const r of snapshot().regions) for (const s of REGION_STATES) state.set({ region: r.name, role: r.role, state: s }, r.state === s ? 1 : 0);
    } });
    const drained = new Gauge({ name: "tbg_monitor_region_drained", help: "1 while the region is drained for maintenance (config drain: health endpoint 503, routed around)", labelNames: ["region"], registers: reg, collect() {
      for (const r of snapshot().regions) drained.set({ region: r.name }, r.drained ? 1 : 0);
    } });
    const stateSeconds = new Gauge({ name: "tbg_monitor_region_state_seconds", help: "Seconds the region has been in its current state", labelNames: ["region"], registers: reg, collect() {
      for (const r of snapshot().regions) stateSeconds.set({ region: r.name }, r.stateSinceMs === null ? 0 : (now() - r.stateSinceMs) / 1000);
    } });
    const transitions = new Counter({ name: "tbg_monitor_region_transitions_total", help: "Region state changes, by new state", labelNames: ["region", "to"], registers: reg });
    const probes = new Counter({ name: "tbg_monitor_probes_total", help: "Probes run, by probe (stratum, health) and result (ok, fail)", labelNames: ["region", "probe", "result"], registers: reg });
    const probeDuration = new Histogram({ name: "tbg_monitor_probe_duration_seconds", help: "Duration of successful probes (stratum: connect + subscribe; health: GET /health)", labelNames: ["region", "probe"], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: reg });
    for (const r of snapshot().regions) {
      for (const probe of ["stratum", "health"]) for (const result of ["ok", "fail"]) probes.inc({ region: r.name, probe, result }, 0);
      for (const s of REGION_STATES) if (s !== "unknown") transitions.inc({ region: r.name, to: s }, 0);
    }
    const route = new Gauge({ name: "tbg_monitor_route", help: "1 for the region whose miners are sent to target now (region=\"default\": unknown locations)", labelNames: ["region", "target"], registers: reg, collect() {
      route.reset();
      const s = snapshot();
      for (const r of s.regions) route.set({ region: r.name, target: r.route.routeTo }, 1);
      route.set({ region: "default", target: s.defaultRoute.routeTo }, 1);
    } });

    // What each region's /health reported in the latest round (absent when it gave no body: a stale value
    // would hide the outage; relay gauges only when a relay block is there).
    const fromPool = (name: string, help: string, pick: (p: NonNullable<ReturnType<typeof snapshot>["regions"][number]["pool"]>) => number | boolean | null) => {
      const g: Gauge = new Gauge({ name, help, labelNames: ["region"], registers: reg, collect() {
        g.reset();
        for (const r of snapshot().regions) {
          const fresh = r.pool !== null && r.last !== null && r.poolAtMs === r.last.atMs;
          const v = fresh ? pick(r.pool!) : null;
          if (v !== null) g.set({ region: r.name }, typeof v === "boolean" ? (v ? 1 : 0) : v);
        }
      } });
    };
    fromPool("tbg_monitor_region_miners", "Open Stratum connections, as the region's /health reports", (p) => p.miners);
    fromPool("tbg_monitor_region_hashrate_hs", "5-minute pool hashrate, H/s, as the region's /health reports", (p) => p.hashrate5mHs);
    fromPool("tbg_monitor_region_template_age_seconds", "Age of the region's current template, as its /health reports", (p) => p.templateAgeSeconds);
    fromPool("tbg_monitor_relay_independent", "1 when the relay makes its own templates (primary unreachable)", (p) => p.relay?.independent ?? null);
    fromPool("tbg_monitor_relay_primary_connected", "1 when the relay is connected to the primary", (p) => p.relay?.primaryConnected ?? null);
    fromPool("tbg_monitor_relay_template_latency_seconds", "Primary's template send to relay receipt, seconds", (p) => (p.relay?.templateLatencyMs ?? null) === null ? null : p.relay!.templateLatencyMs! / 1000);
    fromPool("tbg_monitor_relay_primary_rtt_seconds", "Relay to primary round trip, seconds", (p) => (p.relay?.primaryRttMs ?? null) === null ? null : p.relay!.primaryRttMs! / 1000);
    fromPool("tbg_monitor_relay_stale_share_ratio", "Stale shares over all shares at the relay (0–1)", (p) => (p.relay?.staleSharePercent ?? null) === null ? null : p.relay!.staleSharePercent! / 100);

    const natsUp = new Gauge({ name: "tbg_monitor_nats_up", help: "1 when the NATS hub's monitoring endpoint answered the last probe", registers: reg, collect() {
      const n = snapshot().nats;
      if (n) natsUp.set(n.ok ? 1 : 0);
    } });
    const leafnodes = new Gauge({ name: "tbg_monitor_nats_leafnodes", help: "Leaf nodes (relay regions) connected to the NATS hub", registers: reg, collect() {
      leafnodes.reset();
      const n = snapshot().nats;
      if (n?.leafnodes !== null && n?.leafnodes !== undefined) leafnodes.set(n.leafnodes);
    } });
    const leafExpected = new Gauge({ name: "tbg_monitor_nats_leafnodes_expected", help: "Leaf nodes that should be connected (nats.expected_leafnodes)", registers: reg, collect() {
      const n = snapshot().nats;
      if (n) leafExpected.set(n.expected);
    } });
    const lastRound = new Gauge({ name: "tbg_monitor_last_round_timestamp_seconds", help: "Unix time of the last completed probe round", registers: reg, collect() {
      const at = snapshot().lastRoundAtMs;
      if (at !== null) lastRound.set(at / 1000);
    } });

    const onProbe = (e: { region: string; probe: string; ok: boolean; durationMs: number | null }) => {
      probes.inc({ region: e.region, probe: e.probe, result: e.ok ? "ok" : "fail" });
      if (e.ok && e.durationMs !== null) probeDuration.observe({ region: e.region, probe: e.probe }, e.durationMs / 1000);
    };
    const onTransition = (e: { region: string; transition: { to: string } }) => transitions.inc({ region: e.region, to: e.transition.to });
    monitor.on("probe", onProbe);
    monitor.on("transition", onTransition);
    this.offs.push(() => monitor.off("probe", onProbe), () => monitor.off("transition", onTransition));
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
