/**
 * Issue 12 §6: after a failed write (a real ENOSPC: the log is made to point at /dev/full) the
 * best-difficulty records are written again on a timer, without a new record or a shutdown, so a
 * crash after the disk has room again loses nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, symlink, unlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BestDiffRecords, RECORDS_FILE } from "../../src/app/records/best-diff.ts";
import type { RecordStoreError } from "../../src/app/records/record-log.ts";
import { waitFor } from "../support/wait.ts";

test("a record refused with ENOSPC reaches the disk on the retry timer, with no further record and no shutdown", { skip: !existsSync("/dev/full") }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-enospc-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const errors: RecordStoreError[] = [];
  const records = new BestDiffRecords({ dataDir: dir, flushDelayMs: 10, retryDelayMs: 200, onError: (e) => errors.push(e) });
  await records.start();
  const path = join(dir, RECORDS_FILE);
  // The disk is full: every append to the log fails with ENOSPC.
  await unlink(path).catch(() => {});
  await symlink("/dev/full", path);
  records.observe({ user: "bc1quser", worker: "rig", sessionId: "01", shareDifficulty: 1234 });
  await waitFor(() => errors.length > 0, "the write to fail");
  assert.match(errors[0].message, /ENOSPC|No space left/);
  // The retry writes a full snapshot next to the log and renames it over: the record is on disk.
  await waitFor(async () => existsSync(path) && (await readFile(path, "utf8").catch(() => "")).includes('"difficulty":1234'), "the record on disk after the retry", 5000);
  const text = await readFile(path, "utf8");
  assert.match(text, /"scope":"alltime","user":"bc1quser","worker":"rig","difficulty":1234/);
  assert.equal(records.storeStats()?.pending, 0);
  await records.close();
});
