/**
 * Stratum V1 messages: decoding client requests and encoding server replies and notifications.
 * Pure code. Every malformed input becomes a typed `Decoded` failure with a reason the session
 * counts and answers; nothing here throws for bad input.
 * Formats: Stratum V1 as every pool and miner speaks it (JSON-RPC over TCP, one object per line), BIP310 for mining.configure.
 */
import { StratumCode, errorTuple, type StratumErrorTuple } from "./errors.ts";
import type { SubmitParams } from "../shares/validator.ts";
import { safeText, textProblem } from "../../util/text.ts";

export type { SubmitParams };

/** JSON-RPC id as the client sent it: echoed back unchanged. */
export type RequestId = string | number | null;

export type ClientRequest =
  | { method: "mining.subscribe"; id: RequestId; userAgent: string | null; sessionId: string | null }
  | { method: "mining.authorize"; id: RequestId; username: string; password: string | null }
  | { method: "mining.configure"; id: RequestId; extensions: string[]; params: Record<string, unknown> }
  | { method: "mining.suggest_difficulty"; id: RequestId; difficulty: number }
  | { method: "mining.extranonce.subscribe"; id: RequestId }
  | { method: "mining.submit"; id: RequestId; submit: SubmitParams }
  | { method: "unknown"; id: RequestId; name: string };

/** Why a line could not be turned into a request. */
export type DecodeFailure =
  | { kind: "invalid_json"; id: RequestId }
  | { kind: "not_a_request"; id: RequestId } // valid JSON, but not an object with a string method
  | { kind: "response"; id: RequestId } // a client's reply to one of our requests (e.g. client.get_version): ignored
  | { kind: "bad_params"; id: RequestId; method: string; detail: string };

export type Decoded = { ok: true; request: ClientRequest } | { ok: false; failure: DecodeFailure };

const HEX = /^[0-9a-fA-F]*$/;

function idOf(v: unknown): RequestId {
  return typeof v === "string" || typeof v === "number" ? v : null;
}

function bad(id: RequestId, method: string, detail: string): Decoded {
  return { ok: false, failure: { kind: "bad_params", id, method, detail } };
}

/** Reads a difficulty given as `N`, `[N]` or a numeric string (ESP-Miner sends `[1000]`, NerdMiner `[0.0001]`). */
function difficultyParam(params: unknown): number | null {
  const v = Array.isArray(params) ? params[0] : params;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : null;
}

function hexString(v: unknown, maxChars: number): string | null {
  return typeof v === "string" && v.length <= maxChars && HEX.test(v) ? v : null;
}

export function decodeRequest(line: string): Decoded {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return { ok: false, failure: { kind: "invalid_json", id: null } };
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return { ok: false, failure: { kind: "not_a_request", id: null } };
  }
  const obj = msg as Record<string, unknown>;
  const id = idOf(obj.id);
  if (typeof obj.method !== "string") {
    if ("result" in obj || "error" in obj) return { ok: false, failure: { kind: "response", id } };
    return { ok: false, failure: { kind: "not_a_request", id } };
  }
  const method = obj.method;
  const params = obj.params === undefined ? [] : obj.params;

  switch (method) {
    case "mining.subscribe": {
      const p = Array.isArray(params) ? params : [];
      // Informational text: kept, with control characters and lone surrogates replaced (src/util/text.ts).
      const ua = typeof p[0] === "string" ? safeText(p[0], 128) : null;
      const sid = typeof p[1] === "string" ? safeText(p[1], 32) : null;
      return { ok: true, request: { method, id, userAgent: ua, sessionId: sid } };
    }
    case "mining.authorize": {
      if (!Array.isArray(params) || typeof params[0] !== "string") return bad(id, method, "params[0] (username) must be a string");
      if (params[0].length === 0 || params[0].length > 256) return bad(id, method, "username must be 1-256 characters");
      // The username names the user and worker in every event and log line: refused, not rewritten,
      // so a miner learns why (a rewritten name would no longer match its submits).
      const problem = textProblem(params[0]);
      if (problem) return bad(id, method, `username ${problem}`);
      const password = typeof params[1] === "string" ? safeText(params[1], 256) : null;
      return { ok: true, request: { method, id, username: params[0], password } };
    }
    case "mining.configure": {
      if (!Array.isArray(params) || !Array.isArray(params[0])) return bad(id, method, "params[0] must be an array of extension names");
      const extensions = params[0].filter((e): e is string => typeof e === "string").slice(0, 16);
      const extParams = typeof params[1] === "object" && params[1] !== null && !Array.isArray(params[1]) ? (params[1] as Record<string, unknown>) : {};
      return { ok: true, request: { method, id, extensions, params: extParams } };
    }
    case "mining.suggest_difficulty": {
      const d = difficultyParam(params);
      if (d === null) return bad(id, method, "difficulty must be a positive finite number, as N or [N]");
      return { ok: true, request: { method, id, difficulty: d } };
    }
    case "mining.extranonce.subscribe":
      return { ok: true, request: { method, id } };
    case "mining.submit": {
      if (!Array.isArray(params)) return bad(id, method, "params must be an array");
      if (params.length !== 5 && params.length !== 6) return bad(id, method, `expected 5 or 6 params, got ${params.length}`);
      const [worker, jobId, en2, ntime, nonce, vbits] = params as unknown[];
      if (typeof worker !== "string" || worker.length > 256) return bad(id, method, "params[0] (worker) must be a string");
      if (typeof jobId !== "string" || jobId.length === 0 || jobId.length > 64) return bad(id, method, "params[1] (job id) must be a string");
      const extranonce2Hex = hexString(en2, 64);
      if (extranonce2Hex === null) return bad(id, method, "params[2] (extranonce2) must be a hex string");
      const ntimeHex = hexString(ntime, 8);
      if (ntimeHex === null || ntimeHex.length === 0) return bad(id, method, "params[3] (ntime) must be up to 8 hex digits");
      const nonceHex = hexString(nonce, 8);
      if (nonceHex === null || nonceHex.length === 0) return bad(id, method, "params[4] (nonce) must be up to 8 hex digits");
      let versionBitsHex: string | null = null;
      if (params.length === 6 && vbits !== null) {
        versionBitsHex = hexString(vbits, 8);
        if (versionBitsHex === null || versionBitsHex.length === 0) return bad(id, method, "params[5] (version bits) must be up to 8 hex digits");
      }
      return { ok: true, request: { method, id, submit: { worker, jobId, extranonce2Hex, ntimeHex, nonceHex, versionBitsHex } } };
    }
    default:
      return { ok: true, request: { method: "unknown", id, name: method.slice(0, 64) } };
  }
}

// ---- Encoding. Replies always carry `error` (ESP-Miner#917 failed to parse replies without it).

// The share replies are built as text, byte for byte what JSON.stringify gives for the object
// (test/stratum/messages-encode.test.ts), without the object, the array and the generic stringify.

/** The id as JSON: a number as its shortest text (non-finite → null, as JSON.stringify), a string quoted. */
function idJson(id: RequestId): string {
  if (typeof id === "number") return Number.isFinite(id) ? String(id) : "null";
  return id === null ? "null" : JSON.stringify(id);
}

/** `{"id":…,"result":true,"error":null}`, the reply to an accepted share (and most handshake calls). */
export function encodeTrue(id: RequestId): string {
  return `{"id":${idJson(id)},"result":true,"error":null}\n`;
}

export function encodeResult(id: RequestId, result: unknown): string {
  if (result === true) return encodeTrue(id);
  return JSON.stringify({ id, result, error: null }) + "\n";
}

export function encodeError(id: RequestId, error: StratumErrorTuple): string {
  const [code, message] = error;
  if (Number.isSafeInteger(code) && typeof message === "string") return `{"id":${idJson(id)},"result":null,"error":[${code},${JSON.stringify(message)},null]}\n`;
  return JSON.stringify({ id, result: null, error }) + "\n";
}

export function encodeNotification(method: string, params: unknown[]): string {
  return JSON.stringify({ id: null, method, params }) + "\n";
}

export function encodeSetDifficulty(difficulty: number): string {
  return encodeNotification("mining.set_difficulty", [difficulty]);
}

/** The 9 params of mining.notify, hex strings already in wire order. */
export interface NotifyParams {
  jobId: string;
  prevhashStratum: string;
  coinb1Hex: string;
  coinb2Hex: string;
  merkleBranchHex: readonly string[];
  versionHex: string;
  nbitsHex: string;
  ntimeHex: string;
  cleanJobs: boolean;
}

export function encodeNotify(p: NotifyParams): string {
  return encodeNotification("mining.notify", [
    p.jobId, p.prevhashStratum, p.coinb1Hex, p.coinb2Hex, p.merkleBranchHex, p.versionHex, p.nbitsHex, p.ntimeHex, p.cleanJobs,
  ]);
}

export const Errors = {
  unknownMethod: (name: string) => errorTuple(StratumCode.Other, `Unknown method '${name}'`),
  badParams: (detail: string) => errorTuple(StratumCode.Other, `Invalid params: ${detail}`),
  notSubscribed: () => errorTuple(StratumCode.NotSubscribed, "Not subscribed"),
  unauthorized: (detail = "Unauthorized worker") => errorTuple(StratumCode.Unauthorized, detail),
  invalidJson: () => errorTuple(StratumCode.Other, "Invalid JSON"),
};
