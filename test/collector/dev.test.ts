/**
 * `tbg dev` runs the collector in-process: events of a short mining session end up in the PGlite
 * store under its --data-dir. Everything on free ports (--*-port 0), as a user would run it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPglite } from "../../src/pipeline/storage/queryable.ts";
import { REGTEST_DEMO_ADDRESS } from "../../src/cli/demo.ts";
import { waitFor } from "../storage/fixtures.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function run(args: string[]) {
  const child = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => out };
}

test("tbg dev stores the events of a mining session in its PGlite store (shares and blocks)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-devcoll-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const dev = run(["dev", "--stratum-port", "0", "--http-port", "0", "--collector-port", "0", "--node-rpc-port", "0", "--node-zmq-port", "0",
    "--data-dir", dataDir, "--events-socket", join(dir, "events.sock")]);
  t.after(() => { if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill("SIGKILL"); });
  await waitFor(() => /Stratum: +stratum\+tcp:\/\/127\.0\.0\.1:\d+/.test(dev.output()) || dev.child.exitCode !== null, "tbg dev ready", 60_000);
  const url = /Stratum: +(stratum\+tcp:\/\/127\.0\.0\.1:\d+)/.exec(dev.output())?.[1];
  assert.ok(url, dev.output());
  assert.match(dev.output(), /Health: +http:\/\/127\.0\.0\.1:[1-9]\d*\/health/, "the bound health port, not 0");

  const miner = run(["miner", "--url", url, "--user", `${REGTEST_DEMO_ADDRESS}.rig1`, "--max-blocks", "2", "--duration", "60"]);
  t.after(() => { if (miner.child.exitCode === null && miner.child.signalCode === null) miner.child.kill("SIGKILL"); });
  assert.equal(await miner.exited, 0, miner.output());

  dev.child.kill("SIGTERM");
  assert.equal(await dev.exited, 0, dev.output());
  assert.match(dev.output(), /collector stopped/);

  // dev is gone: the PGlite directory is ours to open now.
  const db = await openPglite({ dataDir: join(dataDir, "pgdata") });
  t.after(() => db.close());
  const shares = (await db.query<{ n: number; hosted: number }>(
    "SELECT count(*)::int AS n, count(*) FILTER (WHERE s.source = 'hosted' AND u.btc_address = $1)::int AS hosted FROM shares s JOIN users u ON u.id = s.user_id",
    [REGTEST_DEMO_ADDRESS])).rows[0];
  assert.ok(shares.n > 0, "share rows");
  assert.equal(shares.hosted, shares.n);
  const blocks = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM blocks WHERE accepted")).rows[0];
  assert.ok(blocks.n >= 2, `${blocks.n} accepted block rows`);
  const workers = (await db.query<{ worker_name: string }>("SELECT worker_name FROM workers")).rows;
  assert.deepEqual(workers.map((w) => w.worker_name), ["rig1"]);
});
