/** The command line as a user meets it: help for every command, unknown commands, bad configs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

test("every command answers --help with its usage and exits 0", async () => {
  for (const cmd of ["dev", "pool", "miner", "bench", "bench-node", "bench-suite", "collector", "publisher", "node", "status"]) {
    const r = await run([cmd, "--help"]);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: tbg ${cmd}`), cmd);
  }
});

test("an unknown command exits 2 with the command list", async () => {
  const r = await run(["nope"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'nope'/);
  assert.match(r.stderr, /collector/);
});

test("tbg pool with a bad config names every bad key and exits non-zero; a missing file and broken JSON too", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-cli-"));
  try {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }], nonce2length: 9, mindif: 1, version_mask: "xyz" }));
    const r = await run(["pool", "-c", bad]);
    assert.equal(r.code, 1);
    for (const key of ["nonce2length", "mindif", "version_mask"]) assert.match(r.stderr, new RegExp(key), `names ${key}: ${r.stderr}`);
    const missing = await run(["pool", "-c", join(dir, "none.json")]);
    assert.equal(missing.code, 1);
    await writeFile(bad, '{ "btcd": [ }');
    const broken = await run(["pool", "-c", bad]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /:1:/, "line and column of the JSON error");
    const usage = await run(["pool"]);
    assert.equal(usage.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
