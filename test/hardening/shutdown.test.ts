/**
 * Issue 8 item 5: `tbg pool -c CONFIG` as an operator runs it (a child process, on the embedded regtest
 * node started here). SIGUSR1 re-opens the log file (logrotate); SIGTERM/SIGINT stop accepting, send
 * client.reconnect when `stratum.reconnect_on_shutdown`, flush events and persisted records, and exit 0
 * within a bound.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestNode } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { DgramReader, type ReaderMessage } from "../../src/pipeline/events/dgram-reader.ts";
import { RECORDS_FILE } from "../../src/app/records/best-diff.ts";
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;
/** From the signal to the process gone. runUntilSignal's own bound is 10 s; this one is tighter. */
const EXIT_BOUND_MS = 8000;
const USER = `${REGTEST_ADDRESSES.p2wpkh}.rig1`;

let node: EmbeddedNode;
before(async () => {
  node = await startTestNode();
});
after(async () => {
  await node.close();
});

interface RunningPool {
  child: ChildProcess;
  port: number;
  dir: string;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  stderr: () => string;
}

async function startPoolProcess(extra: Record<string, unknown> = {}): Promise<RunningPool> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-shutdown-"));
  const u = new URL(node.rpcUrl);
  const config = {
    network: "regtest",
    btcd: [{ url: `${u.hostname}:${u.port}`, auth: node.rpcUser, pass: node.rpcPass }],
    serverurl: ["127.0.0.1:0"],
    mindiff: 0.0001,
    startdiff: 0.001,
    data_dir: join(dir, "data"),
    logdir: join(dir, "logs"),
    instance: "shutdown-test",
    events: { socket_path: join(dir, "events.sock") },
    health: { enabled: false },
    bans: { allowlist: [] },
    ...extra,
  };
  const file = join(dir, "pool.json");
  await writeFile(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [TBG, "pool", "-c", file], { stdio: ["ignore", "pipe", "pipe"] });
  let errText = "";
  child.stderr!.on("data", (d: Buffer) => (errText += d.toString()));
  child.stdout!.resume();
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, atMs: Date.now() }));
  const logFile = join(dir, "logs", "tbg.log");
  const started = await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`tbg pool exited early (${child.exitCode}): ${errText}`);
      if (!existsSync(logFile)) return null;
      const line = (await readFile(logFile, "utf8")).split("\n").find((l) => l.includes('"pool started"'));
      return line ? (JSON.parse(line) as { stratum: string[] }) : null;
    },
    "the pool to log 'pool started'",
    30_000,
    50,
  );
  const port = Number(started.stratum[0].split(":").pop());
  return { child, port, dir, logFile, exited, stderr: () => errText };
}

test("SIGUSR1 re-opens the log file; SIGTERM sends client.reconnect, flushes events and records, exits 0 in time", async () => {
  const events: ReaderMessage[] = [];
  let reader: DgramReader | null = null;
  const pool = await startPoolProcess();
  try {
    // The collector side: bound to the pool's event socket (events reach it once a reader exists).
    reader = new DgramReader({ socketPath: join(pool.dir, "events.sock"), onMessage: (m) => events.push(m) });
    await reader.start();
    const a = await RawClient.connect(pool.port);
    const job = await a.handshake(USER);
    const w = a.work(job, Buffer.alloc(a.extranonce2Size, 3));
    const r = await a.request("mining.submit", a.submitParams(USER, w, a.findNonce(w, "block")));
    assert.equal(r.error, null, JSON.stringify(r.error)); // on regtest every share is a block

    // logrotate: move the file away, SIGUSR1, the next line goes to a new tbg.log.
    await rename(pool.logFile, `${pool.logFile}.1`);
    pool.child.kill("SIGUSR1");
    const b = await RawClient.connect(pool.port);
    await b.handshake(`${REGTEST_ADDRESSES.p2tr}.rig2`);
    await waitFor(async () => existsSync(pool.logFile) && (await readFile(pool.logFile, "utf8")).includes("miner authorized"), "a new tbg.log with the next line", 5000);

    const t0 = Date.now();
    pool.child.kill("SIGTERM");
    for (const c of [a, b]) {
      await c.until(() => c.notifications.some((n) => n.method === "client.reconnect"), EXIT_BOUND_MS, "client.reconnect");
      await c.until(() => c.closed, EXIT_BOUND_MS, "the server to close the connection");
    }
    const exit = await Promise.race([pool.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit within ${EXIT_BOUND_MS} ms: ${pool.stderr()}`)), EXIT_BOUND_MS).unref())]);
    assert.deepEqual([exit.code, exit.signal], [0, null], pool.stderr());
    assert.ok(exit.atMs - t0 < EXIT_BOUND_MS);

    // Flushed before exit: the disconnect events of both sessions, the best-difficulty record (its log
    // batches writes for 1 s, so only a flush at shutdown puts it on disk this soon), the last log line.
    await waitFor(() => events.filter((m) => m.ok && m.event.event === "miner_disconnected").length === 2, "two miner_disconnected events", 2000);
    const records = await readFile(join(pool.dir, "data", RECORDS_FILE), "utf8");
    assert.ok(records.includes(REGTEST_ADDRESSES.p2wpkh), records);
    assert.match(await readFile(pool.logFile, "utf8"), /"pool stopped"/);
  } finally {
    pool.child.kill("SIGKILL");
    await reader?.close();
    await rm(pool.dir, { recursive: true, force: true });
  }
});

test("SIGINT with reconnect_on_shutdown=false closes miners without client.reconnect and exits 0 in time", async () => {
  const pool = await startPoolProcess({ stratum: { reconnect_on_shutdown: false } });
  try {
    const c = await RawClient.connect(pool.port);
    await c.handshake(USER);
    const t0 = Date.now();
    pool.child.kill("SIGINT");
    await c.until(() => c.closed, EXIT_BOUND_MS, "the server to close the connection");
    assert.equal(c.notifications.some((n) => n.method === "client.reconnect"), false);
    const exit = await pool.exited;
    assert.deepEqual([exit.code, exit.signal], [0, null], pool.stderr());
    assert.ok(exit.atMs - t0 < EXIT_BOUND_MS, `exit took ${exit.atMs - t0} ms`);
    // Stopped accepting: nothing listens any more.
    await assert.rejects(RawClient.connect(pool.port));
  } finally {
    pool.child.kill("SIGKILL");
    await rm(pool.dir, { recursive: true, force: true });
  }
});
