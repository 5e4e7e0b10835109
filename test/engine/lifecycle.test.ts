// One lifecycle for every long-lived part: start(signal) cancellable, close() idempotent, and a stop
// signal during start-up handled by `tbg pool` (src/util/lifecycle.ts, src/app/run-pool.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { Engine } from "../../src/core/engine/engine.ts";
import { Spool } from "../../src/pipeline/nats/spool.ts";
import { freePort } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

/** A pool config whose only node is a port nothing listens on (every RPC call is refused). */
async function deadNodeConfig(extra: Record<string, unknown> = {}): Promise<{ file: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-lifecycle-"));
  const port = await freePort();
  const file = join(dir, "pool.json");
  await writeFile(
    file,
    JSON.stringify({
      btcd: [{ url: `127.0.0.1:${port}`, auth: "u", pass: "p" }],
      serverurl: ["127.0.0.1:0"],
      data_dir: join(dir, "data"),
      logdir: join(dir, "logs"),
      events: { enabled: false },
      health: { enabled: false },
      ...extra,
    }),
  );
  return { file, dir };
}

/** Resolves to the rejection of `p` (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  assert.fail("expected a rejection");
}

test("engine start-up waiting for a node (network unknown) is cancelled by its signal", async () => {
  const config = await loadConfig((await deadNodeConfig()).file);
  assert.equal(config.network, null, "no network configured: the engine asks the node, which never answers");
  const engine = new Engine({ config });
  const warned = once(engine.bus, "warning"); // the first failed getblockchaininfo: start-up is now waiting
  const abort = new AbortController();
  const starting = engine.start(abort.signal);
  await warned;
  abort.abort();
  assert.equal((await rejection(starting)).code, "START_CANCELLED");
  await engine.close();
});

test("engine close() during start-up cancels it; start() and close() are idempotent", async () => {
  const config = await loadConfig((await deadNodeConfig({ network: "regtest" })).file);
  const engine = new Engine({ config });
  const nodesDown = once(engine.bus, "nodesDown"); // no node served the first template: start-up is waiting
  const starting = engine.start();
  assert.equal(engine.start(), starting, "a second start() is the same start");
  await nodesDown;
  const closing = engine.close();
  assert.equal(engine.close(), closing, "a second close() is the same close");
  assert.equal((await rejection(starting)).code, "START_CANCELLED");
  await closing;
  assert.equal((await rejection(new Engine({ config }).start(AbortSignal.abort()))).code, "START_CANCELLED", "an aborted signal never starts");
});

test("spool: new + start(), close() twice is one close", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-spool-lifecycle-"));
  const spool = new Spool({ dir });
  await spool.start();
  assert.equal(spool.append(Buffer.from("x")), true);
  const a = spool.close();
  assert.equal(spool.close(), a);
  await a;
});

test("tbg pool: SIGTERM while start-up waits for a node exits 0 at once, having logged why", async (t) => {
  const { file, dir } = await deadNodeConfig({ network: "regtest" });
  const child = spawn(process.execPath, [TBG, "pool", "-c", file], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
  const logFile = join(dir, "logs", "tbg.log");
  // The first getblocktemplate failed: start-up is retrying, nothing is listening yet.
  await waitFor(async () => existsSync(logFile) && /no node answer/.test(await readFile(logFile, "utf8")), "start-up to wait for the node", 30_000, 50);
  child.kill("SIGTERM");
  const [code, signal] = await exited;
  assert.equal(signal, null, `killed by ${signal}: no handler was installed during start-up (${err})`);
  assert.equal(code, 0, err);
  const log = await readFile(logFile, "utf8");
  assert.match(log, /shutting down during start-up/);
  assert.doesNotMatch(log, /pool started/);
});
