/**
 * Smoke test of the load generator as a user runs it: `node bin/tbg bench … --json` spawned against
 * `tbg dev` (spawned too, regtest) and against the pool on the benchmark template source (mainnet bits, low
 * difficulty). Small N and short runs; the numbers must be sane: every sent share answered, valid mode
 * accepted, invalid mode rejected as low difficulty. Figures themselves are `npm run bench`'s job.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBenchPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES, MAINNET_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import type { BenchReport } from "../../src/tools/bench/bench.ts";

const TBG = fileURLToPath(new URL("../../bin/tbg", import.meta.url));

/** Runs `tbg bench ARGS --json` to completion (bounded) and returns its report line. */
async function tbgBench(args: string[], timeoutMs = 30_000): Promise<BenchReport> {
  const child = spawn(process.execPath, [TBG, "bench", ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 0, `tbg bench exited ${code}: ${err}`);
  const line = out.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as BenchReport;
}

/** Every share sent got an answer, none timed out, the pool agrees with our own target check. */
function assertSane(r: BenchReport, connections: number): void {
  assert.equal(r.connections.ready, connections, r.errors.join("; "));
  assert.equal(r.connections.dropped, 0);
  assert.ok(r.shares.sent > 0, "some shares sent");
  assert.equal(r.shares.answered, r.shares.sent, "every sent share answered");
  assert.equal(r.shares.timeouts + r.shares.unanswered, 0);
  assert.equal(r.shares.verdictMismatches, 0);
  assert.equal(r.submitRttMs.count, r.shares.answered);
  assert.ok(r.submitRttMs.p50 > 0 && r.submitRttMs.p50 <= r.submitRttMs.max);
  assert.ok(r.notifies >= connections, "every connection got work");
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

test("tbg bench against tbg dev: invalid-mode shares are all answered and rejected as low difficulty", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-smoke-"));
  const dev = spawn(
    process.execPath,
    [TBG, "dev", "--stratum-port", "0", "--http-port", "0", "--collector-port", "0", "--node-rpc-port", "0", "--node-zmq-port", "0", "--events-socket", join(dir, "events.sock"), "--data-dir", join(dir, "data"), "--log-level", "warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  dev.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
  dev.stderr!.resume();
  try {
    // tbg dev prints the bound Stratum URL once the pool is up (port 0 resolved).
    const url = await waitFor(() => /Stratum:\s+(stratum\+tcp:\/\/\S+)/.exec(out)?.[1] ?? (dev.exitCode !== null ? "exited" : null), "tbg dev's Stratum URL", 30_000);
    assert.notEqual(url, "exited", `tbg dev exited: ${out}`);
    // Small on purpose: the pool strikes an IP whose connections send ≥ 90 % invalid shares per 50.
    const r = await tbgBench(["--url", url, "--connections", "3", "--duration", "1.5", "--rate", "30", "--mode", "invalid", "--user", REGTEST_ADDRESSES.p2wpkh]);
    assertSane(r, 3);
    assert.equal(r.mode, "invalid");
    // Regtest: about half the hashes would be blocks; those are never sent.
    assert.deepEqual(r.shares.rejectReasons, { "low-difficulty": r.shares.sent });
    assert.equal(r.shares.accepted, 0);
  } finally {
    await stopChild(dev);
    await rm(dir, { recursive: true, force: true });
  }
});

test("tbg bench against the pool on the benchmark template source: valid mode accepted, invalid mode rejected as low difficulty", async () => {
  const pool = await startBenchPool({ txs: 3000 });
  try {
    // Difficulty 1e-5 (43k hashes a share): the grinder thread keeps up with 10 shares/s.
    const valid = await tbgBench(["--url", pool.url, "--connections", "2", "--duration", "2", "--rate", "10", "--mode", "valid", "--suggest-difficulty", "0.00001", "--user", MAINNET_ADDRESSES.p2wpkh]);
    assertSane(valid, 2);
    assert.equal(valid.shares.accepted, valid.shares.sent, JSON.stringify(valid.shares));
    assert.equal(valid.shares.skippedBlocks + valid.shares.validImpossible, 0, "mainnet bits: no share is a block");

    const invalid = await tbgBench(["--url", pool.url, "--connections", "2", "--duration", "1.5", "--rate", "40", "--mode", "invalid", "--suggest-difficulty", "1", "--user", MAINNET_ADDRESSES.p2tr]);
    assertSane(invalid, 2);
    assert.deepEqual(invalid.shares.rejectReasons, { "low-difficulty": invalid.shares.sent });
    assert.equal(pool.bench.chain.submittedCount, 0, "a benchmark never submits a block");
  } finally {
    await pool.close();
  }
});
