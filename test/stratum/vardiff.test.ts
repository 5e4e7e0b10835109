import { test } from "node:test";
import assert from "node:assert/strict";
import { Vardiff, roundDifficulty } from "../../src/core/stratum/vardiff.ts";

const opts = { targetIntervalSec: 10, retargetShares: 16, retargetSec: 60, minDifficulty: 0.0001, maxDifficulty: 0 };

test("raises the difficulty of a miner submitting far faster than the target", () => {
  const v = new Vardiff(opts, 0);
  let next: number | null = null;
  // 16 shares at difficulty 1 in 16 s: 1 diff-1 share/s → wanted 10.
  for (let i = 1; i <= 16 && next === null; i++) next = v.onAccepted(1, 1, i * 1000);
  assert.equal(next, 10);
});

test("stays put inside the hysteresis band", () => {
  const v = new Vardiff(opts, 0);
  let next: number | null = null;
  for (let i = 1; i <= 16 && next === null; i++) next = v.onAccepted(10, 10, i * 12_000); // ~12 s per share at 10 → wanted 8.3
  assert.equal(next, null);
});

test("lowers a silent miner's difficulty on tick, down to the floor", () => {
  const v = new Vardiff({ ...opts, minDifficulty: 0.5 }, 0);
  assert.equal(v.tick(64, 30_000), null, "too early");
  const next = v.tick(64, 61_000);
  assert.ok(next !== null && next < 64);
  const v2 = new Vardiff({ ...opts, minDifficulty: 0.5 }, 0);
  assert.equal(v2.tick(1, 10 * 60_000), 0.5);
});

test("clamps to mindiff, a miner's floor, maxdiff and the network difficulty", () => {
  const v = new Vardiff({ ...opts, maxDifficulty: 1000 }, 0);
  assert.equal(v.clamp(0.00001), 0.0001);
  assert.equal(v.clamp(5000), 1000);
  assert.equal(v.clamp(500, 200), 200);
  v.setFloor(50);
  assert.equal(v.clamp(10), 50);
});

test("never below mindiff, even on a network whose difficulty is lower (regtest, testnet minimum-difficulty blocks)", () => {
  const regtestNetworkDifficulty = 4.656542373906925e-10;
  const v = new Vardiff(opts, 0);
  assert.equal(v.clamp(1e-9, regtestNetworkDifficulty), 0.0001);
  assert.equal(v.clamp(42, regtestNetworkDifficulty), 0.0001);
  // A miner submitting very fast on regtest: the retarget stays at mindiff, never the network difficulty.
  let next: number | null = null;
  for (let i = 1; i <= 16 && next === null; i++) next = v.onAccepted(0.0001, 0.001, i * 10, regtestNetworkDifficulty);
  assert.equal(next, 0.0001);
  // A silent one too.
  assert.equal(new Vardiff(opts, 0).tick(0.001, 10 * 60_000, regtestNetworkDifficulty), 0.0001);
  // mindiff with more digits than the announced rounding keeps: not rounded below it.
  assert.equal(new Vardiff({ ...opts, minDifficulty: 0.00012345 }, 0).clamp(0, regtestNetworkDifficulty), 0.00012345);
});

test("fractional difficulties keep three significant digits; integers above 1", () => {
  assert.equal(roundDifficulty(0.000123456), 0.000123);
  assert.equal(roundDifficulty(12.6), 13);
  assert.equal(roundDifficulty(0.0001), 0.0001);
});

test("the hysteresis band is vardiff.variance_percent around the target", () => {
  const run = (variancePercent: number) => {
    const v = new Vardiff({ ...opts, variancePercent }, 0);
    let next: number | null = null;
    for (let i = 1; i <= 16 && next === null; i++) next = v.onAccepted(10, 10, i * 12_000); // measured rate: 83% of the target
    return next;
  };
  assert.equal(run(30), null, "within ±30 %: no change");
  assert.equal(run(10), 8, "outside ±10 %: retarget");
});
