import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "../../src/pipeline/nats/spool.ts";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const rec = (i: number) => Buffer.from(JSON.stringify({ event: "share_submitted", event_id: `id-${i}`, n: i }));

async function readAll(spool: Spool): Promise<string[]> {
  const out: string[] = [];
  // Bounded: the spool holds a finite number of records.
  for (let i = 0; i < 10_000 && (spool.hasUnread() || out.length === 0); i++) {
    await spool.waitForData(AbortSignal.timeout(2_000));
    const batch = await spool.read(1_000);
    if (batch.length === 0) break;
    out.push(...batch.map((r) => JSON.parse(r.payload.toString()).event_id as string));
  }
  return out;
}

test("records come back in order; ack + rewind replays only the unacked tail", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir });
  for (let i = 0; i < 10; i++) spool.append(rec(i));
  await spool.waitForData();
  const first = await spool.read(4);
  assert.deepEqual(first.map((r) => JSON.parse(r.payload.toString()).n), [0, 1, 2, 3]);
  spool.ack(first[1].end, 2);
  spool.rewind();
  const again = await readAll(spool);
  assert.deepEqual(again, ["id-2", "id-3", "id-4", "id-5", "id-6", "id-7", "id-8", "id-9"]);
  assert.equal(spool.stats().unacked, 8);
  await spool.close();
});

test("a reopened spool resumes after the saved cursor and keeps unacked records", async (t) => {
  const dir = await tempDir(t);
  let spool = await Spool.open({ dir, fsync: "always" });
  for (let i = 0; i < 5; i++) spool.append(rec(i));
  await spool.waitForData();
  const got = await spool.read(100);
  assert.equal(got.length, 5);
  spool.ack(got[2].end, 3);
  await spool.close();
  spool = await Spool.open({ dir });
  assert.equal(spool.stats().unacked, 2);
  assert.deepEqual(await readAll(spool), ["id-3", "id-4"]);
  spool.append(rec(5));
  assert.deepEqual(await readAll(spool), ["id-5"]);
  await spool.close();
});

test("a torn record at the end (crash mid-write) is cut off; the records before it survive", async (t) => {
  const dir = await tempDir(t);
  let spool = await Spool.open({ dir });
  for (let i = 0; i < 3; i++) spool.append(rec(i));
  await spool.close();
  const [seg] = (await readdir(dir)).filter((f) => f.endsWith(".log"));
  await appendFile(join(dir, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5])); // header says 200 bytes, 1 present
  spool = await Spool.open({ dir });
  assert.equal(spool.stats().corrupt, 1);
  assert.equal(spool.stats().unacked, 3);
  spool.append(rec(3));
  assert.deepEqual(await readAll(spool), ["id-0", "id-1", "id-2", "id-3"]);
  await spool.close();
});

test("segments rotate by size and are deleted only once every record in them is acked (no retention)", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir, segmentBytes: 300, cursorSaveIntervalMs: 10_000, retainMs: 0 });
  for (let i = 0; i < 20; i++) {
    spool.append(rec(i));
    await spool.flush();
  }
  const segsBefore = (await readdir(dir)).filter((f) => f.endsWith(".log")).length;
  assert.ok(segsBefore >= 3, `segments ${segsBefore}`);
  const all = await spool.read(100);
  assert.equal(all.length, 20);
  spool.ack(all[9].end, 10);
  await spool.checkpoint();
  const cursor = JSON.parse(await readFile(join(dir, "cursor.json"), "utf8")) as { segment: number };
  const left = (await readdir(dir)).filter((f) => f.endsWith(".log")).map((f) => Number(f.slice(6, 22)));
  assert.ok(left.every((n) => n >= cursor.segment), "no segment behind the cursor");
  assert.ok(left.length < segsBefore);
  assert.equal(spool.stats().unacked, 10);
  await spool.close();
});

test("acknowledged segments are retained (bounded in time and bytes), survive a restart, and replay in order before new records", async (t) => {
  const dir = await tempDir(t);
  let now = Date.now();
  const opts = { dir, segmentBytes: 300, cursorSaveIntervalMs: 10_000, retainMs: 60_000, retainBytes: 10_000, now: () => now };
  let spool = await Spool.open(opts);
  for (let i = 0; i < 20; i++) {
    spool.append(rec(i));
    await spool.flush();
  }
  const all = await spool.read(100);
  spool.ack(all[19].end, 20);
  await spool.checkpoint();
  assert.equal(spool.stats().unacked, 0);
  assert.ok(spool.stats().retainedBytes > 0, "acked segments kept");
  await spool.close();

  // A restart keeps them too; a replay reads every retained record again, in order, then new ones.
  spool = await Spool.open(opts);
  spool.append(rec(20));
  await spool.flush();
  spool.replayRetained();
  assert.equal(spool.replaying, true);
  const again = await spool.read(100);
  const first = again.map((r) => r.payload.toString());
  assert.deepEqual(first, Array.from({ length: first.length }, (_, i) => rec(20 - first.length + i).toString()));
  assert.ok(first.length >= 10, `replayed ${first.length}`);
  assert.equal(first.at(-1), rec(19).toString());
  spool.rewind(); // a failed publish round goes back to the replay's own position
  const retry = await spool.read(100);
  assert.deepEqual(retry.map((r) => r.payload.toString()), first);
  spool.ack(retry.at(-1)!.end, retry.length);
  assert.equal(spool.replaying, false);
  assert.equal(spool.stats().unacked, 1, "replayed records are not counted as new");
  const next = await spool.read(10);
  assert.deepEqual(next.map((r) => r.payload.toString()), [rec(20).toString()]);
  spool.ack(next[0].end, 1);

  // Past retainMs every acknowledged segment is deleted; the byte cap bounds them meanwhile.
  now += 61_000;
  await spool.checkpoint();
  assert.equal(spool.stats().retainedBytes, 0);
  await spool.close();
});

test("retained bytes are capped: the oldest acknowledged segments go first", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir, segmentBytes: 300, cursorSaveIntervalMs: 10_000, retainMs: 3_600_000, retainBytes: 700 });
  for (let i = 0; i < 40; i++) {
    spool.append(rec(i));
    await spool.flush();
  }
  const all = await spool.read(100);
  spool.ack(all.at(-1)!.end, all.length);
  await spool.checkpoint();
  assert.ok(spool.stats().retainedBytes <= 700, `retained ${spool.stats().retainedBytes}`);
  assert.ok(spool.stats().retainedBytes > 0);
  await spool.close();
});

test("a full spool refuses ordinary records but takes critical ones", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 200 });
  const results: boolean[] = [];
  for (let i = 0; i < 6; i++) results.push(spool.append(rec(i)));
  assert.ok(results.includes(false));
  assert.equal(spool.append(rec(99), { critical: true }), true);
  assert.equal(spool.stats().dropped, results.filter((r) => !r).length);
  await spool.close();
});

test("a failing disk (ENOSPC after a partial write) neither crashes nor corrupts: records stay pending and are written once it recovers", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir, fsync: "always" });
  spool.append(rec(0));
  await spool.flush();
  const fh = (spool as unknown as { writeFh: { write: (b: Buffer) => Promise<unknown> } }).writeFh;
  const realWrite = fh.write.bind(fh);
  let failures = 0;
  fh.write = async (b: Buffer) => {
    if (failures < 3) {
      failures++;
      await realWrite(b.subarray(0, Math.floor(b.length / 2))); // half a record lands, then the disk is full
      throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    }
    return realWrite(b);
  };
  for (let i = 1; i < 6; i++) spool.append(rec(i));
  // Bounded wait for the retries (100, 200, 400 ms) to get through.
  for (let i = 0; i < 100 && spool.stats().ioErrors < 3; i++) await new Promise((r) => setTimeout(r, 20));
  await spool.flush();
  for (let i = 0; i < 100 && failures === 3 && (spool as unknown as { pending: unknown[] }).pending.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await spool.flush();
  assert.equal(spool.stats().ioErrors, 3);
  assert.deepEqual(await readAll(spool), ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5"]);
  await spool.close();
  const reopened = await Spool.open({ dir });
  assert.deepEqual(await readAll(reopened), ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5"], "no torn record in the segment");
  assert.equal(reopened.stats().corrupt, 0);
  await reopened.close();
});
