/**
 * The collector's `/health` (JSON) and `/metrics` (Prometheus text), plain node:http like the pool's
 * (src/app/health.ts): 200 when healthy, 503 when degraded, the same JSON body either way; HEAD
 * accepted; anything else 404/405. With a platform source, also the platform page at `/` and its JSON
 * API `/api/platform` (docs/status.md).
 */
import { StatusServer } from "../../http/status-server.ts";
import type { CollectorStats } from "./collector.ts";
import { COLLECTOR_DEFAULTS } from "./config.ts";
import type { CollectorMetrics } from "./metrics.ts";
import { jsonResponse, pageResponse } from "../../http/page.ts";
import type { PlatformStatusSource } from "./platform-status.ts";
import { platformStatusPage } from "./status-page.ts";

/** The /health body. */
export interface CollectorHealthReport extends CollectorStats {
  status: "ok" | "degraded";
  /** Why the status is degraded (empty when ok). */
  problems: string[];
}

/** Stats → health report (pure). Degraded when an output or a configured input is down. */
export function buildCollectorHealth(s: CollectorStats): CollectorHealthReport {
  const problems: string[] = [];
  if (!s.database.open) problems.push(`database not open: ${s.database.lastError ?? "opening"}`);
  else if (s.database.failing) problems.push(`database writes failing: ${s.database.lastError ?? "?"}`);
  if (s.socket && !s.socket.bound) problems.push(`event socket ${s.socket.path} not bound`);
  else if (s.socket?.pathProblem) problems.push(s.socket.pathProblem);
  if (s.nats && !s.nats.connected) problems.push("NATS not connected");
  else if (s.nats && !s.nats.consuming) problems.push(`JetStream consumer ${s.nats.durable} not consuming`);
  const issue = s.nats?.lastStreamIssue;
  if (issue && issue.ageSeconds < COLLECTOR_DEFAULTS.streamIssueHealthSec) {
    problems.push(`JetStream ${issue.kind === "reset" ? "stream reset" : `sequence gap (${issue.missed} messages)`} ${Math.round(issue.ageSeconds)} s ago: ${issue.detail}`);
  }
  if (s.redis && !s.redis.connected) problems.push(`Redis not connected (${s.redis.backlog} events waiting)`);
  return { status: problems.length ? "degraded" : "ok", problems, ...s };
}

/** Options of {@link CollectorHttpServer}. */
export interface CollectorHttpOptions {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  metrics: CollectorMetrics;
  health: () => CollectorStats;
  /** The platform page and `/api/platform`; absent = not served. */
  platform?: PlatformStatusSource | null;
}

/** Serves /health and /metrics for the collector (src/http/status-server.ts does the HTTP). */
export class CollectorHttpServer extends StatusServer {
  constructor(o: CollectorHttpOptions) {
    super({
      host: o.host,
      port: o.port,
      metrics: o.metrics,
      component: "collector health/metrics HTTP",
      setting: "--metrics-port (metrics_port)",
      health: () => buildCollectorHealth(o.health()),
      routes: o.platform
        ? { "/": () => pageResponse(platformStatusPage()), "/api/platform": async () => jsonResponse(await o.platform!.get()) }
        : undefined,
    });
  }
}
