import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BestDiffRecords, RECORDS_FILE } from "../../src/app/records/best-diff.ts";

const at = (iso: string) => Date.parse(iso);

function clock(iso: string) {
  let t = at(iso);
  return { now: () => t, set: (next: string) => void (t = at(next)) };
}

const share = (shareDifficulty: number, sessionId = "00000001", user = "bcrt1qalice", worker = "rig1") => ({ user, worker, sessionId, shareDifficulty });

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-records-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("a user's first share sets all three records with no previous value", () => {
  const c = clock("2026-11-18T10:00:00Z");
  const r = new BestDiffRecords({ now: c.now });
  assert.deepEqual(r.observe(share(5)), [
    { scope: "session", user: "bcrt1qalice", worker: "rig1", oldBest: null, newBest: 5 },
    { scope: "week", user: "bcrt1qalice", worker: "rig1", oldBest: null, newBest: 5, week: "2026-W47" },
    { scope: "alltime", user: "bcrt1qalice", worker: "rig1", oldBest: null, newBest: 5 },
  ]);
  assert.deepEqual(r.observe(share(3)), []);
  assert.deepEqual(r.observe(share(5)), [], "equal is not a new record");
  assert.deepEqual(
    r.observe(share(8)).map((b) => [b.scope, b.oldBest, b.newBest]),
    [["session", 5, 8], ["week", 5, 8], ["alltime", 5, 8]],
  );
});

test("zero, negative and non-finite difficulties are ignored", () => {
  const r = new BestDiffRecords({ now: () => 0 });
  for (const d of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.deepEqual(r.observe(share(d)), []);
  assert.equal(r.alltimeBest("bcrt1qalice"), null);
});

test("the session record is per connection and resets on disconnect; week and all-time do not", () => {
  const c = clock("2026-11-18T10:00:00Z");
  const r = new BestDiffRecords({ now: c.now });
  r.observe(share(100, "aaaa0001"));
  // A second connection of the same user has its own session record.
  assert.deepEqual(r.observe(share(10, "aaaa0002")).map((b) => [b.scope, b.oldBest, b.newBest]), [["session", null, 10]]);
  assert.equal(r.endSession("aaaa0001"), 100);
  assert.equal(r.sessionBest("aaaa0001"), null);
  assert.equal(r.endSession("aaaa0001"), null, "ending twice is harmless");
  // Reconnect (new session id, as the server gives): the first share is a session record again.
  assert.deepEqual(r.observe(share(50, "aaaa0003")).map((b) => [b.scope, b.oldBest, b.newBest]), [["session", null, 50]]);
  assert.equal(r.weekBest("bcrt1qalice")?.difficulty, 100);
  assert.equal(r.alltimeBest("bcrt1qalice")?.difficulty, 100);
});

test("the week record rolls over exactly at Monday 00:00 UTC", () => {
  const c = clock("2026-11-22T23:59:59.999Z"); // Sunday, last millisecond of 2026-W47
  const r = new BestDiffRecords({ now: c.now });
  r.observe(share(40));
  assert.deepEqual(r.observe(share(30)), []);
  assert.deepEqual(r.weekBest("bcrt1qalice"), { week: "2026-W47", difficulty: 40, worker: "rig1", atMs: c.now() });
  c.set("2026-11-23T00:00:00.000Z"); // Monday: 2026-W48
  assert.equal(r.weekBest("bcrt1qalice"), null, "last week's record is not this week's");
  assert.deepEqual(r.observe(share(2)), [{ scope: "week", user: "bcrt1qalice", worker: "rig1", oldBest: null, newBest: 2, week: "2026-W48" }]);
  assert.deepEqual(r.observe(share(3)).map((b) => [b.scope, b.oldBest, b.week]), [["week", 2, "2026-W48"]]);
  assert.equal(r.alltimeBest("bcrt1qalice")?.difficulty, 40);
});

test("records are per user", () => {
  const r = new BestDiffRecords({ now: () => at("2026-11-18T10:00:00Z") });
  r.observe(share(100, "s1", "bcrt1qalice"));
  const bob = r.observe(share(1, "s2", "bcrt1qbob", "nerd"));
  assert.deepEqual(bob.map((b) => [b.scope, b.user, b.worker, b.oldBest]), [["session", "bcrt1qbob", "nerd", null], ["week", "bcrt1qbob", "nerd", null], ["alltime", "bcrt1qbob", "nerd", null]]);
});

test("all-time and this week's records survive a restart of the store", async (t) => {
  const dir = await tempDir(t);
  const c = clock("2026-11-18T10:00:00Z");
  const first = new BestDiffRecords({ dataDir: dir, now: c.now });
  await first.start();
  first.observe(share(1234.5, "s1", "bcrt1qalice", "rig1"));
  first.observe(share(7, "s2", "bcrt1qbob", "nerd"));
  first.observe(share(99, "s2", "bcrt1qbob", "nerd"));
  await first.close();

  const second = new BestDiffRecords({ dataDir: dir, now: c.now });
  await second.start();
  assert.deepEqual(second.alltimeBest("bcrt1qalice"), { difficulty: 1234.5, worker: "rig1", atMs: c.now() });
  assert.equal(second.alltimeBest("bcrt1qbob")?.difficulty, 99);
  assert.equal(second.weekBest("bcrt1qbob")?.difficulty, 99);
  // Sessions do not survive; the next share is only a session record.
  assert.deepEqual(second.observe(share(50, "s9", "bcrt1qbob", "nerd")).map((b) => b.scope), ["session"]);
  const beaten = second.observe(share(2000, "s9", "bcrt1qalice", "rig2"));
  assert.deepEqual(beaten.find((b) => b.scope === "alltime"), { scope: "alltime", user: "bcrt1qalice", worker: "rig2", oldBest: 1234.5, newBest: 2000 });
  await second.close();

  // Compaction at start leaves one line per live record.
  c.set("2026-11-30T10:00:00Z"); // a later week: week records are not loaded any more
  const third = new BestDiffRecords({ dataDir: dir, now: c.now });
  await third.start();
  assert.equal(third.alltimeBest("bcrt1qalice")?.difficulty, 2000);
  assert.equal(third.weekBest("bcrt1qalice"), null);
  await third.close();
  const lines = (await readFile(join(dir, RECORDS_FILE), "utf8")).trim().split("\n");
  assert.equal(lines.length, 2, lines.join("\n"));
});

test("a torn or malformed line in the log is skipped, the rest loads", async (t) => {
  const dir = await tempDir(t);
  const good = JSON.stringify({ scope: "alltime", user: "bcrt1qalice", worker: "rig1", difficulty: 42, at_ms: 1 });
  await writeFile(join(dir, RECORDS_FILE), `${good}\nnot json\n{"scope":"alltime","user":"x","worker":"w","difficulty":-1,"at_ms":1}\n{"scope":"alltime","user":"bcrt1qbob","wor`);
  const r = new BestDiffRecords({ dataDir: dir, now: () => 0 });
  await r.start();
  assert.equal(r.alltimeBest("bcrt1qalice")?.difficulty, 42);
  assert.equal(r.alltimeBest("bcrt1qbob"), null);
  assert.equal(r.storeStats()?.skippedAtLoad, 3);
  await r.close();
  assert.equal((await readFile(join(dir, RECORDS_FILE), "utf8")).trim(), good);
});

test("an unreadable records file fails start with RECORDS_STORE rather than starting empty", async (t) => {
  const dir = await tempDir(t);
  const { mkdir } = await import("node:fs/promises");
  await mkdir(join(dir, RECORDS_FILE)); // a directory where the file should be: EISDIR on read
  const r = new BestDiffRecords({ dataDir: dir, now: () => 0 });
  await assert.rejects(r.start(), { code: "RECORDS_STORE" });
});

test("observe never waits for the disk: records are written in the background and flushed on close", async (t) => {
  const dir = await tempDir(t);
  const r = new BestDiffRecords({ dataDir: dir, now: () => at("2026-11-18T10:00:00Z"), flushDelayMs: 60_000 });
  await r.start();
  for (let i = 1; i <= 1000; i++) r.observe(share(i, "s1", `bcrt1quser${i % 10}`));
  assert.ok((r.storeStats()?.pending ?? 0) > 0, "nothing written synchronously");
  await r.close();
  assert.equal(r.storeStats()?.pending, 0);
  const again = new BestDiffRecords({ dataDir: dir, now: () => at("2026-11-18T10:00:00Z") });
  await again.start();
  assert.equal(again.alltimeBest("bcrt1quser0")?.difficulty, 1000);
  assert.equal(again.alltimeBest("bcrt1quser9")?.difficulty, 999);
  await again.close();
});

test("a write failure is reported, the records stay in memory, and the next flush writes them", async (t) => {
  const dir = await tempDir(t);
  const errors: string[] = [];
  const path = join(dir, "sub");
  const r = new BestDiffRecords({ dataDir: path, now: () => 0, onError: (e) => errors.push(e.code) });
  await r.start();
  // Make the directory unwritable by replacing it with a file.
  await rm(path, { recursive: true });
  await writeFile(path, "x");
  r.observe(share(5));
  await r.flush();
  assert.deepEqual(errors, ["RECORDS_STORE"]);
  assert.equal(r.alltimeBest("bcrt1qalice")?.difficulty, 5);
  await rm(path);
  const { mkdir } = await import("node:fs/promises");
  await mkdir(path);
  await r.flush();
  await r.close();
  const again = new BestDiffRecords({ dataDir: path, now: () => 0 });
  await again.start();
  assert.equal(again.alltimeBest("bcrt1qalice")?.difficulty, 5);
  await again.close();
});
