/** The region state machine's thresholds and the failover routing order (pure). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RegionTracker, routeFor, type Observation, type RegionState } from "../../src/tools/monitor/state.ts";

const tracker = (failureThreshold = 3, recoveryThreshold = 3) => new RegionTracker({ failureThreshold, recoveryThreshold, transitionsKept: 5 });
function feed(t: RegionTracker, obs: Observation[]): RegionState[] {
  return obs.map((o, i) => (t.observe(o, i * 10_000, o), t.state));
}

test("the first observation sets the state at once; later ones change it only after the threshold", () => {
  const t = tracker();
  assert.equal(t.state, "unknown");
  assert.deepEqual(feed(t, ["ok", "down", "down", "down"]), ["healthy", "healthy", "healthy", "down"]);
  assert.deepEqual(t.transitions().map((x) => [x.from, x.to, x.observations, x.atMs]), [["unknown", "healthy", 1, 0], ["healthy", "down", 3, 30_000]]);
});

test("an agreeing observation resets the count: two failures, a success, two failures never trip a threshold of 3", () => {
  const t = tracker();
  assert.deepEqual(feed(t, ["ok", "down", "down", "ok", "down", "down"]), Array(6).fill("healthy"));
  assert.equal(t.pending, 2);
  t.observe("down", 60_000, "third");
  assert.equal(t.state, "down");
});

test("a mixed failing streak lands on what its latest observation saw; recovery on the worst of the better ones", () => {
  const t = tracker(3, 2);
  assert.deepEqual(feed(t, ["ok", "degraded", "down", "down"]), ["healthy", "healthy", "healthy", "down"], "[degraded, down, down]: down at the threshold, not degraded then three more rounds");
  assert.deepEqual(t.transitions().at(-1)!.to, "down");
  const u = tracker(3, 2);
  assert.deepEqual(feed(u, ["ok", "down", "down", "degraded"]), ["healthy", "healthy", "healthy", "degraded"], "[down, down, degraded]: Stratum answers again, so degraded");
  assert.deepEqual(feed(t, ["degraded", "ok"]), ["down", "degraded"], "recovery threshold 2: worst of (degraded, ok)");
  assert.deepEqual(feed(t, ["ok", "ok"]), ["degraded", "healthy"]);
});

test("a streak changing direction starts over", () => {
  const t = tracker(3, 3);
  feed(t, ["degraded"]); // initial: degraded
  assert.deepEqual(feed(t, ["down", "down", "ok", "ok", "down"]), Array(5).fill("degraded"));
  assert.equal(t.pending, 1);
});

test("only the last transitionsKept changes are kept", () => {
  const t = tracker(1, 1);
  feed(t, ["ok", "down", "ok", "down", "ok", "down", "ok", "down"]);
  assert.equal(t.transitions().length, 5);
  assert.equal(t.transitions().at(-1)!.to, "down");
});

const view = (states: Record<string, RegionState>) => [
  { name: "eu", state: states.eu, failover: ["us"] },
  { name: "us", state: states.us, failover: ["eu"] },
  { name: "asia", state: states.asia, failover: ["us"] },
];

test("routing: EU→US, US→EU, Asia→US, then the default region, then any healthy one", () => {
  const all = (s: Record<string, RegionState>) => Object.fromEntries(["eu", "us", "asia"].map((n) => [n, routeFor(n, view(s), "eu").routeTo]));
  assert.deepEqual(all({ eu: "healthy", us: "healthy", asia: "healthy" }), { eu: "eu", us: "us", asia: "asia" });
  assert.deepEqual(all({ eu: "down", us: "healthy", asia: "healthy" }), { eu: "us", us: "us", asia: "asia" });
  assert.deepEqual(all({ eu: "healthy", us: "down", asia: "healthy" }), { eu: "eu", us: "eu", asia: "asia" });
  assert.deepEqual(all({ eu: "healthy", us: "healthy", asia: "degraded" }), { eu: "eu", us: "us", asia: "us" });
  assert.deepEqual(all({ eu: "healthy", us: "down", asia: "down" }), { eu: "eu", us: "eu", asia: "eu" }, "asia: us gone, the default eu");
  assert.deepEqual(all({ eu: "down", us: "down", asia: "healthy" }), { eu: "asia", us: "asia", asia: "asia" }, "any healthy region beats none");
});

test("routing with nothing healthy prefers a degraded region (it still answers Stratum); with nothing up, the region itself, unavailable", () => {
  const r = routeFor("asia", view({ eu: "degraded", us: "down", asia: "down" }), "eu");
  assert.deepEqual([r.routeTo, r.available], ["eu", true]);
  const none = routeFor("asia", view({ eu: "down", us: "down", asia: "down" }), "eu");
  assert.deepEqual([none.routeTo, none.available], ["asia", false]);
  const unknown = routeFor("us", view({ eu: "unknown", us: "unknown", asia: "unknown" }), "eu");
  assert.deepEqual([unknown.routeTo, unknown.available], ["us", false]);
});
