/**
 * HTTP `/health` (JSON) and `/metrics` (Prometheus text) on `health.host:health.port`.
 *
 * `/health` answers 200 when the status is "ok" and 503 when "degraded", with the same JSON body
 * either way: GeoDNS health checks (Route53, Cloudflare) act on the status code, the region monitor
 * and humans read the body. HEAD is accepted on both paths (load balancers use it). Anything else
 * is 404, other methods 405.
 */
import { StatusServer } from "../http/status-server.ts";
import { buildHealthReport, type HealthSources } from "./pool-status.ts";
import type { PoolMetrics } from "./metrics.ts";

/** Options of {@link HealthServer}. */
export interface HealthServerOptions extends HealthSources {
  host: string;
  /** 0 = an ephemeral port (tests, `tbg dev`). */
  port: number;
  metrics: PoolMetrics;
  /** A request handler failed (reported; the client gets a 500). */
  onError?: (err: unknown) => void;
}

/** Serves /health and /metrics for the pool (src/http/status-server.ts does the HTTP). */
export class HealthServer extends StatusServer {
  constructor(opts: HealthServerOptions) {
    super({
      host: opts.host,
      port: opts.port,
      metrics: opts.metrics,
      onError: opts.onError,
      component: "health/metrics HTTP",
      setting: "health.port",
      health: () => buildHealthReport({ ...opts, shareRate: opts.shareRate ?? opts.metrics.shareRate, lastBlockAtMs: opts.metrics.lastBlockAtMs }),
    });
  }
}
