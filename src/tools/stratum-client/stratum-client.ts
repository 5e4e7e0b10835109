/**
 * Stratum V1 client over TCP: one instance = one connection (reconnecting is the caller's job; it creates
 * a new client). Requests get numeric ids and a promise with a timeout; answers resolve with the pool's
 * `result`/`error` as sent (a Stratum error is an answer, not an exception) plus the round trip time.
 * Server notifications update the session state and are re-emitted as typed events.
 */
import { EventEmitter } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import {
  ClientConnectError,
  ClientConnectionClosedError,
  ClientLineTooLongError,
  ClientProtocolError,
  ClientRequestTimeoutError,
  ClientUrlError,
} from "./errors.ts";
import { LineDecoder } from "../../core/stratum/framing.ts";
import {
  encodeRequest,
  parseConfigureVersionMask,
  parseNotify,
  parseReconnect,
  parseServerLine,
  parseSetDifficulty,
  parseSetExtranonce,
  parseSubscribeResult,
  parseVersionMask,
  type ExtranonceAssignment,
  type NotifyJob,
  type ReconnectRequest,
  type StratumServerCall,
} from "./messages.ts";

/** Defaults for {@link StratumClientOptions}, each documented once here. */
export const CLIENT_DEFAULTS = {
  /** TCP connect timeout. */
  connectTimeoutMs: 10_000,
  /** Per-request answer timeout. */
  requestTimeoutMs: 15_000,
  /** Longest server line accepted; a 3,000-tx template's notify is ~1 KiB (12 branch hashes). */
  maxLineBytes: 256 * 1024,
  /** Answer to `client.get_version`. */
  userAgent: "tbg-client/0.1",
} as const;

/** Options for {@link StratumClient}. */
export interface StratumClientOptions {
  host: string;
  port: number;
  /** Default {@link CLIENT_DEFAULTS.connectTimeoutMs}. */
  connectTimeoutMs?: number;
  /** Default {@link CLIENT_DEFAULTS.requestTimeoutMs}. */
  requestTimeoutMs?: number;
  /** Default {@link CLIENT_DEFAULTS.maxLineBytes}. */
  maxLineBytes?: number;
  /** Sent in answer to `client.get_version`. */
  userAgent?: string;
  /** Monotonic clock in ms for round trips; default `performance.now`. */
  now?: () => number;
}

/** A pool's answer to one request. */
export interface RequestAnswer {
  result: unknown;
  /** The pool's `error` as sent; null on success. */
  error: unknown;
  /** ckpool's `reject-reason`, if present. */
  rejectReason: string | undefined;
  /** Send → answer, ms. */
  rttMs: number;
}

/** What the client knew when a job arrived: everything needed to build work for it. */
export interface JobContext {
  job: NotifyJob;
  /** Share difficulty in force for this job (the last set_difficulty before its notify). */
  difficulty: number;
  extranonce1Hex: string;
  extranonce2Size: number;
  /** Negotiated BIP310 version-rolling mask; 0 = no rolling. */
  versionMask: number;
  /** Clock value (ms) when the notify was parsed. */
  receivedAtMs: number;
}

/** Typed events of {@link StratumClient}. */
export interface StratumClientEvents {
  /** A new job (mining.notify), with the session state it applies to. */
  notify: [ctx: JobContext];
  /** mining.set_difficulty (applies from the next notify). */
  difficulty: [difficulty: number];
  /** mining.set_version_mask or a configure answer (applies at once, BIP310). */
  versionMask: [mask: number];
  /** mining.set_extranonce (applies from the next notify). */
  extranonce: [assignment: ExtranonceAssignment];
  /** client.reconnect: the owner should reconnect (the client does not). */
  reconnect: [request: ReconnectRequest];
  /** client.show_message text. */
  showMessage: [text: string];
  /** A server line that could not be used; the connection stays up unless the line was too long. */
  protocolError: [err: ClientProtocolError | ClientLineTooLongError];
  /** Any server call, parsed (for logging/tests). */
  serverCall: [call: StratumServerCall];
  /** The socket closed. `error` is set when it closed because of a failure. */
  close: [info: { error?: Error }];
}

interface Pending {
  method: string;
  sentAtMs: number;
  timer: NodeJS.Timeout;
  resolve: (a: RequestAnswer) => void;
  reject: (e: Error) => void;
}

/** Parses `stratum+tcp://host:port` (also `tcp://host:port` and bare `host:port`). */
export function parseStratumUrl(url: string): { host: string; port: number } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `stratum+tcp://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ClientUrlError(url);
  }
  const port = Number(u.port);
  if (!u.hostname || !Number.isInteger(port) || port <= 0) throw new ClientUrlError(url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

/** One Stratum V1 connection. Call {@link connect}, then requests; {@link close} when done. */
export class StratumClient extends EventEmitter<StratumClientEvents> {
  readonly host: string;
  readonly port: number;
  private readonly opts: Required<Omit<StratumClientOptions, "host" | "port">>;
  private socket: Socket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private closeError: Error | undefined;

  /** extranonce1 from subscribe (or the last applied set_extranonce). */
  extranonce1Hex = "";
  /** extranonce2 size in bytes. */
  extranonce2Size = 0;
  /** Last difficulty the pool set (applies to jobs notified after it). */
  difficulty = 1;
  /** Negotiated version-rolling mask (0 = none). */
  versionMask = 0;
  /** The latest job, if any. */
  lastJob: JobContext | undefined;
  private pendingExtranonce: ExtranonceAssignment | undefined;

  constructor(opts: StratumClientOptions) {
    super();
    this.host = opts.host;
    this.port = opts.port;
    this.opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
      maxLineBytes: opts.maxLineBytes ?? CLIENT_DEFAULTS.maxLineBytes,
      userAgent: opts.userAgent ?? CLIENT_DEFAULTS.userAgent,
      now: opts.now ?? (() => performance.now()),
    };
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.socket !== undefined && !this.closed;
  }

  /** Number of requests awaiting an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Opens the TCP connection. Rejects with {@link ClientConnectError}. */
  connect(): Promise<void> {
    if (this.socket) return Promise.reject(new ClientConnectError("connect() called twice"));
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: this.host, port: this.port });
      this.socket = socket;
      socket.setNoDelay(true);
      const decoder = new LineDecoder({
        maxLineBytes: this.opts.maxLineBytes,
        onLine: (line) => this.onLine(line),
        onViolation: () => {
          const err = new ClientLineTooLongError(this.opts.maxLineBytes);
          this.emit("protocolError", err);
          this.destroy(err);
        },
      });
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const err = new ClientConnectError(`connect to ${this.host}:${this.port} timed out after ${this.opts.connectTimeoutMs} ms`);
        this.destroy(err);
        reject(err);
      }, this.opts.connectTimeoutMs);
      socket.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      });
      socket.on("data", (chunk: Buffer) => decoder.push(chunk));
      socket.on("error", (err) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new ClientConnectError(`connect to ${this.host}:${this.port}: ${err.message}`, { cause: err }));
        }
        this.closeError ??= err;
      });
      socket.on("close", () => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(new ClientConnectError(`connection to ${this.host}:${this.port} closed during connect`));
        }
        this.onClosed();
      });
    });
  }

  /**
   * Sends a request and resolves with the pool's answer. Rejects only with
   * {@link ClientRequestTimeoutError} or {@link ClientConnectionClosedError}.
   */
  request(method: string, params: unknown[], opts: { timeoutMs?: number } = {}): Promise<RequestAnswer> {
    if (!this.socket || this.closed) return Promise.reject(new ClientConnectionClosedError(`${method}: connection is not open`));
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientRequestTimeoutError(method, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { method, sentAtMs: this.opts.now(), timer, resolve, reject });
      this.socket!.write(encodeRequest(id, method, params));
    });
  }

  /** Sends a request without tracking an answer (any answer is ignored). */
  send(method: string, params: unknown[]): void {
    if (!this.socket || this.closed) return;
    this.socket.write(encodeRequest(this.nextId++, method, params));
  }

  /** Writes raw bytes (tests and fuzzing). */
  writeRaw(data: string | Buffer): void {
    this.socket?.write(data);
  }

  /** Closes the connection; outstanding requests reject with {@link ClientConnectionClosedError}. */
  close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      this.onClosed();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      socket.destroy();
    });
  }

  private destroy(err: Error): void {
    this.closeError ??= err;
    this.socket?.destroy();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new ClientConnectionClosedError("connection closed", this.closeError ? { cause: this.closeError } : undefined);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    this.emit("close", this.closeError ? { error: this.closeError } : {});
  }

  private onLine(line: string): void {
    let msg;
    try {
      msg = parseServerLine(line);
    } catch (err) {
      this.emit("protocolError", err as ClientProtocolError);
      return;
    }
    if (msg.kind === "response") {
      const p = this.pending.get(msg.id);
      if (!p) return; // late answer after a timeout, or an id we never sent
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      // Session state from handshake answers is applied here, synchronously, so a notify later in the same
      // read (pools push it right behind the answers) already sees the extranonce and the version mask.
      if (p.method === "mining.subscribe" && !msg.error) {
        try {
          this.setExtranonce(parseSubscribeResult(msg.result));
        } catch {
          // runHandshake reports the unusable result
        }
      } else if (p.method === "mining.configure") {
        this.setVersionMask(msg.error ? 0 : parseConfigureVersionMask(msg.result));
      }
      p.resolve({ result: msg.result, error: msg.error, rejectReason: msg.rejectReason, rttMs: this.opts.now() - p.sentAtMs });
      return;
    }
    this.emit("serverCall", msg);
    try {
      this.onServerCall(msg);
    } catch (err) {
      if (err instanceof ClientProtocolError) this.emit("protocolError", err);
      else throw err;
    }
  }

  private onServerCall(call: StratumServerCall): void {
    switch (call.method) {
      case "mining.notify": {
        const job = parseNotify(call.params);
        if (this.pendingExtranonce) {
          // set_extranonce applies from the next notify (Stratum wiki; NiceHash extension).
          this.extranonce1Hex = this.pendingExtranonce.extranonce1Hex;
          this.extranonce2Size = this.pendingExtranonce.extranonce2Size;
          this.pendingExtranonce = undefined;
        }
        const ctx: JobContext = {
          job,
          difficulty: this.difficulty,
          extranonce1Hex: this.extranonce1Hex,
          extranonce2Size: this.extranonce2Size,
          versionMask: this.versionMask,
          receivedAtMs: this.opts.now(),
        };
        this.lastJob = ctx;
        this.emit("notify", ctx);
        return;
      }
      case "mining.set_difficulty":
        this.difficulty = parseSetDifficulty(call.params);
        this.emit("difficulty", this.difficulty);
        return;
      case "mining.set_version_mask":
        this.setVersionMask(parseVersionMask(call.params));
        return;
      case "mining.set_extranonce":
        this.pendingExtranonce = parseSetExtranonce(call.params);
        this.emit("extranonce", this.pendingExtranonce);
        return;
      case "client.reconnect":
        this.emit("reconnect", parseReconnect(call.params));
        return;
      case "client.show_message":
        this.emit("showMessage", typeof call.params[0] === "string" ? call.params[0] : JSON.stringify(call.params));
        return;
      case "client.get_version":
        this.answer(call.id, this.opts.userAgent);
        return;
      case "mining.ping":
        this.answer(call.id, "pong");
        return;
      default:
        // Unknown server calls are tolerated; answer requests so the pool does not wait on us.
        if (call.id !== null) this.answer(call.id, null, [20, "Not supported", null]);
    }
  }

  /** Records a new version mask (from set_version_mask or the owner's configure handling). */
  setVersionMask(mask: number): void {
    this.versionMask = mask >>> 0;
    // BIP310: a new mask applies at once, also to the job being worked on.
    if (this.lastJob) this.lastJob.versionMask = this.versionMask;
    this.emit("versionMask", this.versionMask);
  }

  /** Records the subscribe answer. */
  setExtranonce(assignment: ExtranonceAssignment): void {
    this.extranonce1Hex = assignment.extranonce1Hex;
    this.extranonce2Size = assignment.extranonce2Size;
    // Some pools push a notify before the subscribe answer: re-issue it now that the
    // extranonce is known, so the job becomes workable.
    if (this.lastJob && this.lastJob.extranonce1Hex === "") {
      this.lastJob = { ...this.lastJob, extranonce1Hex: assignment.extranonce1Hex, extranonce2Size: assignment.extranonce2Size };
      this.emit("notify", this.lastJob);
    }
  }

  private answer(id: number | string | null, result: unknown, error: unknown = null): void {
    if (id === null || !this.socket || this.closed) return;
    this.socket.write(JSON.stringify({ id, result, error }) + "\n");
  }
}
