import { test } from "node:test";
import assert from "node:assert/strict";
import { runBench } from "../../src/tools/bench/bench.ts";
import { summarize, percentile } from "../../src/tools/bench/stats.ts";
import { buildWork, checkNonce } from "../../src/tools/stratum-client/work.ts";
import type { NotifyJob } from "../../src/tools/stratum-client/messages.ts";
import { FakePool, FAKE_EN1, type FakeConn, type FakeRequest } from "./fake-pool.ts";

const JOB: NotifyJob = {
  jobId: "j1",
  prevhashStratum: "00".repeat(28) + "11111111",
  coinb1Hex: "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1703a08601",
  coinb2Hex: "ffffffff0100f2052a01000000160014000102030405060708090a0b0c0d0e0f1011121300000000",
  merkleBranchHex: ["33".repeat(32)],
  versionHex: "20000000",
  nbitsHex: "1d00ffff",
  ntimeHex: "65f0a000",
  cleanJobs: true,
};
const notifyMsg = (job: NotifyJob) => ({
  id: null,
  method: "mining.notify",
  params: [job.jobId, job.prevhashStratum, job.coinb1Hex, job.coinb2Hex, job.merkleBranchHex, job.versionHex, job.nbitsHex, job.ntimeHex, job.cleanJobs],
});

/** A fake pool that really checks the hash of each submit (en2 size 4, mask 1fffe000). */
function checkingPool(difficulty: number, style: "conventional" | "ckpool", job: NotifyJob = JOB) {
  const seen = new Set<string>();
  const blocks: string[] = [];
  return FakePool.start((req: FakeRequest, conn: FakeConn) => {
    if (req.method === "mining.authorize") {
      conn.reply(req.id, true);
      conn.send({ id: null, method: "mining.set_difficulty", params: [difficulty] });
      conn.send(notifyMsg(job));
      return true;
    }
    if (req.method !== "mining.submit") return false;
    const [, jobId, en2, , nonce, vbits] = req.params as string[];
    const key = `${en2}/${nonce}/${vbits}`;
    const work = buildWork({ job, extranonce1Hex: FAKE_EN1, extranonce2Size: 4, difficulty, versionMask: 0x1fffe000 }, Buffer.from(en2, "hex"), parseInt(vbits ?? "0", 16));
    const checked = checkNonce(work, parseInt(nonce, 16));
    if (checked.isBlock) blocks.push(key);
    const ok = jobId === "j1" && checked.meetsShareTarget && !seen.has(key);
    seen.add(key);
    if (ok) conn.reply(req.id, true);
    else if (style === "ckpool") conn.send({ id: req.id, result: false, error: null, "reject-reason": "Above target" });
    else conn.reply(req.id, null, [23, "Difficulty too low", null]);
    return true;
  }).then((pool) => Object.assign(pool, { blocks }));
}

test("percentiles use nearest rank", () => {
  const s = summarize([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
  assert.deepEqual(s, { count: 10, mean: 5.5, p50: 5, p90: 9, p99: 10, max: 10 });
  assert.equal(percentile([], 0.5), 0);
});

test("invalid mode: shares are well formed, all rejected as low difficulty, no duplicates, report complete", async () => {
  const pool = await checkingPool(1, "conventional");
  const report = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 5, durationSec: 1, rate: 200, mode: "invalid", rampConcurrency: 2 });
  assert.equal(report.connections.ready, 5);
  assert.equal(report.connections.requested, 5);
  assert.ok(report.shares.sent > 50, `sent ${report.shares.sent}`);
  assert.equal(report.shares.answered, report.shares.sent);
  assert.equal(report.shares.rejected, report.shares.sent);
  assert.deepEqual(report.shares.rejectReasons, { "low-difficulty": report.shares.sent });
  assert.equal(report.shares.verdictMismatches, 0);
  assert.equal(report.notifies, 5);
  assert.equal(report.setDifficulty, 5);
  assert.equal(report.submitRttMs.count, report.shares.sent);
  assert.ok(report.submitRttMs.p99 <= report.submitRttMs.max);
  assert.equal(report.handshakeMs.count, 5);
  assert.ok(report.durationSec < 3);
  // every connection submitted under its own worker name with the bitaxe 6th param
  const submits = pool.requests.filter((r) => r.method === "mining.submit");
  assert.equal(new Set(submits.map((s) => (s.params as string[])[0])).size, 5);
  assert.ok(submits.every((s) => (s.params as string[]).length === 6));
  assert.equal(pool.conns.length, 5);
  await pool.close();
});

test("valid mode grinds shares that a checking pool accepts; ckpool-style rejects are classified", async () => {
  const pool = await checkingPool(1e-6, "ckpool");
  const report = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 2, durationSec: 1, rate: 50, mode: "valid", profile: "cpuminer" });
  assert.ok(report.shares.accepted > 10, JSON.stringify(report.shares));
  assert.equal(report.shares.rejected, 0);
  assert.equal(report.shares.verdictMismatches, 0);
  assert.ok(report.shares.hashes > report.shares.sent);
  await pool.close();

  const strict = await checkingPool(1, "ckpool");
  const r2 = await runBench({ url: `stratum+tcp://127.0.0.1:${strict.port}`, connections: 1, durationSec: 0.5, rate: 20, mode: "invalid", profile: "cpuminer" });
  assert.deepEqual(r2.shares.rejectReasons, { "low-difficulty": r2.shares.sent });
  await strict.close();
});

test("a pool that never answers submits: timeouts/unanswered are counted and the run still ends on time", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.authorize") {
      conn.reply(req.id, true);
      conn.send(notifyMsg(JOB));
      return true;
    }
    return req.method === "mining.submit"; // swallow
  });
  const t0 = Date.now();
  const report = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 2, durationSec: 0.5, rate: 20, requestTimeoutMs: 200, drainMs: 300 });
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(report.shares.answered, 0);
  assert.equal(report.shares.timeouts + report.shares.unanswered, report.shares.sent);
  assert.ok(report.shares.timeouts > 0);
  await pool.close();
});

test("connect failures and refused authorizations are reported, not thrown", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.authorize") return conn.reply(req.id, false, [24, "Unauthorized worker", null]), true;
  });
  const report = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 3, durationSec: 0.5 });
  assert.equal(report.connections.handshakeFailed, 3);
  assert.equal(report.connections.ready, 0);
  assert.equal(report.shares.sent, 0);
  assert.match(report.errors[0], /CLIENT_AUTHORIZE_FAILED/);
  await pool.close();
  const closed = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 2, durationSec: 0.3 });
  assert.equal(closed.connections.connectFailed, 2);
});

test("regtest-like nbits: invalid mode never submits a block; valid mode reports that it cannot work", async () => {
  const regtestJob = { ...JOB, nbitsHex: "207fffff" };
  const pool = await checkingPool(1, "conventional", regtestJob);
  const r = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 2, durationSec: 0.5, rate: 100, mode: "invalid" });
  assert.ok(r.shares.sent > 10);
  assert.ok(r.shares.skippedBlocks > 0);
  assert.deepEqual(pool.blocks, []);
  const v = await runBench({ url: `stratum+tcp://127.0.0.1:${pool.port}`, connections: 1, durationSec: 1.5, rate: 20, mode: "valid" });
  assert.equal(v.shares.sent, 0);
  assert.ok(v.shares.validImpossible > 0);
  assert.match(v.errors.join(), /valid mode/);
  await pool.close();
});
