/** The command line as a user meets it: help for every command, unknown commands, bad configs. */
import { test } from "node:test";
import { hintFor } from "../../src/util/error-codes.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function run(args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd });
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
  for (const cmd of ["dev", "pool", "miner", "bench", "bench-node", "bench-suite", "collector", "publisher", "node", "monitor", "status"]) {
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

test("the sample error in docs/configuration.md is what tbg pool prints (btcaddress checksum checked at load, same format)", async () => {
  const docs = await readFile(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  const block = /A wrong config prints every problem[\s\S]*?```\n([\s\S]*?)\n\s*```/.exec(docs)?.[1];
  assert.ok(block, "the sample block");
  const sample = block.split("\n").map((l) => l.replace(/^ {2}/, "")).join("\n");
  const dir = await mkdtemp(join(tmpdir(), "tbg-cli-"));
  try {
    await writeFile(
      join(dir, "bad.json"),
      JSON.stringify({
        btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }, { url: "backup", auth: "u", pass: "p" }],
        nonce2length: 9,
        mindif: 1,
        btcaddress: "14BMjogz69qe8hk9thyzbmR5pg34mVKB1f", // the last character breaks the Base58Check checksum
      }),
    );
    const r = await run(["pool", "-c", "bad.json"], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), sample);
    // A valid address of another network than the configured one is refused at load too.
    await writeFile(join(dir, "net.json"), JSON.stringify({ btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }], network: "regtest", btcaddress: "14BMjogz69qe8hk9thyzbmR5pg34mVKB1e" }));
    const net = await run(["pool", "-c", "net.json"], dir);
    assert.equal(net.code, 1);
    assert.equal(net.stderr.trim(), `tbg pool: invalid config net.json (1 problem):\n  btcaddress: 14BMjogz69qe8hk9thyzbmR5pg34mVKB1e is a mainnet address; this pool runs on regtest [CONFIG_INVALID]\n  what to do: ${hintFor("CONFIG_INVALID")}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
