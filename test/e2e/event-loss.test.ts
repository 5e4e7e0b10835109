/**
 * The event pipeline's two lossy edges, end to end with real processes: the pool (in-process, on the
 * embedded regtest node, its real EventPublisher and Unix datagram sink) → `tbg publisher` (a child
 * process) → nats-server JetStream → `tbg collector` (a child process) → PostgreSQL. A MemorySink next to
 * the socket keeps a copy of every emitted event; each test ends comparing it with the database by
 * event_id.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { MemorySink } from "../../src/pipeline/events/sinks/memory.ts";
import type { UnixDgramSinkStats } from "../../src/pipeline/events/sinks/unix-dgram.ts";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { startNats, startPostgres, type PostgresServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";
import { EXAMPLE_DATA } from "../events/fixtures.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

let pgServer: PostgresServer;
before(async () => {
  pgServer = await startPostgres();
});
after(async () => {
  await pgServer.close();
});

interface Child {
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown>;
}

async function spawnTbg(args: string[], ready: string, t: { after: (fn: () => void) => void }): Promise<Child> {
  const child = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = once(child, "exit");
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  await waitFor(() => out.includes(ready) || child.exitCode !== null, `tbg ${args[0]}: "${ready}"`, 60_000);
  assert.equal(child.exitCode, null, out);
  return { child, output: () => out, exited };
}

/** Every event_id stored (shares + every other type), as a set. */
async function storedIds(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ id: string }>("SELECT event_id::text AS id FROM shares UNION ALL SELECT event_id::text FROM event_log").catch(() => ({ rows: [] as Array<{ id: string }> }));
    return r.rows.map((row) => row.id);
  } finally {
    await c.end();
  }
}

function idsOf(mem: MemorySink): string[] {
  return mem.received.map((b) => (JSON.parse(b.toString()) as { event_id: string }).event_id);
}

async function emptyDb(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  } finally {
    await c.end();
  }
}

/** Emits a share event every `everyMs` (the pool's own EventPublisher, as the bridge would) until stopped. */
function steadyShares(pool: TestPool, everyMs: number) {
  let n = 0;
  const timer = setInterval(() => {
    pool.app.obs.publisher!.emit("share_submitted", { ...EXAMPLE_DATA.share_submitted, height: 1_000 + n++ });
  }, everyMs);
  return { stop: () => clearInterval(timer), count: () => n };
}

function socketSink(pool: TestPool): UnixDgramSinkStats {
  const s = Object.entries(pool.app.obs.publisher!.stats().sinks).find(([name]) => name.startsWith("unix:"));
  return s![1] as UnixDgramSinkStats;
}

/** Freeze `tbg publisher` under 20 events/s until datagrams pile up in its socket, kill -9 it, restart it; then store everything. */
async function killPublisherScenario(t: { after: (fn: () => unknown) => void }, confirm: boolean) {
  await emptyDb(pgServer.url);
  const nats = await startNats();
  t.after(() => nats.close());
  const dir = await mkdtemp(join(tmpdir(), "tbg-loss-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, "events.sock");
  const publisherArgs = ["publisher", "--socket", socketPath, "--nats-url", nats.url, "--region", "eu", "--spool-dir", join(dir, "spool"), "--stats-interval", "0"];
  let publisher = await spawnTbg(publisherArgs, "waiting for events", t);

  const mem = new MemorySink({ name: "copy" });
  const pool = await startTestPool({
    overrides: { events: { enabled: true, socket_path: socketPath, ...(confirm ? {} : { ack_socket_path: null }) } },
    app: { observability: { extraEventSinks: [mem], hashrateIntervalMs: 0 } },
  });
  t.after(() => pool.close());
  const flow = steadyShares(pool, 50); // 20 events/s
  if (confirm) await waitFor(() => socketSink(pool).confirm.confirmed >= 20, "the publisher confirming events", 20_000);
  else await waitFor(() => socketSink(pool).sent >= 20, "20 events sent", 20_000);

  // Freeze the publisher so datagrams pile up in its socket (the kernel holds max_dgram_qlen of them)
  // and in the engine's queue, then kill it: what sat in its socket dies with it.
  publisher.child.kill("SIGSTOP");
  const before = socketSink(pool).sent;
  // Five datagrams accepted into the frozen socket are enough: with a small net.unix.max_dgram_qlen the
  // sink also stalls, with CI's 1024 they all just sit in the kernel queue; either way they die with it.
  await waitFor(() => socketSink(pool).sent - before >= 5, "datagrams stuck in the frozen publisher's socket", 20_000);
  const inSocket = confirm ? socketSink(pool).confirm.awaiting : socketSink(pool).sent - before;
  publisher.child.kill("SIGKILL");
  await publisher.exited;
  await new Promise((r) => setTimeout(r, 500)); // events keep coming while no publisher runs (pacing, not sync)
  publisher = await spawnTbg(publisherArgs, "waiting for events", t);
  await new Promise((r) => setTimeout(r, 1_000));
  flow.stop();
  if (confirm) await waitFor(() => socketSink(pool).confirm.awaiting === 0 && socketSink(pool).queued === 0, "every sent event confirmed by the new publisher", 30_000);
  else await waitFor(() => socketSink(pool).queued === 0, "everything sent to the new publisher", 30_000);

  const collector = await spawnTbg(["collector", "--nats-url", nats.url, "--database-url", pgServer.url, "--metrics-port", "off"], "collector started", t);
  const emitted = idsOf(mem);
  // Settled: the count stops moving (the unconfirmed run loses some, so it never reaches emitted).
  let last = -1;
  await waitFor(async () => {
    const n = (await storedIds(pgServer.url)).length;
    const settled = n === last && n > 0;
    last = n;
    return n >= emitted.length || settled;
  }, "the collector storing what reached JetStream", 60_000, 1_000);
  const stored = await storedIds(pgServer.url);
  collector.child.kill("SIGTERM");
  await collector.exited;
  return { pool, emitted, stored, inSocket, sink: socketSink(pool) };
}

test("kill -9 of tbg publisher under 20 events/s with events in its socket: every emitted event is stored exactly once", async (t) => {
  const { pool, emitted, stored, inSocket, sink } = await killPublisherScenario(t, true);
  assert.equal(new Set(stored).size, stored.length, "no event stored twice");
  assert.deepEqual([...stored].sort(), [...emitted].sort(), "stored = emitted, by event_id");
  assert.ok(inSocket >= 1, `events were in the killed publisher's socket (${inSocket})`);
  assert.ok(sink.confirm.resent >= inSocket, `resent ${sink.confirm.resent} ≥ ${inSocket}`);
  assert.equal(pool.app.obs.publisher!.stats().dropped.unconfirmed, 0);
  const metrics = await pool.app.obs.metrics!.registry.metrics();
  assert.match(metrics, new RegExp(`tbg_events_resent_total\\{sink="unix:[^"]+"\\} ${sink.confirm.resent}`));
  assert.match(metrics, /tbg_events_awaiting_confirmation\{sink="unix:[^"]+"\} 0/);
  assert.match(metrics, /tbg_events_reader_confirms\{sink="unix:[^"]+"\} 1/);
  console.log(`# kill -9: ${emitted.length} emitted, ${inSocket} unconfirmed in the killed publisher, ${sink.confirm.resent} resent, ${stored.length} stored`);
});

test("without confirmations (events.ack_socket_path: null) the same kill loses what sat in the publisher's socket, uncounted: the exposure docs/events.md states", async (t) => {
  const { pool, emitted, stored, inSocket } = await killPublisherScenario(t, false);
  const lost = emitted.length - stored.length;
  console.log(`# kill -9 without confirmations: ${emitted.length} emitted, ${inSocket} sent into the frozen socket, ${lost} lost, dropped counters ${JSON.stringify(pool.app.obs.publisher!.stats().dropped)}`);
  // The datagrams in the frozen socket, plus any the publisher had read and not yet written to its spool.
  assert.ok(lost >= 1 && lost <= inSocket + 5, `lost ${lost}, ${inSocket} were in the socket`);
  assert.equal(Object.values(pool.app.obs.publisher!.stats().dropped).reduce((a, b) => a + b, 0), 0, "and nothing counted it");
});

test("nats-server restarted with an empty store while the collector is down: tbg publisher replays its retained spool, every emitted event is stored", async (t) => {
  await emptyDb(pgServer.url);
  const nats = await startNats();
  t.after(() => nats.close());
  const dir = await mkdtemp(join(tmpdir(), "tbg-reset-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, "events.sock");
  const publisher = await spawnTbg(["publisher", "--socket", socketPath, "--nats-url", nats.url, "--region", "eu", "--spool-dir", join(dir, "spool"),
    "--stats-interval", "0", "--retain-hours", "1"], "waiting for events", t);
  const mem = new MemorySink({ name: "copy" });
  const pool = await startTestPool({
    overrides: { events: { enabled: true, socket_path: socketPath } },
    app: { observability: { extraEventSinks: [mem], hashrateIntervalMs: 0 } },
  });
  t.after(() => pool.close());
  const collectorArgs = ["collector", "--nats-url", nats.url, "--database-url", pgServer.url, "--metrics-port", "off"];
  let collector = await spawnTbg(collectorArgs, "collector started", t);
  const flow = steadyShares(pool, 50);
  await waitFor(async () => (await storedIds(pgServer.url)).length >= 20, "the collector storing events", 30_000, 200);
  collector.child.kill("SIGTERM");
  await collector.exited;
  // The collector is down; the publisher keeps publishing (JetStream acknowledges, the spool truncates).
  const storedBefore = (await storedIds(pgServer.url)).length;
  await new Promise((r) => setTimeout(r, 2_000)); // ≈ 40 events only JetStream has (pacing, not sync)
  await nats.stop({ kill: true });
  await rm(join(nats.dir, "js"), { recursive: true, force: true });
  await nats.restart();
  await waitFor(() => publisher.output().includes("re-created"), "the publisher noticing the reset", 30_000);
  await new Promise((r) => setTimeout(r, 500));
  flow.stop();

  collector = await spawnTbg(collectorArgs, "collector started", t);
  const emitted = idsOf(mem);
  await waitFor(async () => (await storedIds(pgServer.url)).length >= emitted.length, `${emitted.length} events stored`, 60_000, 200);
  const stored = await storedIds(pgServer.url);
  assert.equal(new Set(stored).size, stored.length, "no event stored twice");
  assert.deepEqual([...stored].sort(), [...emitted].sort(), "stored = emitted, by event_id");
  assert.match(publisher.output(), /WARNING stream MINING_EVENTS re-created/);
  console.log(`# store lost: ${emitted.length} emitted, ${emitted.length - storedBefore} not yet stored when the collector stopped, ${stored.length} stored`);
  collector.child.kill("SIGTERM");
  await collector.exited;
});
