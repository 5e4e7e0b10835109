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

test("segments rotate by size and are deleted only once every record in them is acked", async (t) => {
  const dir = await tempDir(t);
  const spool = await Spool.open({ dir, segmentBytes: 300, cursorSaveIntervalMs: 10_000 });
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
