/**
 * Issue 12 §6: per-user records are bounded in memory. Past `maxUsers` the least recently active
 * user is evicted; their records stay on disk (a compaction keeps them), and when they come back their
 * records are read back, so a share below their old best beats nothing and one above it is reported.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BestDiffRecords, RECORDS_FILE, type BeatenRecord } from "../../src/app/records/best-diff.ts";

const user = (i: number) => `bc1quser${String(i).padStart(6, "0")}`;

test("an attacker's flood of new addresses keeps at most maxUsers in memory; evicted users keep their records on disk and get them back", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-evict-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const late: BeatenRecord[] = [];
  const open = () => new BestDiffRecords({ dataDir: dir, flushDelayMs: 5, maxUsers: 100, onLateRecords: (b) => late.push(...b) });
  let r = open();
  await r.start();
  // The honest user sets a record of 5000, then 1,000 one-share addresses push them out.
  assert.equal(r.observe({ user: user(0), worker: "rig", sessionId: "a0", shareDifficulty: 5000 }).length, 3);
  for (let i = 1; i <= 1000; i++) r.observe({ user: user(i), worker: "w", sessionId: `b${i}`, shareDifficulty: 10 + i });
  assert.equal(r.size.users, 100, "bounded");
  assert.ok(r.size.evicted >= 901);
  await r.flush();

  // Back with a share below the old best: no record beaten, none reported.
  assert.deepEqual(r.observe({ user: user(0), worker: "rig", sessionId: "a1", shareDifficulty: 4000 }).map((b) => b.scope), ["session"]);
  await r.settled();
  // (New addresses that arrived once memory was full had their first records reported late: nothing was on disk for them.)
  const lateFor0 = () => late.filter((b) => b.user === user(0)).map((b) => [b.scope, b.oldBest, b.newBest]);
  assert.deepEqual(lateFor0(), []);
  assert.ok(late.some((b) => b.user === user(1000) && b.scope === "alltime" && b.oldBest === null), "a new user's first record, reported late");
  assert.equal(r.alltimeBest(user(0))?.difficulty, 5000, "read back from disk");
  // Above it: week and all-time beaten, relative to the old best.
  assert.deepEqual(r.observe({ user: user(0), worker: "rig", sessionId: "a1", shareDifficulty: 6000 }).map((b) => [b.scope, b.oldBest]), [["session", 4000], ["week", 5000], ["alltime", 5000]]);

  // Evicted again while away, it comes back with a better share before its records are read: reported late.
  for (let i = 1001; i <= 1200; i++) r.observe({ user: user(i), worker: "w", sessionId: `c${i}`, shareDifficulty: 10 });
  await r.flush();
  r.observe({ user: user(0), worker: "rig2", sessionId: "a2", shareDifficulty: 7000 });
  await r.settled();
  assert.deepEqual(lateFor0(), [["week", 6000, 7000], ["alltime", 6000, 7000]]);

  // A restart compacts the file: evicted users' records survive it.
  await r.close();
  r = open();
  await r.start();
  await r.close();
  const text = await readFile(join(dir, RECORDS_FILE), "utf8");
  assert.match(text, new RegExp(`"scope":"alltime","user":"${user(0)}","worker":"rig2","difficulty":7000`));
  assert.match(text, new RegExp(`"scope":"alltime","user":"${user(5)}","worker":"w","difficulty":15`), "a user evicted long ago is still on disk");
});
