/**
 * HTTP `/health` (JSON) and `/metrics` (Prometheus text) on `health.host:health.port`, plus the
 * live status page at `/` and its JSON API `/api/status` (docs/status.md) unless `health.status_page` is off.
 *
 * `/health` answers 200 when the status is "ok" and 503 when "degraded", with the same JSON body
 * either way: GeoDNS health checks (Route53, Cloudflare) act on the status code, the region monitor
 * and humans read the body. HEAD is accepted on every path (load balancers use it). Anything else
 * is 404, other methods 405.
 */
import { performance } from "node:perf_hooks";
import { StatusServer, type RouteResponse } from "../http/status-server.ts";
import { jsonResponse, pageResponse } from "../http/page.ts";
import { buildHealthReport, type HealthReport, type HealthSources } from "./pool-status.ts";
import type { Engine } from "../core/engine/engine.ts";
import type { PoolMetrics } from "./metrics.ts";
import { buildPoolStatus, scrubSecrets, type AddressMask, type PoolStatusSources } from "./status-snapshot.ts";
import { STATUS_LIMITS, type PoolStatus } from "./status-api.ts";
import { poolStatusPage } from "./status-page.ts";
import { displaySafe } from "../util/text.ts";

/** Options of {@link HealthServer}. */
export interface HealthServerOptions extends HealthSources {
  engine: Engine;
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
  /** Applied to `/health` too: secrets scrubbed from its server-side strings; `last_block.user` shown as `health.address_display` says. */
  privacy?: { mask: AddressMask; secrets: readonly string[] } | null;
}

/**
 * How long one built status document is reused: at least a second (many viewers polling cost one build a
 * second), and ten times the last build's duration, so that building it never takes more than a tenth
 * of the event loop however large the pool (bench/status-snapshot.ts measures a build). ONE document is
 * built per period, with the most rows any request may ask for (`maxMiners`); a request for N rows gets
 * the first N, so no choice of `?miners=` can force a rebuild. Serialized bodies are kept per size for
 * the period (at most {@link STATUS_BODY_SIZES} sizes, the default one always among them).
 */
const STATUS_CACHE_MS = 1000;
const STATUS_CACHE_FACTOR = 10;
const STATUS_BODY_SIZES = 4;
/** `?miners=`: plain decimal digits only (no sign, exponent, hex, spaces), then the range check. */
const MINERS_PARAM = /^\d{1,4}$/;

/** Counters of the `/api/status` cache (tests and the benchmark read them). */
export interface StatusCacheCounters {
  /** Documents built. */
  builds: number;
  /** Bodies serialized to JSON. */
  serializations: number;
}

/** Serves /health and /metrics (and the status page) for the pool (src/http/status-server.ts does the HTTP). */
export class HealthServer extends StatusServer {
  constructor(opts: HealthServerOptions) {
    const health = () => ({ ...opts, shareRate: opts.shareRate ?? opts.metrics.shareRate, lastBlockAtMs: opts.metrics.lastBlockAtMs });
    let cached: { atMs: number; ttlMs: number; doc: PoolStatus; bodies: Map<number, RouteResponse> } | null = null;
    const counters: StatusCacheCounters = { builds: 0, serializations: 0 };
    const routes: Record<string, (q: URLSearchParams) => RouteResponse> = {};
    const status = opts.status;
    if (status) {
      routes["/"] = () => pageResponse(poolStatusPage());
      routes["/api/status"] = (q) => {
        const raw = q.get("miners");
        const n = raw === null ? STATUS_LIMITS.miners : MINERS_PARAM.test(raw) ? Number(raw) : NaN;
        if (!(n >= 0 && n <= STATUS_LIMITS.maxMiners)) {
          return jsonResponse({ error: `miners must be an integer from 0 to ${STATUS_LIMITS.maxMiners} (decimal digits only), got '${displaySafe(raw ?? "", 32)}'`, code: "BAD_QUERY" }, 400);
        }
        const now = performance.now();
        if (!cached || now - cached.atMs >= cached.ttlMs) {
          const doc = buildPoolStatus({ ...health(), ...status }, STATUS_LIMITS.maxMiners);
          const end = performance.now();
          counters.builds++;
          cached = { atMs: end, ttlMs: Math.max(STATUS_CACHE_MS, (end - now) * STATUS_CACHE_FACTOR), doc, bodies: new Map() };
        }
        let body = cached.bodies.get(n);
        if (!body) {
          const { doc, bodies } = cached;
          body = jsonResponse(n >= doc.miners.rows.length ? doc : { ...doc, miners: { total: doc.miners.total, rows: doc.miners.rows.slice(0, n) } });
          counters.serializations++;
          if (bodies.size >= STATUS_BODY_SIZES) {
            for (const k of bodies.keys()) if (k !== STATUS_LIMITS.miners) { bodies.delete(k); break; }
          }
          bodies.set(n, body);
        }
        return body;
      };
    }
    super({
      host: opts.host,
      port: opts.port,
      metrics: opts.metrics,
      onError: opts.onError,
      component: "health/metrics HTTP",
      setting: opts.portSetting ?? "health.port",
      health: () => {
        const report = buildHealthReport(health());
        const privacy = opts.privacy;
        if (!privacy) return report;
        // The finder's address and worker are miner-supplied: masked, never scrubbed (see status-snapshot.ts).
        const lastBlock = report.last_block;
        const scrubbed: HealthReport = scrubSecrets({ ...report, last_block: null }, privacy.secrets);
        scrubbed.last_block = lastBlock && { ...lastBlock, user: lastBlock.user === null ? null : privacy.mask.show(lastBlock.user) };
        return scrubbed;
      },
      routes,
    });
    this.statusCache = counters;
  }

  /** Counters of the `/api/status` cache. */
  readonly statusCache: StatusCacheCounters;
}
