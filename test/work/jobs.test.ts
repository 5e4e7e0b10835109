import { test } from "node:test";
import assert from "node:assert/strict";
import { JobRegistry } from "../../src/core/work/jobs.ts";
import type { TemplateWork } from "../../src/core/work/template.ts";

const tpl = (prev: string, at = 0) => ({ prevhashHex: prev, curtime: 1_700_000_000, receivedAtMs: at }) as unknown as TemplateWork;

test("a new prevhash makes a clean job; the previous block's jobs become stale, then unknown", () => {
  const r = new JobRegistry({ staleRetentionSec: 120 });
  const a = r.addTemplate(tpl("aa"), 0);
  assert.equal(a.newBlock, true);
  const refresh = r.addTemplate(tpl("aa"), 1000);
  assert.equal(refresh.newBlock, false);
  assert.equal(refresh.job.cleanJobs, false);
  const b = r.addTemplate(tpl("bb"), 2000);
  assert.equal(b.job.cleanJobs, true);
  assert.equal(r.lookup(a.job.id, 3000).kind, "stale");
  assert.equal(r.lookup(b.job.id, 3000).kind, "current");
  assert.equal(r.lookup(a.job.id, 2000 + 121_000).kind, "unknown");
});

test("same-block jobs stay valid until they expire; the latest never does", () => {
  const r = new JobRegistry({ jobExpirySec: 600 });
  const a = r.addTemplate(tpl("aa"), 0);
  const b = r.refreshJob(1000)!;
  assert.notEqual(a.job.id, b.id);
  assert.equal(r.lookup(a.job.id, 599_000).kind, "current");
  assert.equal(r.lookup(a.job.id, 601_000).kind, "unknown");
  assert.equal(r.lookup(b.id, 10_000_000).kind, "current");
});

test("a refreshed job on an aging template carries the current time", () => {
  const r = new JobRegistry();
  r.addTemplate(tpl("aa", 0), 0);
  const j = r.refreshJob(90_000)!;
  assert.equal(j.ntime, 1_700_000_000 + 90);
});

test("the registry never holds more than maxJobs; the oldest go first and the latest stays", () => {
  const r = new JobRegistry({ maxJobs: 100 });
  const first = r.addTemplate(tpl("aa"), 0).job;
  let last = first;
  for (let i = 0; i < 1000; i++) last = r.refreshJob(i)!;
  assert.ok(r.size <= 100, `size ${r.size}`);
  assert.equal(r.lookup(first.id, 1000).kind, "unknown");
  assert.equal(r.lookup(last.id, 1000).kind, "current");
});

test("difficulty churn on many connections reuses the newest refresh job instead of minting one each", () => {
  const r = new JobRegistry();
  const broadcast = r.addTemplate(tpl("aa"), 0).job;
  const held = new Array<string>(1000).fill(broadcast.id); // every connection holds the broadcast job
  for (let round = 1; round <= 5; round++) {
    for (let c = 0; c < held.length; c++) {
      const j = r.refreshJob(round * 5000, held[c])!;
      assert.notEqual(j.id, held[c], "always a job the connection does not hold yet");
      held[c] = j.id;
    }
  }
  assert.ok(r.size <= 1 + 5 * 2, `jobs minted for 5,000 difficulty changes: ${r.size}`);
  assert.equal(r.lookup(broadcast.id, 25_000).kind, "current", "the broadcast job is not evicted");
});
