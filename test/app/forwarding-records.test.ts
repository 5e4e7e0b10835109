/** A Stratum worker's records (src/app/workers.ts): session bests kept locally, a share forwarded to the primary only when it beats the week best the worker knows. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardingRecords } from "../../src/app/workers.ts";

test("a worker forwards a share only when it beats the best it knows for the user this week", () => {
  let now = Date.UTC(2026, 11, 2, 12); // a Wednesday
  const sent: Array<{ user: string; difficulty: number }> = [];
  const r = new ForwardingRecords((s) => sent.push({ user: s.user, difficulty: s.difficulty }), () => now);
  const share = (user: string, sessionId: string, d: number) => r.observe({ user, worker: "w", sessionId, shareDifficulty: d });

  assert.deepEqual(share("a", "s1", 10).map((b) => [b.scope, b.oldBest, b.newBest]), [["session", null, 10]]);
  assert.deepEqual(sent, [{ user: "a", difficulty: 10 }], "first share of a user: forwarded");
  share("a", "s1", 5);
  share("a", "s2", 8);
  assert.equal(sent.length, 1, "not better than what is known: not forwarded");
  r.onBests("a", "2026-W49", 50); // the primary knows a better one (another worker's)
  share("a", "s1", 40);
  assert.equal(sent.length, 1);
  share("a", "s1", 60);
  assert.deepEqual(sent.at(-1), { user: "a", difficulty: 60 });
  r.onBests("a", "2026-W48", 1000); // an answer about another week is ignored
  share("a", "s1", 70);
  assert.deepEqual(sent.at(-1), { user: "a", difficulty: 70 });
  assert.equal(r.endSession("s1"), 70);
  assert.equal(r.endSession("s1"), null);

  now = Date.UTC(2026, 11, 7, 0, 0, 1); // Monday: a new ISO week, nothing known
  share("a", "s3", 1);
  assert.deepEqual(sent.at(-1), { user: "a", difficulty: 1 });
  assert.deepEqual(share("b", "s4", 0), [], "zero difficulty: nothing");
});
