/**
 * `tbg status`: the status page in the terminal. Reads a pool's `/api/status` (or, given a collector's
 * port, its `/api/platform`) and prints an overview; `--json` prints the document as received. Every
 * string from the server goes through displaySafe before it reaches the terminal (a hostile worker name
 * cannot send escape sequences to it).
 */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { TbgError, UsageError, errorText } from "../../util/errors.ts";
import { displaySafe } from "../../util/text.ts";
import { PoolStatusSchema, type PoolStatus } from "../../app/status-api.ts";
import { PlatformStatusSchema, type PlatformStatus } from "../../pipeline/collector/platform-status.ts";

const DEFAULT_URL = "http://127.0.0.1:9100";

const help = `usage: tbg status [--url URL] [--json] [--miners N]

Prints what the status page at / shows: pool state, hashrate, miners and workers, best difficulties
(session, this week, all time), blocks found, reject reasons, nodes, ZMQ endpoints and event sinks.
Given a collector's port (it answers /api/platform instead), prints the platform view: regions,
weekly leaderboard, blocks, event throughput and lag.

options:
  --url URL      the pool's health port, or a collector's HTTP port (default ${DEFAULT_URL})
  --json         print the JSON document (docs/status.md) instead of the overview
  --miners N     miner rows to ask for (default 20; the API allows up to 5000)
  --timeout S    seconds to wait for the answer (default 5)

Exits 0 when the document was read (whatever the pool's status), 1 when it could not be.`;

/** The status endpoint could not be read. */
export class StatusFetchError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STATUS_UNAVAILABLE", message, options);
  }
}

async function fetchJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  } catch (err) {
    throw new StatusFetchError(`cannot reach ${url}: ${errorText(err)}; is the pool running, and is --url its health port (health.port)?`, { cause: err });
  }
  const text = await res.text();
  if (res.status === 404) return { status: 404, body: null };
  if (res.status !== 200) throw new StatusFetchError(`${url} answered HTTP ${res.status}: ${displaySafe(text, 200)}`);
  try {
    return { status: 200, body: JSON.parse(text) };
  } catch (err) {
    throw new StatusFetchError(`${url} did not answer JSON: ${errorText(err)}`);
  }
}

/** The first schema issues as one line; paths and messages can echo the server's keys, so they pass through displaySafe. */
function issuesText(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues.slice(0, 3).map((i) => `${displaySafe(i.path.map(String).join("."), 80)}: ${displaySafe(i.message, 120)}`).join("; ");
}

/** Reads the pool document, or the collector's when the pool API is absent. */
export async function readStatus(base: string, opts: { miners: number; timeoutMs: number }): Promise<{ kind: "pool"; doc: PoolStatus } | { kind: "platform"; doc: PlatformStatus }> {
  const root = base.replace(/\/+$/, "");
  const pool = await fetchJson(`${root}/api/status?miners=${opts.miners}`, opts.timeoutMs);
  if (pool.status === 200) {
    const r = PoolStatusSchema.safeParse(pool.body);
    if (!r.success) throw new StatusFetchError(`${root}/api/status is not a tbg pool status document: ${issuesText(r.error.issues)}`);
    return { kind: "pool", doc: r.data };
  }
  const platform = await fetchJson(`${root}/api/platform`, opts.timeoutMs);
  if (platform.status === 200) {
    const r = PlatformStatusSchema.safeParse(platform.body);
    if (!r.success) throw new StatusFetchError(`${root}/api/platform is not a tbg platform document: ${issuesText(r.error.issues)}`);
    return { kind: "platform", doc: r.data };
  }
  throw new StatusFetchError(`${root} serves neither /api/status nor /api/platform (404): is health.status_page off, or is this not a tbg port?`);
}

// ---- formatting

const s = (v: unknown, max = 40) => displaySafe(v === null || v === undefined ? "—" : String(v), max);
const UNITS = ["", "k", "M", "G", "T", "P", "E", "Z"];
export function si(n: number, unit = ""): string {
  if (!Number.isFinite(n)) return "—";
  if (n === 0) return `0${unit ? ` ${unit}` : ""}`;
  if (Math.abs(n) < 1) return `${Math.abs(n) < 0.001 ? n.toExponential(2) : n.toPrecision(3)}${unit ? ` ${unit}` : ""}`;
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const num = v.toFixed(Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0);
  return unit || UNITS[i] ? `${num} ${UNITS[i]}${unit}` : num;
}
const hs = (n: number) => si(n, "H/s");
function ago(isoText: string | null, nowMs: number): string {
  if (!isoText) return "—";
  const sec = Math.max(0, (nowMs - Date.parse(isoText)) / 1000);
  return sec < 90 ? `${Math.round(sec)} s ago` : sec < 5400 ? `${Math.round(sec / 60)} min ago` : sec < 129_600 ? `${Math.round(sec / 3600)} h ago` : `${Math.round(sec / 86_400)} d ago`;
}

/** Columns padded to the widest cell; `right` lists right-aligned column indexes. */
export function table(head: string[], rows: string[][], right: number[] = []): string[] {
  if (rows.length === 0) return [];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => "  " + r.map((c, i) => (right.includes(i) ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}

export function formatPool(d: PoolStatus, nowMs = Date.now()): string {
  const p = d.pool;
  const t = d.totals;
  const out: string[] = [];
  out.push(`pool ${s(p.instance)} (region ${s(p.region)}, ${s(p.network)}, ${s(p.mode)}): ${p.status.toUpperCase()}${p.problems.length ? ` — ${p.problems.map((x) => s(x, 120)).join("; ")}` : ""}   up ${ago(p.started_at, nowMs).replace(" ago", "")}`);
  out.push(`  hashrate   1m ${hs(t.hashrate_hs["1m"])}   5m ${hs(t.hashrate_hs["5m"])}   1h ${hs(t.hashrate_hs["1h"])}   1d ${hs(t.hashrate_hs["1d"])}`);
  out.push(`  miners     ${t.connections} connections, ${t.workers} workers, ${t.users} users   shares/s ${t.shares_per_second.toFixed(2)}   accepted ${t.shares_accepted}, rejected ${t.shares_rejected}`);
  out.push(`  blocks     found ${t.blocks_found}, accepted ${t.blocks_accepted}`);
  out.push(d.template ? `  work       height ${d.template.height}, ${d.template.transactions} transactions, template ${d.template.age_seconds.toFixed(1)} s old from ${s(d.template.node, 60)}` : "  work       none yet");
  out.push(`  events     ${d.events.enabled ? `emitted ${d.events.emitted}, queued ${d.events.queued}, dropped ${d.events.dropped}` : "disabled"}${d.events.sinks.map((k) => `   ${s(k.name, 60)}: ${s(k.state)}`).join("")}`);
  out.push(`  relay      ${d.relay === null ? "none (primary)" : s(JSON.stringify(d.relay), 120)}`);
  out.push("", `MINERS (${d.miners.rows.length < d.miners.total ? `${d.miners.rows.length} of ` : ""}${d.miners.total})`);
  const miners = table(
    ["worker", "address", "user agent", "diff", "1m", "5m", "1h", "last share", "best", "acc", "rej"],
    d.miners.rows.map((m) => [m.worker === null ? "(not authorised)" : s(m.worker || "(default)", 24), s(m.address, 44), s(m.user_agent, 24), si(m.difficulty), hs(m.hashrate_hs["1m"]), hs(m.hashrate_hs["5m"]), hs(m.hashrate_hs["1h"]), ago(m.last_share_at, nowMs), si(m.best_difficulty), String(m.shares_accepted), String(m.shares_rejected)]),
    [3, 4, 5, 6, 8, 9, 10],
  );
  out.push(...(miners.length ? miners : ["  no miner connected"]));
  const board = (title: string, rows: PoolStatus["best"]["session"]) => {
    out.push("", title);
    const lines = table(["#", "worker", "address", "difficulty", "when"], rows.map((r, i) => [String(i + 1), s(r.worker || "(default)", 24), s(r.address, 44), si(r.difficulty), ago(r.at, nowMs)]), [0, 3]);
    out.push(...(lines.length ? lines : ["  none yet"]));
  };
  board("BEST DIFFICULTY, LIVE SESSIONS", d.best.session);
  board(`BEST DIFFICULTY, WEEK ${s(d.best.week)}`, d.best.this_week);
  board("BEST DIFFICULTY, ALL TIME", d.best.all_time);
  out.push("", "BLOCKS FOUND SINCE START");
  const blocks = table(["height", "outcome", "worker", "address", "hash", "found"], d.blocks.map((b) => [String(b.height), b.accepted ? "accepted" : "rejected", s(b.worker || "(default)", 24), s(b.address, 44), s(b.hash, 64), ago(b.found_at, nowMs)]), [0]);
  out.push(...(blocks.length ? blocks : ["  none"]));
  const rejects = Object.entries(d.rejects);
  if (rejects.length) out.push("", "REJECTED SHARES", ...table(["reason", "shares"], rejects.map(([r, n]) => [s(r), String(n)]), [1]));
  out.push("", "NODES", ...table(["node", "state", "templates", "failures", "last error"], d.nodes.map((n) => [s(n.name, 60), n.active ? "active" : n.healthy ? "healthy" : "down", String(n.templates_served), String(n.failures), s(n.last_error, 80)]), [2, 3]));
  if (d.zmq) out.push("", "ZMQ", ...table(["endpoint", "state"], d.zmq.map((z) => [s(z.endpoint, 60), z.healthy ? "up" : "down"])));
  return out.join("\n");
}

export function formatPlatform(d: PlatformStatus, nowMs = Date.now()): string {
  const c = d.collector;
  const q = d.throughput;
  const out: string[] = [];
  out.push(`collector (region ${s(c.region)}, ${c.database.dialect}): database ${c.database.open ? "open" : "not open"}${c.database.error ? ` — ${s(c.database.error, 160)}` : ""}`);
  out.push(`  totals     ${d.totals.users} users, ${d.totals.workers} workers (${d.totals.workers_online} online), ${d.totals.blocks} blocks (${d.totals.blocks_accepted} accepted)`);
  out.push(`  events     ${q.events_per_second === null ? "rate measuring" : `${q.events_per_second.toFixed(1)}/s`}, stored ${q.stored}, duplicates ${q.duplicates}, pending ${q.pending}, malformed ${q.malformed}, dropped ${q.dropped}, lag ${q.lag_seconds.toFixed(2)} s`);
  out.push("", "REGIONS", ...table(["region", "instances", "workers online", "users online", "hashrate 5m", "shares 5m", "last event", "blocks"],
    d.regions.map((r) => [s(r.region), String(r.instances), String(r.workers_online), String(r.users_online), hs(r.hashrate_hs), String(r.shares_5m), ago(r.last_event_at, nowMs), String(r.blocks)]), [1, 2, 3, 4, 5, 7]));
  out.push("", `BEST DIFFICULTY, WEEK OF ${d.leaderboard.week_start}`);
  const lb = table(["#", "worker", "address", "difficulty", "when"], d.leaderboard.rows.map((r) => [String(r.rank), s(r.worker ?? "—", 24), s(r.address, 44), si(r.difficulty), ago(r.achieved_at, nowMs)]), [0, 3]);
  out.push(...(lb.length ? lb : ["  none yet"]));
  out.push("", "BLOCKS");
  const bl = table(["height", "status", "worker", "address", "region", "hash", "found"], d.blocks.map((b) => [String(b.height), s(b.status), s(b.worker ?? "—", 24), s(b.address, 44), s(b.region), s(b.hash, 64), ago(b.found_at, nowMs)]), [0]);
  out.push(...(bl.length ? bl : ["  none yet"]));
  return out.join("\n");
}

export const command: Command = {
  summary: "print the pool's (or a collector's) status page in the terminal",
  help,
  async run(argv) {
    const f = parseFlags(argv, { url: { type: "string" }, json: { type: "boolean" }, miners: { type: "string" }, timeout: { type: "string" } });
    const url = (f.url as string | undefined) ?? DEFAULT_URL;
    try {
      const u = new URL(url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
    } catch {
      throw new UsageError(`--url must be an http:// URL such as ${DEFAULT_URL}, got '${url}'`);
    }
    const miners = intFlag("miners", f.miners as string | undefined, 20);
    if (miners > 5000) throw new UsageError(`--miners is at most 5000, got ${miners}`);
    const timeoutMs = intFlag("timeout", f.timeout as string | undefined, 5) * 1000 || 5000;
    const r = await readStatus(url.replace(/\/(api\/status|api\/platform|health)?\/?$/, ""), { miners, timeoutMs });
    // JSON escapes C0 controls itself; C1 and bidi controls are written as \u escapes too (same document).
    if (f.json) console.log(JSON.stringify(r.doc, null, 2).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
    else console.log(r.kind === "pool" ? formatPool(r.doc) : formatPlatform(r.doc));
    return 0;
  },
};
