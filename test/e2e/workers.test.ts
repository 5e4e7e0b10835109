/**
 * `tbg pool` with Stratum worker processes (`workers: 2`), as an operator runs it (a child process on the
 * embedded regtest node started here): connections land on both workers (told apart by their extranonce1
 * slice), shares are accepted on both, extranonce1 values are distinct, a block found on either worker is
 * submitted through the primary and accepted (one block_found event each), /metrics and /api/status count
 * the connections of both workers, a killed worker is replaced, SIGTERM stops everything with exit 0.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestNode, btcdFor } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { ReaderConfirmer } from "../../src/pipeline/events/confirm.ts";
import { DgramReader, type ReaderMessage } from "../../src/pipeline/events/dgram-reader.ts";
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;
const USER = `${REGTEST_ADDRESSES.p2wpkh}.rig`;

let node: EmbeddedNode;
before(async () => {
  node = await startTestNode();
});
after(async () => {
  await node.close();
});

/** Which worker handed out an extranonce1 (nonce1length 4, instance_id 0, 2 workers: the counter's top bit). */
const workerOf = (en1: string) => (parseInt(en1.slice(2, 4), 16) >= 0x80 ? 1 : 0);

const logLines = async (file: string) =>
  existsSync(file)
    ? (await readFile(file, "utf8"))
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

/**
 * Writes `config` to DIR/pool.json, starts `tbg pool` on it and waits for its "pool started" log line
 * (failing early, with its stderr, if it exits first). `onSpawn` gets the process at once (for cleanup).
 */
async function startPoolProcess(dir: string, config: Record<string, unknown>, onSpawn: (proc: ChildProcess) => void = () => undefined) {
  const file = join(dir, "pool.json");
  await writeFile(file, JSON.stringify(config));
  const proc = spawn(process.execPath, [TBG, "pool", "-c", file], { stdio: ["ignore", "ignore", "pipe"] });
  onSpawn(proc);
  let errText = "";
  proc.stderr!.on("data", (d: Buffer) => (errText += d.toString()));
  const exited = once(proc, "exit");
  const logFile = join(dir, "logs", "tbg.log");
  const started = await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`tbg pool exited early (${proc.exitCode}): ${errText}`);
      return (await logLines(logFile)).find((l) => l.msg === "pool started") ?? null;
    },
    "the pool to log 'pool started'",
    60_000,
    50,
  );
  return { proc, exited, logFile, started, file, stderr: () => errText };
}

test("workers: 2 — connections, shares and blocks on both workers, one view, a dead worker replaced", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-workers-"));
  const events: ReaderMessage[] = [];
  // A confirming reader (as tbg publisher): every process's events are confirmed to their sender.
  const confirmer = new ReaderConfirmer();
  const senders = new Set<string>();
  const reader = new DgramReader({
    socketPath: join(dir, "events.sock"),
    onMessage: (m) => {
      events.push(m);
      if (m.sender) senders.add(m.sender);
      if (m.ok) confirmer.done(confirmer.track(m.sender, m.event.event_id));
    },
  });
  const clients: RawClient[] = [];
  // Set by the start-up callback (TypeScript does not follow assignments in callbacks).
  let child = null as ChildProcess | null;
  try {
    await reader.start();
    const config = {
      network: "regtest",
      workers: 2,
      btcd: [btcdFor(node)],
      blockpoll: 100,
      serverurl: ["127.0.0.1:0"],
      mindiff: 0.0001,
      startdiff: 0.001,
      data_dir: join(dir, "data"),
      logdir: join(dir, "logs"),
      instance: "workers-test",
      events: { socket_path: join(dir, "events.sock") },
      health: { host: "127.0.0.1", port: 0 },
      bans: { allowlist: [] },
    };
    const { proc, exited, logFile, started, file, stderr } = await startPoolProcess(dir, config, (p) => (child = p));
    // The compiled build finds the share-hash addon (CI builds it and sets TBG_REQUIRE_NATIVE=1).
    if (process.env.TBG_REQUIRE_NATIVE === "1") assert.match(String(started.shareHash), /^(sha-ni|portable)$/, "native share hash in the pool");
    else assert.match(String(started.shareHash), /^(sha-ni|portable|js)$/);
    const port = Number((started.stratum as string[])[0]!.split(":").pop());
    const healthUrl = String((await logLines(logFile)).find((l) => typeof l.url === "string" && String(l.msg).startsWith("health and metrics"))!.url);
    const ready = (await logLines(logFile)).filter((l) => l.msg !== undefined && String(l.msg).startsWith("stratum worker") && String(l.msg).includes("ready"));
    assert.equal(ready.length, 2, "two workers ready");

    // Connections alternate between the workers (the cluster hands them out in turn).
    for (let i = 0; i < 6; i++) {
      const c = await RawClient.connect(port);
      clients.push(c);
      await c.handshake(`${USER}${i}`);
    }
    const en1s = clients.map((c) => c.extranonce1);
    assert.equal(new Set(en1s).size, en1s.length, `distinct extranonce1 values: ${en1s.join(" ")}`);
    for (const e of en1s) assert.equal(e.slice(0, 2), "00", "instance_id byte first");
    const byWorker = [0, 1].map((w) => clients.filter((c) => workerOf(c.extranonce1) === w));
    assert.ok(byWorker[0]!.length > 0 && byWorker[1]!.length > 0, `connections on both workers: ${en1s.join(" ")}`);

    // A share on each worker (on regtest every share is a block): each submitted through the primary, accepted.
    const heightBefore = node.height();
    for (const w of [0, 1]) {
      const c = byWorker[w]![0]!;
      // Wait for the work on the current tip (the previous block moved it).
      const tip = node.tipHash();
      const job = await c.until(() => {
        const j = c.lastNotify();
        return j && prevhashIs(j.prevhashStratum, tip) ? j : null;
      }, 10_000, `worker ${w}: a job on the tip`);
      const wk = c.work(job, Buffer.alloc(c.extranonce2Size, 7 + w));
      const r = await c.request("mining.submit", c.submitParams(`${USER}${clients.indexOf(c)}`, wk, c.findNonce(wk, "block")));
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.equal(r.result, true);
      await node.waitForHeight(heightBefore + w + 1, 10_000);
    }
    const found = await waitFor(() => {
      const f = events.filter((m) => m.ok && m.event.event === "block_found");
      return f.length >= 2 ? f : null;
    }, "two block_found events", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const all = events.filter((m) => m.ok && m.event.event === "block_found");
    assert.equal(all.length, 2, "one block_found per block");
    assert.notEqual((found[0] as { event: { data: { hash: string } } }).event.data.hash, (found[1] as { event: { data: { hash: string } } }).event.data.hash);
    const shares = events.filter((m) => m.ok && m.event.event === "share_submitted");
    assert.equal(shares.length, 2);

    // One view: /api/status and /metrics count every worker's connections and shares.
    const status = await waitFor(async () => {
      const s = (await (await fetch(`${healthUrl}/api/status`)).json()) as { totals: { connections: number; shares_accepted?: number }; miners: { total: number; rows: unknown[] }; blocks: unknown[] };
      return s.totals.connections === 6 && s.blocks.length === 2 ? s : null;
    }, "/api/status to count 6 connections and 2 blocks", 5000, 200);
    assert.equal(status.miners.total, 6);
    assert.equal(status.miners.rows.length, 6);
    const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
    const families = metrics.split("\n").filter((l) => l.startsWith("# TYPE "));
    assert.equal(new Set(families).size, families.length, "each metric once, merged");
    assert.match(metrics, /^tbg_stratum_connections 6$/m);
    assert.match(metrics, /^tbg_shares_total\{result="accepted",reason="none"\} 2$/m);
    assert.match(metrics, /^tbg_blocks_found_total 2$/m);
    assert.match(metrics, /^tbg_users_connected 1$/m);
    assert.match(metrics, /^tbg_workers_connected 6$/m);
    assert.match(metrics, /^tbg_miner_authorizations_total 6$/m);
    const health = (await (await fetch(`${healthUrl}/health`)).json()) as { miners: number; workers: number; users: number; shares: { accepted: number }; blocks: { found: number; accepted: number } };
    assert.deepEqual([health.miners, health.workers, health.users, health.shares.accepted, health.blocks.found, health.blocks.accepted], [6, 6, 1, 2, 2, 2]);

    // Delivery confirmations are on in every process: each binds its own ack socket.
    const ack = join(dir, "events.sock.ack");
    assert.ok(senders.has(`${ack}.w0.tx`) && senders.has(`${ack}.w1.tx`), `each worker sends from its own ack path: ${[...senders].join(" ")}`);
    assert.ok(!(await logLines(logFile)).some((l) => JSON.stringify(l).includes("EVENTS_ACK_SOCKET_IN_USE")), "no ack socket conflict");
    assert.ok(confirmer.stats().confirmed >= 4, "events confirmed");
    // /health's events block counts every process's events (the workers' from their snapshots).
    const received = events.length;
    const ev = await waitFor(async () => {
      const h = (await (await fetch(`${healthUrl}/health`)).json()) as { events: { emitted: number; dropped: number } };
      return h.events.emitted >= received ? h.events : null;
    }, `/health events.emitted to count the ${received} events received`, 5000, 200);
    assert.equal(ev.dropped, 0);

    // A killed worker is replaced; its miners reconnect to the survivors or the new one. The replacement
    // runs on the primary's config, not on the file (broken since the start).
    await writeFile(file, "{ not a config");
    const pid = Number(ready.find((l) => l.stratumWorker === 1)!.pid);
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (await logLines(logFile)).some((l) => l.msg !== undefined && String(l.msg).startsWith("stratum worker 1 ready") && Number(l.pid) !== pid), "a new worker 1", 30_000, 100);
    assert.ok((await logLines(logFile)).some((l) => String(l.msg).startsWith("stratum worker 1 died")));
    for (const c of byWorker[1]!) await c.until(() => c.closed, 5000, "the dead worker's connections to close");
    const again: RawClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await RawClient.connect(port);
      clients.push(c);
      again.push(c);
      await c.handshake(`${USER}x${i}`);
    }
    assert.ok(again.some((c) => workerOf(c.extranonce1) === 1), "the new worker 1 takes connections");
    const live = clients.filter((c) => !c.closed).map((c) => c.extranonce1);
    assert.equal(new Set(live).size, live.length);

    // /metrics counters do not go backwards: the dead worker's last counters are kept.
    const after = await (await fetch(`${healthUrl}/metrics`)).text();
    assert.match(after, /^tbg_blocks_found_total 2$/m, "the dead worker's block still counted");
    assert.match(after, /^tbg_shares_total\{result="accepted",reason="none"\} 2$/m);
    assert.match(after, /^tbg_miner_authorizations_total 10$/m, "6 before (3 on the dead worker) + 4 after");
    assert.ok(Number(/^tbg_last_block_found_timestamp_seconds (\S+)$/m.exec(after)?.[1]) > 0, "the primary knows the workers' last block");

    proc.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, stderr());
    child = null;
  } finally {
    for (const c of clients) c.close();
    child?.kill("SIGKILL");
    await reader.close();
    await confirmer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** A job's prevhash (Stratum word order) is the node's tip (RPC order). */
function prevhashIs(stratumPrevhash: string, tipHex: string): boolean {
  const words = stratumPrevhash.match(/.{8}/g)!;
  const le = words.map((w) => w.match(/../g)!.reverse().join("")).join("");
  return Buffer.from(le, "hex").reverse().toString("hex") === tipHex;
}

test("workers: a primary killed outright takes its workers with it (no orphan holds the Stratum port)", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-workers-kill-"));
  try {
    const config = { network: "regtest", workers: 2, btcd: [btcdFor(node)], serverurl: ["127.0.0.1:0"], data_dir: join(dir, "data"), logdir: join(dir, "logs"), events: { enabled: false }, health: { enabled: false } };
    const { proc, logFile } = await startPoolProcess(dir, config);
    const pids = (await logLines(logFile)).filter((l) => String(l.msg).includes("ready (pid")).map((l) => Number(l.pid));
    assert.equal(pids.length, 2);
    proc.kill("SIGKILL");
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => pids.every((p) => !alive(p)), "both workers to exit", 10_000, 100);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("workers: a worker mines on the slim push (no transactions) and the primary assembles its block with every template transaction", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-workers-slim-"));
  const events: ReaderMessage[] = [];
  const reader = new DgramReader({ socketPath: join(dir, "events.sock"), onMessage: (m) => events.push(m) });
  let client: RawClient | null = null;
  // Set by the start-up callback (TypeScript does not follow assignments in callbacks).
  let child = null as ChildProcess | null;
  try {
    await reader.start();
    // In the mempool before the pool starts: its first template carries them.
    const txids = await node.fundAndCreateSegwitTransactions(25);
    assert.equal(node.mempoolSize(), 25);
    const config = {
      network: "regtest",
      workers: 2,
      btcd: [btcdFor(node)],
      blockpoll: 100,
      serverurl: ["127.0.0.1:0"],
      mindiff: 0.0001,
      startdiff: 0.001,
      data_dir: join(dir, "data"),
      logdir: join(dir, "logs"),
      events: { socket_path: join(dir, "events.sock") },
      health: { enabled: false },
      bans: { allowlist: [] },
    };
    const { proc, exited, logFile, started, stderr } = await startPoolProcess(dir, config, (p) => (child = p));
    const port = Number((started.stratum as string[])[0]!.split(":").pop());
    const c = await RawClient.connect(port);
    client = c;
    await c.handshake(`${USER}slim`);
    const tip = node.tipHash();
    const job = await c.until(() => {
      const j = c.lastNotify();
      return j && prevhashIs(j.prevhashStratum, tip) && j.merkleBranchHex.length === 5 ? j : null;
    }, 10_000, "a job on the tip with the 25 transactions' merkle branch (5 levels)");
    // The worker that served it logs the work it got: the template's transaction count, from the slim push.
    assert.ok((await logLines(logFile)).some((l) => l.stratumWorker !== undefined && l.msg === `new work: block ${node.height() + 1}` && l.txs === 25), "a worker's work has 25 transactions");
    const heightBefore = node.height();
    const wk = c.work(job, Buffer.alloc(c.extranonce2Size, 3));
    const r = await c.request("mining.submit", c.submitParams(`${USER}slim`, wk, c.findNonce(wk, "block")));
    assert.equal(r.error, null, JSON.stringify(r.error));
    await node.waitForHeight(heightBefore + 1, 10_000);
    // The node accepted a block with all of them: its mempool empties (the mempool catches up just after the tip).
    await waitFor(() => node.mempoolSize() === 0 || null, `all ${txids.length} template transactions in the accepted block (mempool empty)`, 5000, 20);
    const found = await waitFor(() => events.find((m) => m.ok && m.event.event === "block_found") ?? null, "block_found", 10_000);
    assert.equal((found as { event: { data: { hash: string } } }).event.data.hash, node.tipHash());
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(events.filter((m) => m.ok && m.event.event === "block_found").length, 1, "one block_found");
    assert.ok(!(await logLines(logFile)).some((l) => String(l.msg).startsWith("BLOCK LOST")));
    proc.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, stderr());
    child = null;
  } finally {
    client?.close();
    child?.kill("SIGKILL");
    await reader.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("workers: a stopped (hung) worker makes /health degraded within seconds, is killed after ~30 s and replaced", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-workers-hung-"));
  let proc = null as ChildProcess | null;
  let stopped = 0;
  try {
    const config = { network: "regtest", workers: 2, btcd: [btcdFor(node)], serverurl: ["127.0.0.1:0"], data_dir: join(dir, "data"), logdir: join(dir, "logs"), events: { enabled: false }, health: { host: "127.0.0.1", port: 0 } };
    const { logFile } = await startPoolProcess(dir, config, (p) => (proc = p));
    const lines = await logLines(logFile);
    const healthUrl = String(lines.find((l) => typeof l.url === "string" && String(l.msg).startsWith("health and metrics"))!.url);
    const health = async () => (await (await fetch(`${healthUrl}/health`)).json()) as { status: string; problems: string[] };
    await waitFor(async () => ((await health()).status === "ok" ? true : null), "/health ok", 30_000, 200);
    stopped = Number(lines.find((l) => l.stratumWorker === 1 && String(l.msg).includes("ready (pid"))!.pid);
    process.kill(stopped, "SIGSTOP");
    const degraded = await waitFor(async () => {
      const h = await health();
      return h.problems.some((p) => p.startsWith("stratum worker 1 silent")) ? h : null;
    }, "/health to name the silent worker", 15_000, 250);
    assert.equal(degraded.status, "degraded");
    await waitFor(async () => (await logLines(logFile)).some((l) => String(l.msg).startsWith("stratum worker 1 silent for")), "the hung worker killed", 45_000, 250);
    await waitFor(async () => (await logLines(logFile)).some((l) => String(l.msg).startsWith("stratum worker 1 ready") && Number(l.pid) !== stopped), "a new worker 1", 30_000, 100);
    await waitFor(async () => ((await health()).status === "ok" ? true : null), "/health ok again", 10_000, 200);
  } finally {
    if (stopped) {
      try {
        process.kill(stopped, "SIGCONT");
        process.kill(stopped, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (proc && proc.exitCode === null) {
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
});
