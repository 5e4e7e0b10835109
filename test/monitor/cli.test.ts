/** `tbg monitor` as an operator runs it: usage errors, a bad config named key by key, a clean SIGTERM. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

test("tbg monitor: no -c is a usage error (2); a bad config names every bad key (1); SIGTERM exits 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-monitor-cli-"));
  try {
    const usage = spawnSync(process.execPath, [TBG, "monitor"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /-c FILE is required/);

    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ default_region: "eu", regions: [{ name: "eu", role: "boss", stratum: "eu", health_url: "x" }], intervl_sec: 5 }));
    const r = spawnSync(process.execPath, [TBG, "monitor", "-c", bad], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1);
    for (const key of ["regions[0].role", "regions[0].stratum", "regions[0].health_url", "intervl_sec: unknown key", "[MONITOR_CONFIG_INVALID]"]) assert.ok(r.stderr.includes(key), `${key}: ${r.stderr}`);

    const port = await freePort();
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ listen: { host: "127.0.0.1", port }, interval_sec: 0.3, timeout_ms: 200, default_region: "eu", regions: [{ name: "eu", role: "primary", stratum: `127.0.0.1:${await freePort()}`, health_url: `http://127.0.0.1:${await freePort()}/health` }] }));
    const child = spawn(process.execPath, [TBG, "monitor", "-c", good], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = once(child, "exit");
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, `the monitor to answer (${out})`, 60_000, 100);
    // Nothing listens on the region's ports: down from the first round, its health check 503.
    assert.equal((await fetch(`http://127.0.0.1:${port}/regions/eu/health`)).status, 503);
    child.kill("SIGTERM");
    const [code] = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit: ${out}`)), 15_000).unref())]);
    assert.equal(code, 0, out);
    assert.match(out, /"msg":"region eu: unknown → down"/);
    assert.match(out, /"msg":"shutting down"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
