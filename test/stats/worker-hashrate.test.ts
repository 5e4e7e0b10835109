/** MinerStats.workerHashrate(): one worker's hashrate for the status page's miner rows. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MinerStats } from "../../src/core/stats/miners.ts";

test("workerHashrate is per (user, worker) and null for a worker with no share", () => {
  const t0 = 1_700_000_000_000;
  const s = new MinerStats(t0);
  for (let i = 1; i <= 60; i++) s.addShare("u1", "rig1", 1, t0 + i * 1000);
  s.addShare("u1", "rig2", 1, t0 + 60_000);
  const rig1 = s.workerHashrate("u1", "rig1", t0 + 60_000);
  const rig2 = s.workerHashrate("u1", "rig2", t0 + 60_000);
  assert.ok(rig1 && rig2);
  assert.ok(rig1["1m"] > rig2["1m"] * 10, `${rig1["1m"]} vs ${rig2["1m"]}`);
  assert.equal(s.workerHashrate("u1", "nope", t0), null);
  assert.equal(s.workerHashrate("u2", "rig1", t0), null, "the worker name alone does not match another user's");
  const user = s.userHashrate("u1", t0 + 60_000)!;
  assert.ok(Math.abs(user["1m"] - (rig1["1m"] + rig2["1m"])) / user["1m"] < 1e-9, "workers add up to the user");
});
