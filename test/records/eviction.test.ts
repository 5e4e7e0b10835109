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
  // (New addresses that arrived once memory was full were never evicted: their first records were reported at once, with no read-back.)
  const lateFor0 = () => late.filter((b) => b.user === user(0)).map((b) => [b.scope, b.oldBest, b.newBest]);
  assert.deepEqual(lateFor0(), []);
  assert.ok(!late.some((b) => b.user === user(1000)), "a new user's first record was not deferred to a read-back");
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

import { RecordLog, type RecordEntry } from "../../src/app/records/record-log.ts";
import type { RecordStore } from "../../src/app/records/best-diff.ts";
import { writeFile } from "node:fs/promises";

/** A store that holds entries in memory and counts lookups; `failures` first lookups reject. */
function countingStore(failures = 0) {
  const calls: Array<Set<string>> = [];
  const disk: RecordEntry[] = [];
  let fail = failures;
  const store: RecordStore = {
    load: async () => [],
    lookup: async (users) => {
      calls.push(new Set(users));
      if (fail-- > 0) throw new Error("EIO: injected read failure");
      return disk.filter((e) => users.has(e.user));
    },
    compact: async () => undefined,
    append: (e) => void disk.push(e),
    flush: async () => undefined,
    close: async () => undefined,
    stats: () => ({ lines: disk.length, pending: 0, skippedAtLoad: 0, writeErrors: 0, compactions: 0 }),
  };
  return { store, calls };
}

test("after evictions, a never-seen user's share reads nothing from disk; an evicted user's does", async () => {
  const { store, calls } = countingStore();
  const r = new BestDiffRecords({ store: () => store, maxUsers: 10, readBackGapMs: 0 });
  await r.start();
  for (let i = 0; i < 5000; i++) r.observe({ user: user(i), worker: "w", sessionId: `s${i}`, shareDifficulty: 10 });
  assert.ok(r.size.evicted >= 4990);
  // 1,000 brand-new addresses: records beaten at once, no read-back.
  for (let i = 10_000; i < 11_000; i++) {
    assert.deepEqual(r.observe({ user: user(i), worker: "w", sessionId: `n${i}`, shareDifficulty: 10 }).map((b) => b.scope), ["session", "week", "alltime"]);
  }
  await r.settled();
  assert.equal(calls.length, 0, "no lookup for users never evicted");
  // An evicted one: read back.
  r.observe({ user: user(1), worker: "w", sessionId: "back", shareDifficulty: 5 });
  await r.settled();
  assert.equal(calls.length, 1);
  assert.ok(calls[0]!.has(user(1)));
});

test("a failed read-back is not 'no records': the user stays queued and the old best is used once a retry succeeds", async () => {
  const { store, calls } = countingStore(2);
  const late: BeatenRecord[] = [];
  const r = new BestDiffRecords({ store: () => store, maxUsers: 2, readBackGapMs: 0, readBackRetryMs: 10, onLateRecords: (b) => late.push(...b) });
  await r.start();
  r.observe({ user: user(0), worker: "w", sessionId: "a", shareDifficulty: 5000 });
  for (let i = 1; i <= 5; i++) r.observe({ user: user(i), worker: "w", sessionId: `b${i}`, shareDifficulty: 1 });
  r.observe({ user: user(0), worker: "w", sessionId: "c", shareDifficulty: 100 });
  await r.settled();
  assert.equal(calls.length, 3, "two failures, then a retry that worked");
  assert.equal(r.size.readBackErrors, 2);
  assert.deepEqual(late.filter((b) => b.user === user(0)), [], "100 is below the old best 5000: nothing beaten, no record with oldBest null");
  assert.equal(r.alltimeBest(user(0))?.difficulty, 5000);
});

test("reading back a big records file yields to the event loop while it parses", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-evict-chunk-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, RECORDS_FILE);
  const lines: string[] = [];
  for (let i = 0; i < 50_000; i++) lines.push(JSON.stringify({ scope: "alltime", user: user(i), worker: "w", difficulty: i + 1, at_ms: 1 }));
  await writeFile(path, lines.join("\n") + "\n");
  const log = new RecordLog({ path, snapshot: () => [] });
  let ticks = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const found = await log.lookup(new Set([user(49_999)]));
  done = true;
  assert.equal(found.length, 1);
  assert.ok(ticks >= 50_000 / RecordLog.PARSE_CHUNK_LINES - 1, `the loop ran ${ticks} times during the parse`);
  await log.close();
});
