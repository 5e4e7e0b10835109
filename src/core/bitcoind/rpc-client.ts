/**
 * bitcoind JSON-RPC 1.0 over HTTP/1.1 (node:http with a keep-alive agent).
 *
 * Bitcoin Core specifics handled here (see Bitcoin Core doc/JSON-RPC-interface.md):
 * - RPC errors come back as HTTP 500 (404 for an unknown method) *with* a JSON body
 *   `{"result": null, "error": {"code", "message"}, "id"}`: the body is parsed before the status is judged.
 * - 401 has an empty body. With cookie auth (`<datadir>/.cookie`, `__cookie__:<random>`) bitcoind
 *   writes a new cookie on every restart, so on 401 the cookie file is read again and the call retried once.
 * - bitcoind closes idle keep-alive connections (`-rpcservertimeout`, default 30 s); a request written to
 *   such a socket fails with ECONNRESET, so a call that fails that way on a *reused* socket is retried
 *   once on a fresh one (all methods the pool uses are safe to repeat: submitblock answers "duplicate").
 * - responses are capped (`maxResponseBytes`) so a broken or hostile endpoint cannot exhaust memory.
 */
import http from "node:http";
import { readFile } from "node:fs/promises";
import { TbgError } from "../../util/errors.ts";
import {
  RpcAuthError,
  RpcConnectionError,
  RpcHttpError,
  RpcRemoteError,
  RpcResponseError,
  RpcTimeoutError,
} from "./errors.ts";
import {
  parseAddressValidation,
  parseBlockHash,
  parseBlockHeader,
  parseBlockTemplate,
  parseBlockchainInfo,
  parseSubmitBlockResult,
  type AddressValidation,
  type BlockHeaderInfo,
  type BlockTemplate,
  type BlockchainInfo,
} from "./rpc-types.ts";

/** Default per-call timeout (connect + request + whole response), ms. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;
/** Default response size cap, bytes. A mainnet template is ~2-8 MB of hex; 64 MiB leaves ample room. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Default number of parallel connections per node (bitcoind's default `-rpcthreads` is 4). */
export const DEFAULT_MAX_CONNECTIONS = 4;
/**
 * Idle keep-alive sockets are closed after this long, ms: below bitcoind's 30 s `-rpcservertimeout`
 * so we normally close first instead of writing into a socket the server just closed.
 */
const IDLE_SOCKET_TIMEOUT_MS = 15_000;

/** Options of {@link RpcClient}. */
export interface RpcClientOptions {
  /** `http://host:port[/path]` or ckpool style `host:port`. Credentials in the URL (`http://u:p@h:port`) are used when `user`/`pass` are not given. */
  url: string;
  /** Basic auth user (bitcoind `-rpcuser`, or an `-rpcauth` user). */
  user?: string;
  /** Basic auth password. */
  pass?: string;
  /** Path of bitcoind's `.cookie` file; used when no user/pass is given. Re-read after a 401. */
  cookieFile?: string;
  /** Per-call timeout, ms. Default {@link DEFAULT_RPC_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Name for messages and metrics. Default: `host:port`. */
  name?: string;
  /** Response size cap, bytes. Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  /** Parallel connections. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Called after every call (for logs/metrics in the app layer). */
  onCall?: (info: RpcCallInfo) => void;
}

/** What {@link RpcClientOptions.onCall} receives. */
export interface RpcCallInfo {
  /** Client name. */
  name: string;
  method: string;
  /** Wall time of the call including a retry, ms. */
  durationMs: number;
  /** The error the call failed with; undefined on success. */
  error?: TbgError;
}

interface RawResponse {
  status: number;
  body: Buffer;
}

/** Attempt-level failure: carries whether the socket was a reused keep-alive one. */
class AttemptError extends Error {
  constructor(
    readonly error: TbgError,
    readonly reusedSocket: boolean,
  ) {
    super(error.message);
  }
}

/** Parses `http://host:port/path`, `host:port` or `host` (port 8332). */
function parseUrl(raw: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (err) {
    throw new TbgError("RPC_URL_INVALID", `invalid RPC url '${raw}'`, { cause: err });
  }
  if (url.protocol !== "http:") throw new TbgError("RPC_URL_INVALID", `RPC url '${raw}': only http:// is supported (bitcoind serves plain HTTP)`);
  if (!url.port) url.port = "8332";
  return url;
}

const RETRYABLE_ON_REUSED = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** A JSON-RPC client for one bitcoind-compatible node. Create once per node; call {@link close} on shutdown. */
export class RpcClient {
  /** Name used in messages (`name` option or `host:port`). */
  readonly name: string;
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #agent: http.Agent;
  readonly #cookieFile: string | undefined;
  readonly #onCall: ((info: RpcCallInfo) => void) | undefined;
  #authHeader: string | undefined;
  #nextId = 1;

  constructor(opts: RpcClientOptions) {
    this.#url = parseUrl(opts.url);
    this.name = opts.name ?? this.#url.host;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#cookieFile = opts.cookieFile;
    this.#onCall = opts.onCall;
    const user = opts.user ?? (this.#url.username ? decodeURIComponent(this.#url.username) : undefined);
    const pass = opts.pass ?? (this.#url.password ? decodeURIComponent(this.#url.password) : undefined);
    if (user !== undefined || pass !== undefined) this.#authHeader = basic(`${user ?? ""}:${pass ?? ""}`);
    this.#agent = new http.Agent({
      keepAlive: true,
      maxSockets: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      timeout: IDLE_SOCKET_TIMEOUT_MS,
    });
  }

  /** Endpoint without credentials, e.g. `http://127.0.0.1:8332/`. */
  get url(): string {
    return `http://${this.#url.host}${this.#url.pathname}`;
  }

  /**
   * Calls `method` with positional `params`. Resolves to `result`; rejects with an Rpc*Error
   * (`RPC_TIMEOUT`, `RPC_HTTP`, `RPC_AUTH`, `RPC_CONNECT`, `RPC_BAD_RESPONSE`, `RPC_REMOTE`).
   * The result is not validated here; the typed helpers below validate it.
   */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const started = performance.now();
    try {
      const result = (await this.#call(method, params)) as T;
      this.#onCall?.({ name: this.name, method, durationMs: performance.now() - started });
      return result;
    } catch (err) {
      const error = err instanceof TbgError ? err : new RpcConnectionError(`${this.name}: ${String(err)}`, undefined, { cause: err });
      this.#onCall?.({ name: this.name, method, durationMs: performance.now() - started, error });
      throw error;
    }
  }

  /** `getblocktemplate {"rules": rules}`, validated. Pass `["segwit"]` (plus `"signet"` on signet). */
  async getBlockTemplate(rules: string[]): Promise<BlockTemplate> {
    return parseBlockTemplate(await this.call("getblocktemplate", [{ rules }]));
  }

  /**
   * `submitblock hex`. Resolves to null when the node accepted the block, otherwise to BIP22's
   * rejection reason ("duplicate", "inconclusive", "bad-txnmrklroot", "high-hash", …).
   * A block the node cannot even decode rejects with `RpcRemoteError` (rpcCode -22).
   */
  async submitBlock(hex: string): Promise<string | null> {
    return parseSubmitBlockResult(await this.call("submitblock", [hex]));
  }

  /** `getblockchaininfo`, validated. */
  async getBlockchainInfo(): Promise<BlockchainInfo> {
    return parseBlockchainInfo(await this.call("getblockchaininfo"));
  }

  /** `getbestblockhash`: tip hash in display byte order. */
  async getBestBlockHash(): Promise<string> {
    return parseBlockHash(await this.call("getbestblockhash"));
  }

  /** `getblockhash height` on the active chain. */
  async getBlockHash(height: number): Promise<string> {
    return parseBlockHash(await this.call("getblockhash", [height]));
  }

  /** `getblockheader hash true`. */
  async getBlockHeader(hash: string): Promise<BlockHeaderInfo> {
    return parseBlockHeader(await this.call("getblockheader", [hash, true]));
  }

  /** `validateaddress addr`. */
  async validateAddress(addr: string): Promise<AddressValidation> {
    return parseAddressValidation(await this.call("validateaddress", [addr]));
  }

  /** Closes idle keep-alive sockets. Calls in flight are aborted. */
  close(): void {
    this.#agent.destroy();
  }

  async #call(method: string, params: unknown[]): Promise<unknown> {
    const id = this.#nextId++;
    const body = Buffer.from(JSON.stringify({ jsonrpc: "1.0", id, method, params }));
    if (this.#authHeader === undefined && this.#cookieFile !== undefined) await this.#loadCookie();

    let res = await this.#attemptWithReuseRetry(body);
    if (res.status === 401 && this.#cookieFile !== undefined) {
      // bitcoind rewrites the cookie on restart: read it again and retry once.
      await this.#loadCookie();
      res = await this.#attemptWithReuseRetry(body);
    }
    return this.#interpret(method, id, res);
  }

  async #attemptWithReuseRetry(body: Buffer): Promise<RawResponse> {
    try {
      return await this.#attempt(body);
    } catch (err) {
      if (!(err instanceof AttemptError)) throw err;
      const errno = err.error instanceof RpcConnectionError ? err.error.errno : undefined;
      if (!err.reusedSocket || errno === undefined || !RETRYABLE_ON_REUSED.has(errno)) throw err.error;
    }
    try {
      return await this.#attempt(body);
    } catch (err) {
      throw err instanceof AttemptError ? err.error : err;
    }
  }

  #interpret(method: string, id: number, res: RawResponse): unknown {
    let parsed: unknown;
    let parseError: unknown;
    try {
      parsed = JSON.parse(res.body.toString("utf8"));
    } catch (err) {
      parseError = err;
    }
    const reply = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    const rpcError = reply?.error;
    if (rpcError !== undefined && rpcError !== null) {
      if (typeof rpcError === "object" && typeof (rpcError as { code?: unknown }).code === "number") {
        const { code, message } = rpcError as { code: number; message?: unknown };
        throw new RpcRemoteError(code, `${this.name}: ${method}: ${typeof message === "string" ? message : JSON.stringify(message)} (${code})`, method);
      }
      throw new RpcResponseError(`${this.name}: ${method}: malformed error object ${JSON.stringify(rpcError).slice(0, 200)}`);
    }
    if (res.status === 401) throw new RpcAuthError(`${this.name}: ${method}: HTTP 401 unauthorized (check rpcuser/rpcpassword or the cookie file)`);
    if (res.status !== 200) {
      throw new RpcHttpError(res.status, `${this.name}: ${method}: HTTP ${res.status}: ${snippet(res.body)}`);
    }
    if (reply === undefined) {
      throw new RpcResponseError(
        parseError !== undefined
          ? `${this.name}: ${method}: response is not JSON (${res.body.length} bytes): ${snippet(res.body)}`
          : `${this.name}: ${method}: response is not a JSON object`,
        { cause: parseError },
      );
    }
    if (!("result" in reply)) throw new RpcResponseError(`${this.name}: ${method}: response has no 'result'`);
    if (reply.id !== undefined && reply.id !== null && reply.id !== id) {
      throw new RpcResponseError(`${this.name}: ${method}: response id ${JSON.stringify(reply.id)} does not match request id ${id}`);
    }
    return reply.result;
  }

  async #loadCookie(): Promise<void> {
    const file = this.#cookieFile as string;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new RpcAuthError(`${this.name}: cannot read cookie file ${file}: ${(err as Error).message}`, { cause: err });
    }
    const cookie = text.trim();
    if (!cookie.includes(":")) throw new RpcAuthError(`${this.name}: cookie file ${file} is not 'user:password'`);
    this.#authHeader = basic(cookie);
  }

  #attempt(body: Buffer): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        "Content-Type": "application/json",
        "Content-Length": body.length,
      };
      if (this.#authHeader !== undefined) headers.Authorization = this.#authHeader;
      const req = http.request({
        agent: this.#agent,
        host: this.#url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(this.#url.port),
        path: `${this.#url.pathname}${this.#url.search}`,
        method: "POST",
        headers,
      });
      let settled = false;
      let gotResponse = false;
      const fail = (error: TbgError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new AttemptError(error, req.reusedSocket && !gotResponse));
        req.destroy();
      };
      const timer = setTimeout(() => {
        fail(new RpcTimeoutError(`${this.name}: no complete response within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);

      req.on("error", (err: NodeJS.ErrnoException) => {
        if (gotResponse) {
          fail(new RpcResponseError(`${this.name}: response truncated: ${err.message}`, { cause: err }));
        } else {
          fail(new RpcConnectionError(`${this.name}: ${err.code ?? "connection error"}: ${err.message}`, err.code, { cause: err }));
        }
      });
      req.on("response", (res) => {
        gotResponse = true;
        const declared = Number(res.headers["content-length"]);
        if (Number.isFinite(declared) && declared > this.#maxResponseBytes) {
          fail(new RpcResponseError(`${this.name}: response of ${declared} bytes exceeds the ${this.#maxResponseBytes} byte cap`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#maxResponseBytes) {
            fail(new RpcResponseError(`${this.name}: response exceeds the ${this.#maxResponseBytes} byte cap`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("aborted", () => fail(new RpcResponseError(`${this.name}: response truncated (connection closed after ${size} bytes)`)));
        res.on("error", (err) => fail(new RpcResponseError(`${this.name}: response truncated: ${err.message}`, { cause: err })));
        res.on("end", () => {
          if (settled) return;
          if (!res.complete) {
            fail(new RpcResponseError(`${this.name}: response truncated (connection closed after ${size} bytes)`));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks, size) });
        });
      });
      req.end(body);
    });
  }
}

function basic(credentials: string): string {
  return `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`;
}

function snippet(body: Buffer): string {
  const text = body.subarray(0, 200).toString("utf8").replace(/\s+/g, " ").trim();
  return text.length > 0 ? JSON.stringify(text) : "(empty body)";
}
