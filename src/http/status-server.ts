/**
 * The small HTTP server every long-running command exposes: `GET /health` (JSON) and `GET /metrics`
 * (Prometheus text). `/health` answers 200 when the status is "ok" and 503 when degraded, with the same
 * JSON body either way (GeoDNS health checks act on the code; monitors and humans read the body). HEAD is
 * accepted on both paths; anything else is 404, other methods 405. Plain node:http: a handful of routes do not
 * justify a framework. Slow or stuck clients are timed out so they cannot pile up. A command may add more
 * GET routes (`routes`: the status page at `/` and its JSON API under `/api/`).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeHttp, listenHttp } from "./listen.ts";

export interface StatusServerOptions {
  host: string;
  /** 0 = an ephemeral port (tests, `tbg dev`). */
  port: number;
  /** The /health body; `status` decides 200 ("ok") or 503. */
  health(): { status: string };
  metrics: { metrics(): Promise<string>; readonly contentType: string };
  /** Names the listener in errors ("health/metrics HTTP"). */
  component: string;
  /** The flag or config key that sets the port, named in errors ("health.port"). */
  setting: string;
  /** A request handler failed (reported; the client gets a 500). */
  onError?: (err: unknown) => void;
  /** Extra GET/HEAD routes by exact path (e.g. `/` and `/api/status`). */
  routes?: Record<string, (query: URLSearchParams) => RouteResponse | Promise<RouteResponse>>;
}

/** What an extra route answers. */
export interface RouteResponse {
  status: number;
  contentType: string;
  body: string;
  /** Extra headers (e.g. Content-Security-Policy). */
  headers?: Record<string, string>;
}

export class StatusServer {
  private server: Server | null = null;
  private boundPort = 0;

  constructor(private readonly o: StatusServerOptions) {}

  /** The port actually bound (after start). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port` after start (a wildcard host is shown as 127.0.0.1). */
  get url(): string {
    const wildcard = this.o.host === "0.0.0.0" || this.o.host === "::";
    const h = wildcard ? "127.0.0.1" : this.o.host;
    return `http://${h.includes(":") ? `[${h}]` : h}:${this.boundPort}`;
  }

  /** Bind; throws a ListenError (src/util/ports.ts) when the port is taken or the address is invalid. */
  async start(): Promise<void> {
    if (this.server) return;
    const { server, port } = await listenHttp((req, res) => void this.handle(req, res), { component: this.o.component, host: this.o.host, port: this.o.port, setting: this.o.setting, onError: (err) => this.o.onError?.(err) });
    this.boundPort = port;
    this.server = server;
  }

  /** Stop listening and drop open connections (scrapers keep them alive). Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await closeHttp(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname;
      const route = Object.hasOwn(this.o.routes ?? {}, path) ? this.o.routes![path] : undefined;
      if (path !== "/health" && path !== "/metrics" && !route) return send(res, 404, "text/plain; charset=utf-8", "not found\n");
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET, HEAD");
        return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
      }
      const head = req.method === "HEAD";
      if (route) {
        const r = await route(url.searchParams);
        for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
        return send(res, r.status, r.contentType, r.body, head);
      }
      if (path === "/health") {
        const report = this.o.health();
        return send(res, report.status === "ok" ? 200 : 503, "application/json; charset=utf-8", JSON.stringify(report, null, 2) + "\n", head);
      }
      return send(res, 200, this.o.metrics.contentType, await this.o.metrics.metrics(), head);
    } catch (err) {
      this.o.onError?.(err);
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    }
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head = false): void {
  res.statusCode = status;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(head ? undefined : body);
}
