/** BestDiffRecords.top(): the weekly and all-time leaderboards the status page shows. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BestDiffRecords } from "../../src/app/records/best-diff.ts";

test("top(): best first, ties by who got there first, limited; week rows only of the current ISO week", () => {
  let now = Date.UTC(2026, 11, 3, 12); // Thursday of 2026-W49
  const r = new BestDiffRecords({ now: () => now });
  const share = (user: string, worker: string, d: number) => r.observe({ user, worker, sessionId: `${user}:${worker}`, shareDifficulty: d });
  share("alice", "a1", 50);
  now += 1000;
  share("bob", "b1", 80);
  now += 1000;
  share("carol", "c1", 50);
  share("alice", "a2", 20); // not a record: alice's best stays 50 from a1
  assert.deepEqual(r.top("alltime", 10).map((x) => [x.user, x.worker, x.difficulty]), [["bob", "b1", 80], ["alice", "a1", 50], ["carol", "c1", 50]]);
  assert.deepEqual(r.top("week", 2).map((x) => x.user), ["bob", "alice"]);
  assert.equal(r.weekKey, "2026-W49");
  assert.deepEqual(r.top("alltime", 0), []);

  now = Date.UTC(2026, 11, 7, 0, 0, 1); // Monday: a new week
  assert.equal(r.weekKey, "2026-W50");
  assert.deepEqual(r.top("week", 10), [], "last week's records are not this week's");
  share("carol", "c2", 10);
  assert.deepEqual(r.top("week", 10).map((x) => [x.user, x.worker, x.difficulty]), [["carol", "c2", 10]]);
  assert.equal(r.top("alltime", 10).length, 3, "all-time records stay");
});
