/**
 * HTTP `/health` (JSON) and `/metrics` (Prometheus text) on `health.host:health.port` (SPEC §8), plus the
 * live status page at `/` and its JSON API `/api/status` (docs/status.md) unless `health.status_page` is off.
 *
 * `/health` answers 200 when the status is "ok" and 503 when "degraded", with the same JSON body
 * either way: GeoDNS health checks (Route53, Cloudflare) act on the status code, the region monitor
 * and humans read the body. HEAD is accepted on every path (load balancers use it). Anything else
 * is 404, other methods 405.
 */
import { performance } from "node:perf_hooks";
import { listenError } from "../util/ports.ts";
import { StatusServer, type RouteResponse } from "../http/status-server.ts";
import { jsonResponse, pageResponse } from "../http/page.ts";
import { buildHealthReport, type HealthSources } from "./pool-status.ts";
import type { PoolMetrics } from "./metrics.ts";
import { buildPoolStatus, scrubSecrets, type AddressMask, type PoolStatusSources } from "./status-snapshot.ts";
import { STATUS_LIMITS, type PoolStatus } from "./status-api.ts";
import { poolStatusPage } from "./status-page.ts";


/** Options of {@link HealthServer}. */
export interface HealthServerOptions extends HealthSources {
  host: string;
  /** Where the port is set, named in a listen error: `health.port` (default) or a flag such as `--http-port`. */
  portSetting?: string;
  /** 0 = an ephemeral port (tests, `tbg dev`). */
  port: number;
  metrics: PoolMetrics;
  /** A request handler failed (reported; the client gets a 500). */
  onError?: (err: unknown) => void;
  /** The status page and `/api/status`; absent = not served. */
  status?: Pick<PoolStatusSources, "tracker" | "records" | "mask" | "secrets"> | null;
  /** Applied to `/health` too: secrets scrubbed; `last_block.user` replaced by its pseudonym when addresses are `hidden` (`short` is for pages: monitors keep the address). */
  privacy?: { mask: AddressMask; secrets: readonly string[] } | null;
}

/**
 * How long one built status document is reused: at least a second (many viewers polling cost one build a
 * second), and ten times the last build's duration, so that building it never takes more than a tenth
 * of the event loop however large the pool (bench/status-snapshot.ts measures a build).
 */
const STATUS_CACHE_MS = 1000;
const STATUS_CACHE_FACTOR = 10;

/** Serves /health and /metrics (and the status page) for the pool (src/http/status-server.ts does the HTTP). */
export class HealthServer extends StatusServer {
  constructor(opts: HealthServerOptions) {
    const health = () => ({ ...opts, shareRate: opts.shareRate ?? opts.metrics.shareRate, lastBlockAtMs: opts.metrics.lastBlockAtMs });
    /** Built documents by `?miners=` (a few sizes at most: an odd N per request cannot bypass the cache). */
    const cache = new Map<number, { atMs: number; ttlMs: number; doc: PoolStatus }>();
    const routes: Record<string, (q: URLSearchParams) => RouteResponse> = {};
    const status = opts.status;
    if (status) {
      routes["/"] = () => pageResponse(poolStatusPage());
      routes["/api/status"] = (q) => {
        const raw = q.get("miners");
        const n = raw === null ? STATUS_LIMITS.miners : Number(raw);
        if (!Number.isInteger(n) || n < 0 || n > STATUS_LIMITS.maxMiners) {
          return jsonResponse({ error: `miners must be an integer from 0 to ${STATUS_LIMITS.maxMiners}, got '${raw!.slice(0, 32)}'`, code: "BAD_QUERY" }, 400);
        }
        const now = performance.now();
        const sources = { ...health(), ...status };
        let hit = cache.get(n);
        if (!hit || now - hit.atMs >= hit.ttlMs) {
          const doc = buildPoolStatus(sources, n);
          const end = performance.now();
          hit = { atMs: end, ttlMs: Math.max(STATUS_CACHE_MS, (end - now) * STATUS_CACHE_FACTOR), doc };
          cache.delete(n);
          cache.set(n, hit);
          if (cache.size > 4) cache.delete(cache.keys().next().value as number);
        }
        return jsonResponse(hit.doc);
      };
    }
    super({
      host: opts.host,
      port: opts.port,
      metrics: opts.metrics,
      onError: opts.onError,
      // The same error as every other port (PORT_IN_USE naming the component, address and setting).
      listenError: (_message, cause) => listenError({ component: "health/metrics HTTP", host: opts.host, port: opts.port, setting: opts.portSetting ?? "health.port" }, cause),
      health: () => {
        const report = buildHealthReport(health());
        const privacy = opts.privacy;
        if (!privacy) return report;
        if (report.last_block?.user && privacy.mask.display === "hidden") report.last_block.user = privacy.mask.show(report.last_block.user);
        return scrubSecrets(report, privacy.secrets);
      },
      routes,
    });
  }
}
