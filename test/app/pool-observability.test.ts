/**
 * End to end: the embedded regtest node, the pool (startPool), a real Unix datagram reader and the
 * CPU miner. Every event type a mining session produces reaches the reader, valid against its
 * schema; /health and /metrics answer with the documented fields; the user's coinbase signature
 * from the settings file is in the block; the all-time record survives a pool restart.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramReader, type ReaderMessage } from "../../src/pipeline/events/dgram-reader.ts";
import type { EventType, MiningEvent } from "../../src/pipeline/events/types.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { startTestNode, startTestPool, type TestPool } from "../support/pool.ts";
import type { DevOverrides } from "../../src/config/load.ts";
import type { HealthReport } from "../../src/app/pool-status.ts";
import { probeStratum } from "../../src/tools/monitor/probes.ts";

const ADDRESS = "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw";

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

/** Value of one Prometheus sample line `name{labels} value` (labels exactly as written), or null. */
function sample(text: string, series: string): number | null {
  for (const line of text.split("\n")) if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  return null;
}

test("a real mining session: every event type reaches a Unix datagram reader, valid; /health and /metrics answer; records persist", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-obs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, "ev.sock");
  const settingsPath = join(dir, "users.json");
  const dataDir = join(dir, "data");
  await writeFile(settingsPath, JSON.stringify({ [ADDRESS]: { coinbase_signature: "/Alice was here/" } }));

  const messages: ReaderMessage[] = [];
  const reader = new DgramReader({ socketPath, onMessage: (m) => messages.push(m) });
  await reader.start();
  t.after(() => reader.close());
  const events = () => messages.filter((m): m is Extract<ReaderMessage, { ok: true }> => m.ok).map((m) => m.event);
  const seen = (type: EventType) => events().some((e) => e.event === type);

  const node = await startTestNode();
  t.after(() => node.close());
  const overrides: DevOverrides = {
    data_dir: dataDir,
    user_settings_file: settingsPath,
    events: { enabled: true, socket_path: socketPath },
    health: { enabled: true, host: "127.0.0.1", port: 0 },
  };
  const start = () => startTestPool({ node, overrides, app: { observability: { hashrateIntervalMs: 250, validateEvents: true } } });
  let pool: TestPool | null = await start();
  t.after(() => pool?.close());
  const health = pool.app.obs.health!;
  assert.ok(health.port > 0);

  const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.rig1`, threads: 0 });
  try {
    for (const type of ["miner_connected", "diff_updated", "share_submitted", "share_best_diff", "block_found", "new_block_network", "hashrate_update"] as const) {
      await waitFor(() => seen(type), `a ${type} event`);
    }

    // /health during the session.
    const h = await get(`${health.url}/health`);
    assert.equal(h.status, 200, h.body);
    assert.match(h.type ?? "", /application\/json/);
    const report = JSON.parse(h.body) as HealthReport;
    assert.equal(report.status, "ok");
    assert.deepEqual(report.problems, []);
    assert.equal(report.miners, 1);
    assert.equal(report.workers, 1);
    assert.equal(report.users, 1);
    assert.equal(report.network, "regtest");
    assert.ok(report.uptime_seconds >= 0);
    assert.deepEqual(Object.keys(report.hashrate_hs), ["1m", "5m", "1h", "1d", "7d"]);
    assert.ok(report.shares.accepted > 0 && report.shares_per_second > 0, JSON.stringify(report.shares));
    assert.ok(report.blocks.found >= 1);
    assert.equal(report.last_block?.user, ADDRESS);
    assert.ok(report.template && report.template.height > 0 && report.template.age_seconds >= 0);
    assert.ok(report.events.enabled && report.events.emitted > 0);
    assert.equal(report.events.dropped, 0);
    assert.equal(report.nodes.length, 1);
    assert.equal(report.nodes[0].healthy, true);
    assert.equal(report.zmq, null);
    assert.equal(report.relay, null);

    // /metrics during the session.
    const m = await get(`${health.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.type ?? "", /text\/plain/);
    assert.ok((sample(m.body, 'tbg_shares_total{result="accepted",reason="none"}') ?? 0) > 0, "accepted shares counted");
    assert.equal(sample(m.body, 'tbg_shares_total{result="rejected",reason="duplicate"}'), 0);
    assert.ok((sample(m.body, "tbg_blocks_found_total") ?? 0) >= 1);
    assert.equal(sample(m.body, "tbg_stratum_connections"), 1);
    assert.equal(sample(m.body, "tbg_users_connected"), 1);
    assert.equal(sample(m.body, "tbg_workers_connected"), 1);
    assert.ok(sample(m.body, "tbg_template_age_seconds") !== null);
    assert.ok((sample(m.body, "tbg_notify_fanout_seconds_count") ?? 0) >= 1);
    assert.match(m.body, /tbg_block_submit_duration_seconds_count\{node="[^"]+",outcome="accepted"\} [1-9]/);
    assert.match(m.body, /tbg_node_up\{node="[^"]+"\} 1/);
    assert.ok((sample(m.body, 'tbg_events_emitted_total{type="share_submitted"}') ?? 0) > 0);
    assert.match(m.body, /tbg_events_dropped_total\{reason="queue_full",sink="unix:[^"]+"\} 0/);
    assert.match(m.body, /^process_cpu_seconds_total /m, "default metrics");
    assert.doesNotMatch(m.body, new RegExp(ADDRESS), "never a user address as a label");

    assert.equal((await get(`${health.url}/nope`)).status, 404);
    assert.equal((await get(`${health.url}/health`, { method: "POST" })).status, 405);
    assert.equal((await get(`${health.url}/metrics`, { method: "HEAD" })).status, 200);

    await waitFor(() => miner.stats.blocksAccepted >= 2, "two blocks");
  } finally {
    await miner.close();
  }
  await waitFor(() => seen("miner_disconnected"), "miner_disconnected");

  // The region monitor's probe (subscribe, never authorise) is counted, not a miner_disconnected event.
  const probe = await probeStratum("127.0.0.1", pool.port, 4000);
  assert.equal(probe.ok, true, probe.error ?? "");
  await waitFor(async () => sample((await get(`${health.url}/metrics`)).body, "tbg_sessions_unannounced_total") === 1, "the probe's session counted as unannounced");
  assert.equal(events().filter((e) => e.event === "miner_disconnected").length, 1, "only the miner's session produced a miner_disconnected");

  // Every datagram was a valid event; every type a session produces was there.
  const bad = messages.filter((m) => !m.ok);
  assert.deepEqual(bad.map((m) => (m.ok ? "" : m.error)), []);
  const all = events();
  const types = new Set(all.map((e) => e.event));
  for (const type of ["share_submitted", "share_best_diff", "block_found", "miner_connected", "miner_disconnected", "diff_updated", "hashrate_update", "new_block_network"]) {
    assert.ok(types.has(type as EventType), `missing ${type}`);
  }
  for (const e of all) {
    assert.equal(e.source, "hosted");
    assert.equal(e.region, pool.config.region);
    assert.equal(e.instance, pool.config.instance);
  }
  const block = all.find((e): e is MiningEvent<"block_found"> => e.event === "block_found")!;
  assert.equal(block.data.user, ADDRESS);
  assert.equal(block.data.worker, "rig1");
  assert.equal(block.data.coinbase_signature, "/Alice was here/", "per-user signature from the settings file");
  assert.equal(block.data.accepted, true);
  assert.equal(block.data.submit_results.length, 1);
  assert.ok(block.data.reward_sats > 0);
  const disc = all.find((e): e is MiningEvent<"miner_disconnected"> => e.event === "miner_disconnected")!;
  assert.equal(disc.data.user, ADDRESS);
  assert.ok(disc.data.shares_accepted > 0 && disc.data.session_best !== null);
  const scopes = new Set(all.filter((e): e is MiningEvent<"share_best_diff"> => e.event === "share_best_diff").map((e) => e.data.scope));
  assert.deepEqual([...scopes].sort(), ["alltime", "session", "week"]);

  // All-time best survives a restart of the pool.
  const best = pool.app.obs.records.alltimeBest(ADDRESS);
  assert.ok(best && best.difficulty > 0);
  await pool.close();
  pool = await start();
  assert.deepEqual(pool.app.obs.records.alltimeBest(ADDRESS), best);
});

test("/health turns degraded (503) when no node answers and recovers when it does", async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const pool = await startTestPool({ node, overrides: { health: { enabled: true, host: "127.0.0.1", port: 0 } } });
  t.after(() => pool.close());
  const url = `${pool.app.obs.health!.url}/health`;
  assert.equal((await get(url)).status, 200);
  await node.stopRpc();
  let report: HealthReport | null = null;
  await waitFor(async () => {
    const r = await get(url);
    report = JSON.parse(r.body) as HealthReport;
    return r.status === 503;
  }, "degraded");
  assert.equal(report!.status, "degraded");
  assert.deepEqual(report!.problems, ["no healthy node"]);
  assert.equal(report!.nodes[0].healthy, false);
  const metrics = await get(`${pool.app.obs.health!.url}/metrics`);
  assert.match(metrics.body, /tbg_node_up\{node="[^"]+"\} 0/);
  await node.startRpc();
  await waitFor(async () => (await get(url)).status === 200, "recovered");
});

test("shutdown logs one event summary: emitted, dropped by reason, and per sink (warn when something was lost)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-evsum-"));
  const lines: Array<{ level: number; msg: string; emitted?: number; dropped?: Record<string, number>; sinks?: Record<string, { sent: number; dropped: Record<string, number> }> }> = [];
  const { default: pino } = await import("pino");
  const logger = pino({ level: "info", base: undefined }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  // Nobody reads the socket: the events held at shutdown are dropped as no_reader, and the summary says so.
  const pool = await startTestPool({
    overrides: { events: { enabled: true, socket_path: join(dir, "events.sock"), ack_socket_path: null } },
    app: { logger: { logger, reopen() {}, flush() {} }, observability: { hashrateIntervalMs: 0 } },
  });
  try {
    for (let i = 0; i < 5; i++) pool.app.obs.publisher!.emit("share_submitted", { user: "bcrt1qsummary", worker: "w", session_id: "01", accepted: true, reject_reason: null, difficulty: 1, share_difficulty: 2, job_id: "1", height: 1, block: false, ip: "127.0.0.1" });
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
  const summary = lines.find((l) => /^events: \d+ emitted/.test(l.msg));
  assert.ok(summary, lines.map((l) => l.msg).join("\n"));
  const emitted = pool.app.obs.publisher!.stats().emitted;
  assert.equal(summary.emitted, emitted);
  assert.ok(emitted >= 5);
  assert.equal(summary.level, 40, "warn: events were lost");
  assert.equal(summary.dropped!.no_reader, emitted);
  const sink = Object.entries(summary.sinks!).find(([name]) => name.startsWith("unix:"));
  assert.ok(sink);
  assert.equal(sink[1].dropped.no_reader, emitted);
});
