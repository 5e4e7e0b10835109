/**
 * The client tools against the real engine: the miner mines regtest blocks through the pool, and runBench
 * measures the pool on the bench node (mainnet-like bits), in both modes and with several device profiles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestPool, startBenchPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES, MAINNET_ADDRESSES } from "../support/addresses.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { runBench } from "../../src/tools/bench/bench.ts";

test("the miner mines regtest blocks through the pool and they become the tip", async () => {
  const pool = await startTestPool();
  try {
    const h0 = pool.node.height();
    const miner = await startMiner({ url: pool.url, user: `${REGTEST_ADDRESSES.p2tr}.cpu`, threads: 1, profile: "bitaxe", suggestDifficulty: 0.001, maxBlocks: 3, durationSec: 60 });
    const stats = await miner.done;
    assert.equal(stats.stopReason, "max-blocks");
    assert.equal(stats.blocksFound, 3);
    assert.equal(stats.blocksAccepted, 3);
    assert.equal(stats.rejected, 0);
    const deadline = Date.now() + 10_000;
    while (pool.node.height() < h0 + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pool.node.height(), h0 + 3);
  } finally {
    await pool.close();
  }
});

test("runBench invalid mode: every share is checked and rejected as low difficulty, for each device profile", async () => {
  const pool = await startBenchPool({ txs: 3000 });
  try {
    for (const profile of ["bitaxe", "cpuminer", "cgminer", "antminer", "nerdminer"] as const) {
      const r = await runBench({ url: pool.url, connections: 4, durationSec: 1.2, rate: 100, mode: "invalid", profile, user: MAINNET_ADDRESSES.p2wpkh });
      assert.equal(r.connections.ready, 4, `${profile}: ${r.errors.join()}`);
      assert.ok(r.shares.sent >= 20, `${profile}: sent ${r.shares.sent}`);
      assert.equal(r.shares.answered, r.shares.sent, profile);
      assert.deepEqual(r.shares.rejectReasons, { "low-difficulty": r.shares.sent }, profile);
      assert.equal(r.shares.verdictMismatches, 0, profile);
      assert.ok(r.notifies >= 4 && r.submitRttMs.count === r.shares.sent, profile);
    }
  } finally {
    await pool.close();
  }
});

test("runBench valid mode: ground shares are accepted by the pool", async () => {
  const pool = await startBenchPool({ txs: 0 });
  try {
    // The test pool starts at difficulty 1e-5 (below the config floor, see startBenchPool) and the nerdminer
    // profile suggests 0.0001 (~430k hashes a share): run short benches until a share came back, bounded.
    let accepted = 0;
    for (let run = 0; run < 10 && accepted === 0; run++) {
      const r = await runBench({ url: pool.url, connections: 2, durationSec: 3, rate: 20, mode: "valid", profile: "nerdminer", user: MAINNET_ADDRESSES.p2tr });
      assert.equal(r.shares.rejected, 0, JSON.stringify(r.shares.rejectReasons));
      assert.equal(r.shares.verdictMismatches, 0);
      assert.ok(r.difficulty.min <= 0.0001, `difficulty ${r.difficulty.min}`);
      accepted += r.shares.accepted;
    }
    assert.ok(accepted >= 1);
    assert.equal(pool.bench.chain.submittedCount, 0, "no block submitted");
  } finally {
    await pool.close();
  }
});
