/** `tbg status` against a real pool: the overview, --json, a hostile worker name, and the errors a user meets. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { startTestPool } from "../../support/pool.ts";
import { RawClient } from "../../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../../support/addresses.ts";
import { HOSTILE_AGENT, HOSTILE_WORKER } from "../../support/hostile.ts";
import { startMiner } from "../../../src/tools/miner/miner.ts";
import { PoolStatusSchema } from "../../../src/app/status-api.ts";

const TBG = new URL("../../../bin/tbg", import.meta.url).pathname;

function tbg(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ADDRESS = REGTEST_ADDRESSES.p2wpkh;

test("tbg status prints the pool overview and --json the API document; hostile names reach the terminal inert", async (t) => {
  const pool = await startTestPool({ overrides: { health: { enabled: true, host: "127.0.0.1", port: 0 } } });
  t.after(() => pool.close());
  const base = pool.app.obs.health!.url;
  const hostile = await RawClient.connect(pool.port);
  t.after(() => hostile.socket.destroy());
  await hostile.request("mining.subscribe", [HOSTILE_AGENT]);
  assert.equal((await hostile.request("mining.authorize", [`${ADDRESS}.${HOSTILE_WORKER}`, "x"])).result, true);
  const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.rig7`, maxBlocks: 1, threads: 0, durationSec: 60 });
  assert.equal((await miner.done).blocksFound, 1);

  const r = await tbg(["status", "--url", base]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^pool dev \(region eu, regtest, primary\): OK/m);
  assert.match(r.stdout, /^MINERS \(1\)$/m, "the hostile connection is still connected");
  assert.match(r.stdout, /^BLOCKS FOUND SINCE START\n.*height.*\n +\d+ +accepted +rig7 /m);
  assert.match(r.stdout, /^BEST DIFFICULTY, ALL TIME\n.*\n +1 +rig7 +bcrt1q…\S+ +\S+/m);
  assert.ok(r.stdout.includes("x<script>window.__pwne"), "markup printed as text (clipped to the column)");
  assert.ok(!r.stdout.includes("\u001b") && !r.stdout.includes("\u202e") && !r.stdout.includes("\u0000"), "no ESC, RTL override or NUL reaches the terminal");

  const j = await tbg(["status", "--url", `${base}/`, "--json", "--miners", "5"]);
  assert.equal(j.code, 0, j.stderr);
  const doc = PoolStatusSchema.parse(JSON.parse(j.stdout));
  assert.equal(doc.blocks[0].worker, "rig7");
  assert.ok(!j.stdout.includes("\u202e"));
});

test("tbg status: unreachable, not a status port, and bad flags are clear errors", async () => {
  const down = await tbg(["status", "--url", "http://127.0.0.1:1"]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1\/api\/status.*is the pool running.*\[STATUS_UNAVAILABLE\]/);
  const bad = await tbg(["status", "--url", "ftp://x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--url must be an http:\/\/ URL/);
  const many = await tbg(["status", "--miners", "9999"]);
  assert.equal(many.code, 2);
});

test("tbg status: a schema mismatch names the bad keys with control characters made inert (a hostile server cannot drive the terminal)", async (t) => {
  const { createServer } = await import("node:http");
  const evil = "\u001b]0;pwned\u0007\u001b[2J";
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    // A valid document except for one reject count under a hostile key: the first issue's path is that key.
    const at = new Date().toISOString();
    const hr = { "1m": 0, "5m": 0, "1h": 0, "1d": 0, "7d": 0 };
    res.end(JSON.stringify({
      api_version: 1, generated_at: at,
      pool: { status: "ok", problems: [], region: "eu", instance: "i", network: null, mode: "primary", started_at: at, uptime_seconds: 1, address_display: "short" },
      totals: { connections: 0, workers: 0, users: 0, hashrate_hs: hr, shares_per_second: 0, shares_accepted: 0, shares_rejected: 0, blocks_found: 0, blocks_accepted: 0 },
      rejects: { [evil]: "x" }, miners: { total: 0, rows: [] }, best: { week: "", session: [], this_week: [], all_time: [] }, blocks: [],
      template: null, nodes: [], zmq: null, events: { enabled: false, emitted: 0, queued: 0, dropped: 0, sinks: [] }, relay: null,
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const r = await tbg(["status", "--url", `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not a tbg pool status document: /);
  assert.match(r.stderr, /\ufffd\]0;pwned\ufffd/, "the key is named, with its control characters replaced");
  assert.ok(!r.stderr.includes("\u001b") && !r.stderr.includes("\u0007"), "no ESC or BEL reaches the terminal");
});
