/**
 * The monitor's probes (adapters): a Stratum round trip (TCP connect + `mining.subscribe` answered with a
 * well-formed result), the pool's `/health` (HTTP status and JSON body), and the NATS hub's `/leafz`.
 * Each is bounded by a timeout and never throws: a failure is a result with `error` set.
 *
 * The `/health` body is read tolerantly: the fields the monitor uses are picked when present and of the
 * right type, so an older engine, or a relay whose `relay` block has more or fewer fields, still works.
 */
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { performance } from "node:perf_hooks";
import { StratumClient } from "../stratum-client/stratum-client.ts";
import { parseSubscribeResult } from "../stratum-client/messages.ts";
import { errorText } from "../../util/errors.ts";

/** Result of a Stratum probe. */
export interface StratumProbeResult {
  ok: boolean;
  /** Connect + subscribe round trip, ms (null when it failed). */
  rttMs: number | null;
  error: string | null;
}

/** What the monitor reads of a relay's `/health` `relay` block (each null when absent). */
export interface RelayFields {
  /** `passthrough`, `independent`, `connecting`, or whatever the relay reports. */
  state: string | null;
  /** 1 when making its own templates (primary unreachable). */
  independent: boolean | null;
  primaryConnected: boolean | null;
  /** Primary's template send → relay receipt, ms. */
  templateLatencyMs: number | null;
  primaryRttMs: number | null;
  /** Stale shares, percent of all shares. */
  staleSharePercent: number | null;
}

/** What the monitor reads of a pool's `/health` body (each null when absent). */
export interface PoolSummary {
  status: string | null;
  problems: string[];
  region: string | null;
  instance: string | null;
  mode: string | null;
  miners: number | null;
  /** 5-minute pool hashrate, H/s. */
  hashrate5mHs: number | null;
  sharesPerSecond: number | null;
  templateHeight: number | null;
  templateAgeSeconds: number | null;
  /** null on a primary (or an engine without relay support). */
  relay: RelayFields | null;
}

/** Result of a `/health` probe. */
export interface HealthProbeResult {
  /** HTTP 200 and `status: "ok"`. */
  ok: boolean;
  httpStatus: number | null;
  rttMs: number | null;
  error: string | null;
  /** The parsed body when it was JSON. */
  pool: PoolSummary | null;
}

/** TCP connect and a `mining.subscribe` round trip; the connection is closed right after. */
export async function probeStratum(host: string, port: number, timeoutMs: number, userAgent = "tbg-monitor/0.1"): Promise<StratumProbeResult> {
  const t0 = performance.now();
  const client = new StratumClient({ host, port, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs, userAgent });
  client.on("protocolError", () => undefined);
  try {
    await client.connect();
    const left = Math.max(1, timeoutMs - (performance.now() - t0));
    const answer = await client.request("mining.subscribe", [userAgent], { timeoutMs: left });
    if (answer.error !== null && answer.error !== undefined) return { ok: false, rttMs: null, error: `mining.subscribe refused: ${JSON.stringify(answer.error)}` };
    parseSubscribeResult(answer.result);
    return { ok: true, rttMs: performance.now() - t0, error: null };
  } catch (err) {
    return { ok: false, rttMs: null, error: errorText(err) };
  } finally {
    await client.close().catch(() => undefined);
  }
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

/** Picks the relay fields from a `/health` `relay` block; null when there is none. */
export function readRelayFields(v: unknown): RelayFields | null {
  const r = obj(v);
  if (!r) return null;
  const state = str(r.state);
  return {
    state,
    independent: bool(r.independent) ?? (state === null ? null : state === "independent"),
    primaryConnected: bool(r.primary_connected),
    templateLatencyMs: num(r.template_latency_ms),
    primaryRttMs: num(r.primary_rtt_ms),
    staleSharePercent: num(r.stale_share_percent),
  };
}

/** Picks what the monitor uses from a `/health` body (see the module comment). */
export function readPoolSummary(body: unknown): PoolSummary | null {
  const b = obj(body);
  if (!b) return null;
  const template = obj(b.template);
  return {
    status: str(b.status),
    problems: Array.isArray(b.problems) ? b.problems.filter((p): p is string => typeof p === "string") : [],
    region: str(b.region),
    instance: str(b.instance),
    mode: str(b.mode),
    miners: num(b.miners),
    hashrate5mHs: num(obj(b.hashrate_hs)?.["5m"]),
    sharesPerSecond: num(b.shares_per_second),
    templateHeight: num(template?.height),
    templateAgeSeconds: num(template?.age_seconds),
    relay: readRelayFields(b.relay),
  };
}

/** Largest `/health` body read (a real one is a few KiB). */
const MAX_BODY_BYTES = 1 << 20;

/** The request timed out (the whole exchange, connect to last byte). */
class ProbeTimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * GET over a fresh connection (no keep-alive pool: a probe must see a wedged accept loop, as a health
 * checker from outside would), bounded as a whole by `timeoutMs`.
 */
function fetchJson(url: string, timeoutMs: number): Promise<{ httpStatus: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const get = u.protocol === "https:" ? httpsGet : httpGet;
    let settled = false;
    // Every way out clears the timer once: an answer, a request or response error, an oversized body.
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
      req.destroy();
    };
    const req = get(u, { agent: false, headers: { accept: "application/json", connection: "close" } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) fail(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on("error", fail);
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({ httpStatus: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`HTTP ${res.statusCode}: body is not JSON`));
        }
      });
    });
    const timer = setTimeout(() => fail(new ProbeTimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", fail);
  });
}

/** `GET health_url`: ok when 200 and `status` is `"ok"`. A 503 with a JSON body still yields the body. */
export async function probeHealth(url: string, timeoutMs: number): Promise<HealthProbeResult> {
  const t0 = performance.now();
  try {
    const { httpStatus, body } = await fetchJson(url, timeoutMs);
    const pool = readPoolSummary(body);
    const rttMs = performance.now() - t0;
    if (httpStatus !== 200) return { ok: false, httpStatus, rttMs, pool, error: `HTTP ${httpStatus}${pool?.problems.length ? `: ${pool.problems.join("; ")}` : ""}` };
    if (pool?.status !== "ok") return { ok: false, httpStatus, rttMs, pool, error: `status is ${JSON.stringify(pool?.status ?? null)}` };
    return { ok: true, httpStatus, rttMs, pool, error: null };
  } catch (err) {
    const e = err as Error;
    const text = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : errorText(e);
    return { ok: false, httpStatus: null, rttMs: null, pool: null, error: text };
  }
}

/** Result of the NATS hub probe. */
export interface NatsProbeResult {
  ok: boolean;
  /** Leaf node connections the hub reports. */
  leafnodes: number | null;
  error: string | null;
}

/** `GET {monitor_url}/leafz` on the NATS hub: how many leaf nodes (relay regions) are connected. */
export async function probeNatsLeafnodes(monitorUrl: string, timeoutMs: number): Promise<NatsProbeResult> {
  try {
    const { httpStatus, body } = await fetchJson(new URL("leafz", monitorUrl.endsWith("/") ? monitorUrl : `${monitorUrl}/`).href, timeoutMs);
    const n = num(obj(body)?.leafnodes);
    if (httpStatus !== 200 || n === null) return { ok: false, leafnodes: null, error: `HTTP ${httpStatus}: no leafnodes count` };
    return { ok: true, leafnodes: n, error: null };
  } catch (err) {
    const e = err as Error;
    return { ok: false, leafnodes: null, error: e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : errorText(e) };
  }
}
