/**
 * Stratum V1 messages as the client sees them. Pure: JSON text in, typed values out.
 * Parsers are strict about types (a pool-controlled field of the wrong type has crashed firmware before,
 * ESP-Miner#1880) and tolerant about envelopes (missing `error`, extra `jsonrpc`, ESP-Miner#917).
 */
import { ClientProtocolError } from "./errors.ts";

/** A reply to one of our requests. */
export interface StratumResponse {
  kind: "response";
  /** The id we sent (numbers only: we never send other ids). */
  id: number;
  /** `result` as sent; `null` when absent. */
  result: unknown;
  /** `error` as sent (`[code, msg, tb]`, a string for ckpool, or null). */
  error: unknown;
  /** ckpool's `reject-reason` string on a rejected share. */
  rejectReason: string | undefined;
}

/** A server→client method call: a notification (`id` null) or a request expecting an answer. */
export interface StratumServerCall {
  kind: "call";
  method: string;
  params: unknown[];
  /** Non-null when the server wants an answer (e.g. `client.get_version`). */
  id: number | string | null;
}

/** Any parsed server line. */
export type StratumIncoming = StratumResponse | StratumServerCall;

/** Parses one server line. Throws {@link ClientProtocolError} on anything that is not a Stratum message. */
export function parseServerLine(line: string): StratumIncoming {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    throw new ClientProtocolError(`invalid JSON from server: ${line.slice(0, 80)}`, { cause: err });
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) throw new ClientProtocolError("server message is not an object");
  const m = msg as Record<string, unknown>;
  if (typeof m.method === "string") {
    const params = Array.isArray(m.params) ? m.params : m.params === undefined || m.params === null ? [] : [m.params];
    const id = typeof m.id === "number" || typeof m.id === "string" ? m.id : null;
    return { kind: "call", method: m.method, params, id };
  }
  if (typeof m.id === "number") {
    const rr = m["reject-reason"];
    return {
      kind: "response",
      id: m.id,
      result: m.result === undefined ? null : m.result,
      error: m.error === undefined ? null : m.error,
      rejectReason: typeof rr === "string" ? rr : undefined,
    };
  }
  throw new ClientProtocolError("server message has neither a method nor a numeric id");
}

/** Serialises a client request line (with the terminating newline). */
export function encodeRequest(id: number, method: string, params: unknown[]): string {
  return JSON.stringify({ id, method, params }) + "\n";
}

/** `mining.notify`, typed. Hex fields keep the wire's byte order (see ./work.ts for what each means). */
export interface NotifyJob {
  jobId: string;
  /** Previous block hash as Stratum sends it: internal byte order with each 4-byte word byte-reversed. */
  prevhashStratum: string;
  coinb1Hex: string;
  coinb2Hex: string;
  /** Merkle branch hashes, internal byte order, hex. */
  merkleBranchHex: string[];
  /** Block version, big-endian hex of the uint32. */
  versionHex: string;
  /** Compact target, big-endian hex of the uint32. */
  nbitsHex: string;
  /** Block time, big-endian hex of the uint32. */
  ntimeHex: string;
  /** true: drop all earlier jobs now. */
  cleanJobs: boolean;
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const isHex = (v: unknown, chars?: number): v is string =>
  typeof v === "string" && HEX_RE.test(v) && (chars === undefined || v.length === chars);

/** Parses `mining.notify` params (exactly 9, ESP-Miner#1844). */
export function parseNotify(params: unknown[]): NotifyJob {
  if (params.length !== 9) throw new ClientProtocolError(`mining.notify needs 9 params, got ${params.length}`);
  const [jobId, prevhash, coinb1, coinb2, branch, version, nbits, ntime, clean] = params;
  if (typeof jobId !== "string" || jobId.length === 0) throw new ClientProtocolError("mining.notify: bad job_id");
  if (!isHex(prevhash, 64)) throw new ClientProtocolError("mining.notify: bad prevhash");
  if (!isHex(coinb1) || !isHex(coinb2)) throw new ClientProtocolError("mining.notify: bad coinbase parts");
  if (!Array.isArray(branch) || !branch.every((b) => isHex(b, 64))) throw new ClientProtocolError("mining.notify: bad merkle branch");
  if (!isHex(version, 8) || !isHex(nbits, 8) || !isHex(ntime, 8)) throw new ClientProtocolError("mining.notify: bad version/nbits/ntime");
  if (typeof clean !== "boolean") throw new ClientProtocolError("mining.notify: clean_jobs is not a boolean");
  return {
    jobId,
    prevhashStratum: prevhash,
    coinb1Hex: coinb1,
    coinb2Hex: coinb2,
    merkleBranchHex: branch as string[],
    versionHex: version,
    nbitsHex: nbits,
    ntimeHex: ntime,
    cleanJobs: clean,
  };
}

/** Parses `mining.set_difficulty` params: `[N]`, and tolerates a bare or nested number. */
export function parseSetDifficulty(params: unknown[]): number {
  let v: unknown = params[0];
  if (Array.isArray(v)) v = v[0];
  if (typeof v === "string" && v.trim() !== "") v = Number(v);
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ClientProtocolError("mining.set_difficulty: not a positive number");
  return v;
}

/** Parses `mining.set_version_mask` params `["1fffe000"]` (BIP310) to a uint32. */
export function parseVersionMask(params: unknown[]): number {
  const v = params[0];
  if (!isHex(v, 8)) throw new ClientProtocolError("mining.set_version_mask: mask is not 8 hex digits");
  return parseInt(v, 16) >>> 0;
}

/** Extranonce assignment from subscribe or `mining.set_extranonce`. */
export interface ExtranonceAssignment {
  extranonce1Hex: string;
  /** Bytes of extranonce2 the miner rolls. */
  extranonce2Size: number;
}

function parseExtranonce(en1: unknown, size: unknown, what: string): ExtranonceAssignment {
  if (!isHex(en1)) throw new ClientProtocolError(`${what}: extranonce1 is not hex`);
  // A negative or huge size crashed firmware (ESP-Miner#1880); 0..32 covers every pool seen (4, 6, 8).
  if (typeof size !== "number" || !Number.isInteger(size) || size < 0 || size > 32) {
    throw new ClientProtocolError(`${what}: bad extranonce2 size`);
  }
  return { extranonce1Hex: en1.toLowerCase(), extranonce2Size: size };
}

/** Parses `mining.set_extranonce` params `["en1", size]` (applies from the next notify). */
export function parseSetExtranonce(params: unknown[]): ExtranonceAssignment {
  return parseExtranonce(params[0], params[1], "mining.set_extranonce");
}

/** Subscribe result `[subscriptions, extranonce1, extranonce2_size]`. */
export interface SubscribeResult extends ExtranonceAssignment {
  /** The subscription tuples as sent (shape varies by pool). */
  subscriptions: unknown;
}

/** Parses the `mining.subscribe` result. */
export function parseSubscribeResult(result: unknown): SubscribeResult {
  if (!Array.isArray(result) || result.length < 3) throw new ClientProtocolError("mining.subscribe: result is not [subs, en1, en2size]");
  return { subscriptions: result[0], ...parseExtranonce(result[1], result[2], "mining.subscribe") };
}

/** Parses the `mining.configure` result's version-rolling answer; returns the granted mask (0 = none). */
export function parseConfigureVersionMask(result: unknown): number {
  if (typeof result !== "object" || result === null) return 0;
  const r = result as Record<string, unknown>;
  if (r["version-rolling"] !== true) return 0;
  const mask = r["version-rolling.mask"];
  return isHex(mask, 8) ? parseInt(mask, 16) >>> 0 : 0;
}

/** `client.reconnect([host?, port?, wait_s?])`. */
export interface ReconnectRequest {
  host?: string;
  port?: number;
  waitSec?: number;
}

/** Parses `client.reconnect` params; missing or odd values are left out (the current server is used). */
export function parseReconnect(params: unknown[]): ReconnectRequest {
  const [host, port, wait] = params;
  const out: ReconnectRequest = {};
  if (typeof host === "string" && host.length > 0) out.host = host;
  const p = typeof port === "string" ? Number(port) : port;
  if (typeof p === "number" && Number.isInteger(p) && p > 0 && p < 65536) out.port = p;
  const w = typeof wait === "string" ? Number(wait) : wait;
  if (typeof w === "number" && Number.isFinite(w) && w >= 0) out.waitSec = w;
  return out;
}

/** Text of a Stratum `error` value in any of the shapes pools use. */
export function errorMessage(error: unknown): string | undefined {
  if (error === null || error === undefined || error === false) return undefined;
  if (typeof error === "string") return error;
  if (Array.isArray(error)) return typeof error[1] === "string" ? error[1] : JSON.stringify(error);
  if (typeof error === "object") {
    const m = (error as Record<string, unknown>).message;
    return typeof m === "string" ? m : JSON.stringify(error);
  }
  return String(error);
}

/** Numeric code of a Stratum `error` (`[code, msg, tb]` or `{code}`), if any. */
export function errorCode(error: unknown): number | undefined {
  if (Array.isArray(error) && typeof error[0] === "number") return error[0];
  if (typeof error === "object" && error !== null) {
    const c = (error as Record<string, unknown>).code;
    if (typeof c === "number") return c;
  }
  return undefined;
}
