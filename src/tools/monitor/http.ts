/**
 * The monitor's HTTP API (plain node:http; GET and HEAD):
 *
 * | path | answer |
 * |---|---|
 * | `/regions/{name}/health` | **200** when the region is healthy, **503** otherwise: what Route53 / Cloudflare health checks poll |
 * | `/regions` | JSON overview of every region |
 * | `/regions/{name}` | JSON of one region |
 * | `/route`, `/route/{name}` | where miners of each region (or `default`: unknown location) should be sent now |
 * | `/health` | the monitor itself: 200 while its probe rounds keep running, 503 when they stalled |
 * | `/metrics` | Prometheus text |
 *
 * Unknown paths and regions are 404, other methods 405. Every answer carries `Cache-Control: no-store`.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeHttp, listenHttp } from "../../http/listen.ts";
import type { MonitorMetrics } from "./metrics.ts";
import type { LastProbe, MonitorStatus, RegionMonitor, RegionStatus } from "./monitor.ts";
import type { RouteAnswer } from "./state.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const round = (n: number | null, digits = 1) => (n === null ? null : Number(n.toFixed(digits)));

function probeJson(p: LastProbe | null) {
  if (!p) return null;
  return {
    at: iso(p.atMs),
    observation: p.observation,
    stratum: { ok: p.stratum.ok, rtt_ms: round(p.stratum.rttMs), error: p.stratum.error },
    health: { ok: p.health.ok, http_status: p.health.httpStatus, rtt_ms: round(p.health.rttMs), error: p.health.error },
  };
}

function routeJson(r: RouteAnswer, publicStratum: (name: string) => string | undefined) {
  return { region: r.region, route_to: r.routeTo, stratum: publicStratum(r.routeTo) ?? null, available: r.available, reason: r.reason };
}

function regionJson(r: RegionStatus, nowMs: number, publicStratum: (name: string) => string | undefined) {
  const p = r.pool;
  return {
    name: r.name,
    role: r.role,
    state: r.state,
    drained: r.drained,
    healthy: r.state === "healthy" && !r.drained,
    since: iso(r.stateSinceMs),
    state_seconds: r.stateSinceMs === null ? null : round((nowMs - r.stateSinceMs) / 1000),
    pending_observations: r.pending,
    stratum: r.stratum,
    public_stratum: r.publicStratum,
    health_url: r.healthUrl,
    failover: r.failover,
    route: routeJson(r.route, publicStratum),
    last_probe: probeJson(r.last),
    pool: p
      ? {
          at: iso(r.poolAtMs),
          status: p.status, problems: p.problems, region: p.region, instance: p.instance, mode: p.mode, miners: p.miners,
          hashrate_5m_hs: p.hashrate5mHs, shares_per_second: p.sharesPerSecond, template_height: p.templateHeight, template_age_seconds: p.templateAgeSeconds,
          relay: p.relay
            ? { state: p.relay.state, independent: p.relay.independent, primary_connected: p.relay.primaryConnected, template_latency_ms: p.relay.templateLatencyMs, primary_rtt_ms: p.relay.primaryRttMs, stale_share_percent: p.relay.staleSharePercent }
            : null,
        }
      : null,
    transitions: r.transitions.map((t) => ({ at: iso(t.atMs), from: t.from, to: t.to, observations: t.observations, reason: t.reason })),
  };
}

/** The `/regions` document. */
export function overviewJson(s: MonitorStatus, nowMs: number, publicStratum: (name: string) => string | undefined) {
  return {
    monitor: {
      started_at: iso(s.startedAtMs),
      rounds: s.rounds,
      last_round_at: iso(s.lastRoundAtMs),
      last_round_ms: round(s.lastRoundDurationMs),
      interval_ms: s.intervalMs,
      timeout_ms: s.timeoutMs,
      failure_threshold: s.failureThreshold,
      recovery_threshold: s.recoveryThreshold,
    },
    default_region: s.defaultRegion,
    routing: Object.fromEntries([...s.regions.map((r) => [r.name, r.route.routeTo]), ["default", s.defaultRoute.routeTo]]),
    regions: s.regions.map((r) => regionJson(r, nowMs, publicStratum)),
    nats: s.nats ? { ok: s.nats.ok, leafnodes: s.nats.leafnodes, expected_leafnodes: s.nats.expected, error: s.nats.error, at: iso(s.nats.atMs) } : null,
  };
}

/** Options of {@link MonitorHttpServer}. */
export interface MonitorHttpOptions {
  host: string;
  port: number;
  monitor: RegionMonitor;
  metrics: MonitorMetrics;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/** See the module comment. */
export class MonitorHttpServer {
  private server: Server | null = null;
  private boundPort = 0;
  private readonly now: () => number;

  constructor(private readonly o: MonitorHttpOptions) {
    this.now = o.now ?? Date.now;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port` after start (a wildcard host shown as 127.0.0.1). */
  get url(): string {
    const h = this.o.host === "0.0.0.0" || this.o.host === "::" ? "127.0.0.1" : this.o.host;
    return `http://${h.includes(":") ? `[${h}]` : h}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { server, port } = await listenHttp((req, res) => void this.handle(req, res), { component: "monitor HTTP", host: this.o.host, port: this.o.port, setting: "listen.port", onError: (err) => this.o.onError?.(err) });
    this.boundPort = port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await closeHttp(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const parts = new URL(req.url ?? "/", "http://x").pathname.split("/").filter((p) => p.length > 0).map(safeDecode);
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET, HEAD");
        return send(res, 405, { error: "method not allowed" }, false);
      }
      const head = req.method === "HEAD";
      const m = this.o.monitor;
      const pub = (n: string) => m.publicStratum(n);
      const [a, b, c] = parts;
      if (parts.length === 1 && a === "metrics") return sendText(res, 200, this.o.metrics.contentType, await this.o.metrics.metrics(), head);
      const s = m.status();
      const nowMs = this.now();
      if (parts.length === 1 && a === "health") {
        // Stalled: no round finished for three intervals plus the probe timeout, on the monotonic clock (a
        // wall-clock step back must not make a stalled loop look fresh).
        const limitMs = 3 * s.intervalMs + s.timeoutMs;
        const ageMs = s.lastRoundAgeMs === null ? null : Math.round(s.lastRoundAgeMs);
        const ok = ageMs !== null && ageMs <= limitMs;
        return send(res, ok ? 200 : 503, { status: ok ? "ok" : "stalled", rounds: s.rounds, last_round_at: iso(s.lastRoundAtMs), last_round_age_ms: ageMs }, head);
      }
      if (a === "regions" && parts.length === 1) return send(res, 200, overviewJson(s, nowMs, pub), head);
      if (a === "regions" && (parts.length === 2 || (parts.length === 3 && c === "health"))) {
        const r = s.regions.find((x) => x.name === b);
        if (!r) return send(res, 404, { error: `unknown region "${b}"`, regions: s.regions.map((x) => x.name) }, head);
        if (parts.length === 2) return send(res, 200, regionJson(r, nowMs, pub), head);
        // A drained region answers 503 whatever its probes say: DNS takes it out before it is stopped.
        const healthy = r.state === "healthy" && !r.drained;
        return send(res, healthy ? 200 : 503, { region: r.name, state: r.state, drained: r.drained, healthy, since: iso(r.stateSinceMs), route_to: r.route.routeTo }, head);
      }
      if (a === "route" && parts.length === 1) {
        return send(res, 200, { default: routeJson(s.defaultRoute, pub), regions: Object.fromEntries(s.regions.map((r) => [r.name, routeJson(r.route, pub)])) }, head);
      }
      if (a === "route" && parts.length === 2) {
        const r = m.route(b);
        if (!r) return send(res, 404, { error: `unknown region "${b}"`, regions: [...s.regions.map((x) => x.name), "default"] }, head);
        return send(res, 200, routeJson(r, pub), head);
      }
      return send(res, 404, { error: "not found", paths: ["/regions", "/regions/{name}", "/regions/{name}/health", "/route", "/route/{name}", "/health", "/metrics"] }, head);
    } catch (err) {
      this.o.onError?.(err);
      if (!res.headersSent) sendText(res, 500, "text/plain; charset=utf-8", "internal error\n", false);
      else res.destroy();
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function send(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  sendText(res, status, "application/json; charset=utf-8", JSON.stringify(body, null, 2) + "\n", head);
}

function sendText(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.statusCode = status;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(head ? undefined : body);
}
