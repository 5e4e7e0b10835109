/**
 * A JSON-RPC 1.0 HTTP server that behaves like Bitcoin Core's (src/httprpc.cpp):
 * - `POST /` only; HTTP Basic auth (`WWW-Authenticate: Basic realm="jsonrpc"` and an empty 401 body);
 * - a single request that fails gets HTTP 500, except -32600 (400) and -32601 (404), with the JSON error body;
 * - batches (arrays) always get 200; a body that is not JSON gets 500 with -32700.
 * The methods themselves are a pluggable {@link RpcHandler}; the embedded node plugs in bcoin.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { listenError } from "../../util/ports.ts";

/** JSON-RPC error codes used by the server itself (Bitcoin Core src/rpc/protocol.h). */
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_PARAMETER = -8;

/** Request body cap, bytes: a submitblock of a 4 MWU block is ≤ 8 MB of hex; Core's limit is 32 MB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** One reply object as Bitcoin Core writes it. */
export interface RpcReply {
  result: unknown;
  error: { code: number; message: string } | null;
  id: unknown;
}

/** Answers one JSON-RPC request; returns the full reply object (never throws for RPC-level errors). */
export type RpcHandler = (request: { method: unknown; params: unknown; id: unknown }) => Promise<RpcReply>;

/** Options of {@link JsonRpcHttpServer}. */
export interface JsonRpcHttpServerOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one (kept across stop/start). */
  port: number;
  user: string;
  pass: string;
  handler: RpcHandler;
  /**
   * Accept header lines ending in a bare `\n` (as Bitcoin Core's libevent server does; ckpool sends them),
   * via Node's lenient HTTP parser. Default false (Node's strict parser answers 400).
   */
  lenientHttp?: boolean;
  /**
   * JSON-RPC named parameters (`"params": {…}`), as Bitcoin Core accepts them: method → its argument names
   * in order; an object is turned into the positional array before the handler sees it. A name the method
   * does not have is Core's -8 "Unknown named parameter NAME". Without this table, params must be an array.
   */
  namedParams?: Readonly<Record<string, readonly string[]>>;
}

/** bitcoind-like JSON-RPC HTTP endpoint. `start()` and `close()` may be repeated (failover tests). */
export class JsonRpcHttpServer {
  readonly #opts: JsonRpcHttpServerOptions;
  readonly #expectedAuth: Buffer;
  #server: http.Server | undefined;
  #port: number;

  constructor(opts: JsonRpcHttpServerOptions) {
    this.#opts = opts;
    this.#port = opts.port;
    this.#expectedAuth = Buffer.from(`Basic ${Buffer.from(`${opts.user}:${opts.pass}`).toString("base64")}`);
  }

  /** Bound port (valid after the first start). */
  get port(): number {
    return this.#port;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Listens on the configured port (the same one again after a `close()`). */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = http.createServer({ insecureHTTPParser: this.#opts.lenientHttp ?? false }, (req, res) => this.#onRequest(req, res));
    server.keepAliveTimeout = 30_000; // like bitcoind's -rpcservertimeout default
    const host = this.#opts.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(listenError({ component: "embedded node JSON-RPC", host, port: this.#port, setting: "--node-rpc-port" }, err));
      server.once("error", onError);
      server.listen(this.#port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection, including idle keep-alive ones. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  #authorized(req: http.IncomingMessage): boolean {
    const got = Buffer.from(req.headers.authorization ?? "");
    return got.length === this.#expectedAuth.length && timingSafeEqual(got, this.#expectedAuth);
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== "POST") {
      res.writeHead(405, { Allow: "POST" });
      res.end("JSONRPC server handles only POST requests");
      return;
    }
    if (!this.#authorized(req)) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="jsonrpc"' });
      res.end();
      return;
    }
    if (req.url !== "/" && req.url !== "") {
      res.writeHead(404);
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooLarge) {
        res.writeHead(413, { Connection: "close" });
        res.end();
        return;
      }
      this.#dispatch(Buffer.concat(chunks).toString("utf8"))
        .then(({ status, body }) => {
          const text = JSON.stringify(body) + "\n";
          res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end(`internal error: ${String(err)}`);
        });
    });
  }

  async #dispatch(text: string): Promise<{ status: number; body: unknown }> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { status: 500, body: errorReply(RPC_PARSE_ERROR, "Parse error", null) };
    }
    if (Array.isArray(parsed)) {
      const replies: RpcReply[] = [];
      for (const item of parsed) replies.push(await this.#one(item));
      return { status: 200, body: replies };
    }
    const reply = await this.#one(parsed);
    return { status: reply.error ? httpStatusFor(reply.error.code) : 200, body: reply };
  }

  async #one(item: unknown): Promise<RpcReply> {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      return errorReply(RPC_INVALID_REQUEST, "Invalid Request object", null);
    }
    const { method, params, id } = item as { method?: unknown; params?: unknown; id?: unknown };
    if (typeof method !== "string") return errorReply(RPC_INVALID_REQUEST, "Method must be a string", id ?? null);
    if (params !== undefined && params !== null && !Array.isArray(params)) {
      const names = this.#opts.namedParams;
      if (!names || typeof params !== "object") return errorReply(RPC_INVALID_REQUEST, names ? "Params must be an array or object" : "Params must be an array", id ?? null);
      const positional = namedToPositional(names[method] ?? [], params as Record<string, unknown>);
      if (typeof positional === "string") return errorReply(RPC_INVALID_PARAMETER, positional, id ?? null);
      return this.#opts.handler({ method, params: positional, id: id ?? null });
    }
    return this.#opts.handler({ method, params: params ?? [], id: id ?? null });
  }
}

/**
 * Named → positional parameters the way Bitcoin Core does it (rpc/server.cpp transformNamedArguments): each
 * argument name takes its slot, trailing missing ones are dropped, missing ones in between become null.
 * Returns the error message for a name the method does not take.
 */
export function namedToPositional(argNames: readonly string[], params: Record<string, unknown>): unknown[] | string {
  for (const key of Object.keys(params)) if (!argNames.includes(key)) return `Unknown named parameter ${key}`;
  const out: unknown[] = argNames.map((n) => (Object.hasOwn(params, n) ? params[n] : null));
  while (out.length > 0 && !Object.hasOwn(params, argNames[out.length - 1])) out.pop();
  return out;
}

/** Bitcoin Core's status for a failed single request (httprpc.cpp JSONErrorReply). */
function httpStatusFor(code: number): number {
  if (code === RPC_INVALID_REQUEST) return 400;
  if (code === RPC_METHOD_NOT_FOUND) return 404;
  return 500;
}

/** Builds `{result: null, error: {code, message}, id}`. */
export function errorReply(code: number, message: string, id: unknown): RpcReply {
  return { result: null, error: { code, message }, id };
}
