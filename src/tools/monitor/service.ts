/**
 * The monitor's composition: the probe loop, its metrics, its HTTP API, and log lines for every state
 * change (worse: warn; better: info). `tbg monitor` and the tests start it the same way.
 * Started in order (first round, HTTP) and closed in reverse (HTTP first, so health checkers see the
 * monitor go rather than stale answers; then the loop).
 */
import type { Logger } from "pino";
import type { MonitorConfig } from "./config.ts";
import { MonitorHttpServer } from "./http.ts";
import { MonitorMetrics } from "./metrics.ts";
import { RegionMonitor, type MonitorProbes } from "./monitor.ts";

/** A running monitor. */
export interface MonitorService {
  monitor: RegionMonitor;
  metrics: MonitorMetrics;
  http: MonitorHttpServer;
  /** `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

const RANK = { unknown: -1, healthy: 0, degraded: 1, down: 2 } as const;

/** Starts the monitor: the first probe round, then the HTTP listener. */
export async function startMonitorService(config: MonitorConfig, opts: { log: Logger; probes?: Partial<MonitorProbes>; now?: () => number; monotonic?: () => number }): Promise<MonitorService> {
  const { log } = opts;
  const monitor = new RegionMonitor({ config, probes: opts.probes, now: opts.now, monotonic: opts.monotonic });
  monitor.on("roundError", ({ error }) => log.error({ error: String(error) }, "monitor round failed; probing goes on next interval"));
  const metrics = new MonitorMetrics(monitor, { now: opts.now });
  monitor.on("transition", ({ region, role, transition: t }) => {
    const line = { region, role, from: t.from, to: t.to, observations: t.observations, reason: t.reason, route_to: monitor.route(region)?.routeTo };
    if (RANK[t.to] > RANK[t.from]) log.warn(line, "region %s: %s → %s", region, t.from, t.to);
    else log.info(line, "region %s: %s → %s", region, t.from, t.to);
  });
  let natsOk: boolean | null = null;
  monitor.on("nats", (n) => {
    if (n.ok === natsOk) return;
    natsOk = n.ok;
    if (n.ok) log.info({ leafnodes: n.leafnodes }, "NATS hub monitoring endpoint answers");
    else log.warn({ error: n.error }, "NATS hub monitoring endpoint: %s", n.error);
  });
  await monitor.start();
  const http = new MonitorHttpServer({ host: config.host, port: config.port, monitor, metrics, now: opts.now, onError: (err) => log.warn({ error: String(err) }, "monitor HTTP handler failed") });
  try {
    await http.start();
  } catch (err) {
    await monitor.close();
    metrics.close();
    throw err;
  }
  log.info({ url: http.url, regions: config.regions.map((r) => r.name), interval_ms: config.intervalMs, failure_threshold: config.failureThreshold, recovery_threshold: config.recoveryThreshold }, "monitor listening on %s", http.url);
  return {
    monitor,
    metrics,
    http,
    url: http.url,
    async close() {
      await http.close();
      await monitor.close();
      metrics.close();
    },
  };
}
