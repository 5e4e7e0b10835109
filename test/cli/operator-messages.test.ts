/**
 * What an operator sees when starting the pool by hand: ports in use named (component, address, flag or
 * config key) before anything slow starts; with `logdir` the log on the terminal too; "no node answers"
 * said again while it lasts; `tbg dev` starts local miners at `startdiff` whatever the port.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPool, type PoolApp } from "../../src/app/run-pool.ts";
import { devConfig } from "../../src/config/load.ts";
import { startTestNode } from "../support/pool.ts";
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { captureLogger } from "../support/log-capture.ts";
import { waitFor } from "../support/wait.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function run(args: string[]) {
  const child = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  return { child, exited, kill, stdout: () => stdout, stderr: () => stderr };
}

/** A port some other program holds for the test's length. */
async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** A port nothing listens on (bound and released). */
async function freePort(): Promise<number> {
  const o = await occupy();
  await o.close();
  return o.port;
}

test("tbg dev: a Stratum or node port in use is named with its flag, before the node and the database start", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-ports-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const taken = await occupy();
  t.after(() => taken.close());
  const base = ["dev", "--http-port", "0", "--node-zmq-port", "0", "--data-dir", join(dir, "data"), "--events-socket", join(dir, "ev.sock")];
  for (const [flag, component] of [["--stratum-port", "Stratum"], ["--node-rpc-port", "embedded node JSON-RPC"]] as const) {
    const other = flag === "--stratum-port" ? ["--node-rpc-port", "0"] : ["--stratum-port", "0"];
    const dev = run([...base, ...other, flag, String(taken.port)]);
    t.after(dev.kill);
    assert.equal(await dev.exited, 1, dev.stdout() + dev.stderr());
    const [line, hint, ...rest] = dev.stderr().trim().split("\n");
    assert.equal(
      line,
      `tbg dev: ${component} cannot listen on 127.0.0.1:${taken.port}: the port is already in use (another program, or another tbg, has it); stop that program or choose another port with ${flag} [PORT_IN_USE]`,
    );
    assert.match(hint, /^ {2}what to do: /, "then what to do (docs/errors.md)");
    assert.deepEqual(rest, []);
    assert.doesNotMatch(dev.stdout(), /embedded regtest node|PGlite|collector/, "nothing slow started");
  }
});

test("tbg pool: a Stratum port in use is named with its config key before waiting for a node", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-ports-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const taken = await occupy();
  t.after(() => taken.close());
  const conf = join(dir, "pool.json");
  // The node port answers nothing: without the early check the pool would wait for it forever.
  await writeFile(conf, JSON.stringify({ btcd: [{ url: `127.0.0.1:${await freePort()}`, auth: "u", pass: "p" }], network: "regtest", serverurl: [`127.0.0.1:${taken.port}`], health: { enabled: false }, events: { enabled: false }, data_dir: join(dir, "data") }));
  const pool = run(["pool", "-c", conf]);
  t.after(pool.kill);
  assert.equal(await pool.exited, 1);
  assert.match(pool.stderr(), new RegExp(`^tbg pool: Stratum cannot listen on 127\\.0\\.0\\.1:${taken.port}: the port is already in use .*choose another port with serverurl \\[PORT_IN_USE\\]$`, "m"));
});

test("tbg pool with logdir: the log goes to the file and to the terminal; 'no node answers' is said while none does", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-logdir-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const conf = join(dir, "pool.json");
  const logdir = join(dir, "logs");
  await writeFile(conf, JSON.stringify({ btcd: [{ url: `127.0.0.1:${await freePort()}`, auth: "u", pass: "p" }], network: "regtest", serverurl: ["127.0.0.1:0"], health: { enabled: false }, events: { enabled: false }, data_dir: join(dir, "data"), logdir }));
  const pool = run(["pool", "-c", conf]);
  t.after(pool.kill);
  await waitFor(() => /no node answers yet/.test(pool.stdout()) || pool.child.exitCode !== null, "the no-node line on the terminal", 30_000);
  assert.match(pool.stdout(), new RegExp(`logging to ${join(logdir, "tbg.log").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} and to the terminal`));
  await waitFor(async () => /no node answers yet/.test(await readFile(join(logdir, "tbg.log"), "utf8").catch(() => "")), "the same line in the file", 10_000);
  pool.kill();
});

test("while no node answers at start, it is said again every 30 s; the pool starts once a node answers", async (t) => {
  const rpcPort = await freePort();
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const log = captureLogger("info");
  const config = devConfig({ btcd: [{ url: `127.0.0.1:${rpcPort}`, auth: "tbg", pass: "pw" }], serverurl: ["127.0.0.1:0"], health: { enabled: false }, events: { enabled: false }, data_dir: await mkdtemp(join(tmpdir(), "tbg-nodesdown-")) });
  t.after(() => rm(config.data_dir, { recursive: true, force: true }));
  let app: PoolApp | null = null;
  let node: EmbeddedNode | null = null;
  const starting = startPool(config, { logger: log.handle, now }).then((a) => (app = a));
  // The start only ends once a node answers: even after a failed assertion, bring one up to end it.
  t.after(async () => {
    node ??= await startTestNode({ rpcPort, user: "tbg", pass: "pw" });
    await starting.catch(() => undefined);
    await (app as PoolApp | null)?.close();
    await node.close();
  });
  const said = () => log.lines.filter((l) => /no node answers/.test(l.msg));
  await waitFor(() => said().length >= 1, "the first no-node line", 10_000);
  assert.match(said()[0].msg, /^no node answers yet: no work for miners yet; retrying every second$/);
  // Retries go on every second without repeating the line …
  await new Promise((r) => setTimeout(r, 2_500));
  assert.equal(said().length, 1, "not once a second");
  // … until 30 s have passed on the engine's clock.
  offsetMs += 31_000;
  await waitFor(() => said().length >= 2, "the line again after 30 s", 10_000);
  assert.match(said()[1].msg, /^still no node answers after 3\d s: no work for miners yet; retrying every second$/);
  // A node appears on that port: the pool starts.
  node = await startTestNode({ rpcPort, user: "tbg", pass: "pw" });
  await starting;
  assert.ok(log.lines.some((l) => l.msg === "a node answers again: work is flowing"));
});

test("tbg dev on a Stratum port above 4000 starts miners at startdiff, not highdiff", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-devhigh-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  assert.ok(port > 4000);
  const dev = run(["dev", "--stratum-port", String(port), "--http-port", "0", "--node-rpc-port", "0", "--node-zmq-port", "0", "--data-dir", join(dir, "data"), "--events-socket", join(dir, "ev.sock")]);
  t.after(dev.kill);
  await waitFor(() => /Stratum: +stratum\+tcp/.test(dev.stdout()) || dev.child.exitCode !== null, "tbg dev ready", 60_000);
  const c = await RawClient.connect(port);
  t.after(() => c.close());
  await c.handshake(`${REGTEST_ADDRESSES.p2wpkh}.cpu`);
  assert.equal(c.difficulty, 0.001, "dev's startdiff");
  dev.child.kill("SIGTERM");
  assert.equal(await dev.exited, 0, dev.stdout() + dev.stderr());
});
