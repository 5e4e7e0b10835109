/**
 * The collector's `/health` (JSON) and `/metrics` (Prometheus text), plain node:http like the pool's
 * (src/app/health.ts): 200 when healthy, 503 when degraded, the same JSON body either way; HEAD
 * accepted; anything else 404/405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TbgError, errorText } from "../util/errors.ts";
import type { CollectorStats } from "./collector.ts";
import type { CollectorMetrics } from "./metrics.ts";

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
  if (s.nats && !s.nats.connected) problems.push("NATS not connected");
  else if (s.nats && !s.nats.consuming) problems.push(`JetStream consumer ${s.nats.durable} not consuming`);
  if (s.redis && !s.redis.connected) problems.push(`Redis not connected (${s.redis.backlog} events waiting)`);
  return { status: problems.length ? "degraded" : "ok", problems, ...s };
}

/** The HTTP port could not be bound. */
export class CollectorListenError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("COLLECTOR_HTTP_LISTEN", message, options);
  }
}

/** Options of {@link CollectorHttpServer}. */
export interface CollectorHttpOptions {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  metrics: CollectorMetrics;
  health: () => CollectorStats;
}

/** Serves /health and /metrics. */
export class CollectorHttpServer {
  private server: Server | null = null;
  private boundPort = 0;

  constructor(private readonly o: CollectorHttpOptions) {}

  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port` after start (0.0.0.0 shown as 127.0.0.1). */
  get url(): string {
    const h = this.o.host === "0.0.0.0" || this.o.host === "::" ? "127.0.0.1" : this.o.host;
    return `http://${h.includes(":") ? `[${h}]` : h}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new CollectorListenError(`collector: cannot listen on ${this.o.host}:${this.o.port}: ${errorText(err)}`, { cause: err })));
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    server.on("error", () => undefined);
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

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
        const report = buildCollectorHealth(this.o.health());
        return send(res, report.status === "ok" ? 200 : 503, "application/json; charset=utf-8", JSON.stringify(report, null, 2) + "\n", head);
      }
      return send(res, 200, this.o.metrics.contentType, await this.o.metrics.metrics(), head);
    } catch {
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
