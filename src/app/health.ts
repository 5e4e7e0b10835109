/**
 * HTTP `/health` (JSON) and `/metrics` (Prometheus text) on `health.host:health.port` (SPEC §8).
 *
 * `/health` answers 200 when the status is "ok" and 503 when "degraded", with the same JSON body
 * either way: GeoDNS health checks (Route53, Cloudflare) act on the status code, the region monitor
 * and humans read the body. HEAD is accepted on both paths (load balancers use it). Anything else
 * is 404, other methods 405. Plain node:http: two routes do not justify a framework.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TbgError, errorText } from "../util/errors.ts";
import { buildHealthReport, type HealthSources } from "./pool-status.ts";
import type { PoolMetrics } from "./metrics.ts";

/** The health port could not be bound. */
export class HealthListenError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HEALTH_LISTEN", message, options);
  }
}

/** Options of {@link HealthServer}. */
export interface HealthServerOptions extends HealthSources {
  host: string;
  /** 0 = an ephemeral port (tests, `tbg dev`). */
  port: number;
  metrics: PoolMetrics;
  /** A request handler failed (reported; the client gets a 500). */
  onError?: (err: unknown) => void;
}

/** Serves /health and /metrics; see the module comment. */
export class HealthServer {
  private readonly opts: HealthServerOptions;
  private server: Server | null = null;
  private boundPort = 0;

  constructor(opts: HealthServerOptions) {
    this.opts = opts;
  }

  /** The port actually bound (after start). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port` (after start). */
  get url(): string {
    const host = this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${this.boundPort}`;
  }

  /** Bind. Throws HEALTH_LISTEN when the port is taken or the address is invalid. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    // A scraper never needs more than a few seconds; slow or stuck clients must not pile up.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new HealthListenError(`health: cannot listen on ${this.opts.host}:${this.opts.port}: ${errorText(err)}`, { cause: err })));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    server.on("error", (err) => this.opts.onError?.(err));
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening and drop open connections (scrapers keep them alive). Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path !== "/health" && path !== "/metrics") return send(res, 404, "text/plain; charset=utf-8", "not found\n");
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET, HEAD");
        return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
      }
      const head = req.method === "HEAD";
      if (path === "/health") {
        const report = buildHealthReport({ ...this.opts, shareRate: this.opts.shareRate ?? this.opts.metrics.shareRate, lastBlockAtMs: this.opts.metrics.lastBlockAtMs });
        return send(res, report.status === "ok" ? 200 : 503, "application/json; charset=utf-8", JSON.stringify(report, null, 2) + "\n", head);
      }
      const text = await this.opts.metrics.metrics();
      return send(res, 200, this.opts.metrics.contentType, text, head);
    } catch (err) {
      this.opts.onError?.(err);
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    }
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head = false): void {
  res.statusCode = status;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(head ? undefined : body);
}
