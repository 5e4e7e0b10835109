import { test } from "node:test";
import assert from "node:assert/strict";
import type { EngineStatus } from "../../src/core/engine/engine.ts";
import type { NodeStatus } from "../../src/core/work/template-source.ts";
import { RollingRate, healthProblems } from "../../src/app/pool-status.ts";

/** The part of an engine status snapshot the health rule reads. */
function fakeEngine(o: { nowMs: number; lastTemplateAtMs: number; nodes: Array<Partial<NodeStatus>>; hasJob?: boolean; updateIntervalSec?: number }): Pick<EngineStatus, "nodes" | "work" | "lastTemplateAtMs" | "nowMs" | "updateIntervalSec"> {
  return {
    nowMs: o.nowMs,
    updateIntervalSec: o.updateIntervalSec ?? 30,
    work: o.hasJob === false ? null : { height: 1, jobId: "1", node: "n0", transactions: 0, networkDifficulty: 1, prevHash: "00".repeat(32) },
    lastTemplateAtMs: o.lastTemplateAtMs,
    nodes: o.nodes.map((n, i) => ({ name: `n${i}`, healthy: true, active: i === 0, lastError: null, lastOkMs: null, templatesServed: 0, failures: 0, ...n })),
  };
}

test("health: ok with a healthy node and fresh work", () => {
  assert.deepEqual(healthProblems(fakeEngine({ nowMs: 100_000, lastTemplateAtMs: 99_000, nodes: [{}] })), []);
});

test("health: degraded when no node is healthy, even with fresh work", () => {
  assert.deepEqual(healthProblems(fakeEngine({ nowMs: 100_000, lastTemplateAtMs: 99_000, nodes: [{ healthy: false }, { healthy: false }] })), ["no healthy node"]);
  assert.deepEqual(healthProblems(fakeEngine({ nowMs: 100_000, lastTemplateAtMs: 99_000, nodes: [{ healthy: false }, {}] })), [], "one healthy node is enough");
});

test("health: work is stale after 2 × update_interval + slack without a new template, not before", () => {
  const at = (ageSec: number) => healthProblems(fakeEngine({ nowMs: 1_000_000, lastTemplateAtMs: 1_000_000 - ageSec * 1000, nodes: [{}], updateIntervalSec: 30 }), 30);
  assert.deepEqual(at(90), []);
  const p = at(90.5);
  assert.equal(p.length, 1);
  assert.match(p[0], /^work is stale: last template 91 s ago \(limit 90 s\)$/);
});

test("health: degraded before the first template", () => {
  assert.deepEqual(healthProblems(fakeEngine({ nowMs: 1, lastTemplateAtMs: 0, nodes: [{}], hasJob: false })), ["no work yet"]);
});

test("shares per second: a sliding one-minute window of one-second buckets", () => {
  const t0 = 1_700_000_000_000;
  const r = new RollingRate(t0, 60);
  assert.equal(r.rate(t0), 0);
  for (let i = 0; i < 10; i++) r.add(t0 + 500);
  assert.equal(r.rate(t0 + 1000), 10, "young window: divided by the time since start (at least 1 s)");
  for (let s = 1; s < 120; s++) r.add(t0 + s * 1000, 2);
  assert.equal(r.rate(t0 + 119_000), 2, "old buckets fall out of the window");
  assert.equal(r.rate(t0 + 300_000), 0, "silence decays to zero");
});
