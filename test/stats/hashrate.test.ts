import { test } from "node:test";
import assert from "node:assert/strict";
import { DecayingHashrate } from "../../src/core/stats/hashrate.ts";

test("a steady share stream converges to its hashrate in the short windows", () => {
  const r = new DecayingHashrate(0);
  // One difficulty-1 share per second = 2^32 H/s.
  for (let t = 1; t <= 1800; t++) r.add(1, t * 1000);
  const h = r.hashrates(1800_000);
  const expected = 2 ** 32;
  assert.ok(Math.abs(h["1m"] / expected - 1) < 0.05, `1m ${h["1m"]}`);
  assert.ok(Math.abs(h["5m"] / expected - 1) < 0.05, `5m ${h["5m"]}`);
  assert.ok(h["1h"] < expected && h["1h"] > expected * 0.3, `1h still warming up: ${h["1h"]}`);
});

test("decays toward zero when shares stop", () => {
  const r = new DecayingHashrate(0);
  for (let t = 1; t <= 600; t++) r.add(1, t * 1000);
  const before = r.hashrates(600_000)["1m"];
  const after = r.hashrates(600_000 + 10 * 60_000)["1m"];
  assert.ok(after < before * 0.01);
});
