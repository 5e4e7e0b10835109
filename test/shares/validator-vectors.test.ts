// validateShare on its own, against test/vectors/share-validation.json (expected headers and hashes were
// computed with bitcoinjs-lib and an independent merkle root: scripts/gen-test-vectors.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DuplicateFilter, validateShare, type ShareContext, type SubmitParams, type ValidatorDeps } from "../../src/core/shares/validator.ts";
import { prepareTemplate, type GbtTemplate, type TemplateWork } from "../../src/core/work/template.ts";
import type { Job, JobLookup } from "../../src/core/work/jobs.ts";
import type { CoinbaseParts } from "../../src/core/work/coinbase-cache.ts";
import { u32hex } from "../../src/util/hex.ts";

interface Expect { accepted: boolean; reason: string | null; difficulty: number; block: boolean; shareDifficulty: number; headerHex?: string; hashHex?: string }
interface Vectors {
  nowMs: number;
  context: { extranonce1Hex: string; extranonce2Size: number; versionMask: number; difficulty: number; coinb1Hex: string; coinb2Hex: string };
  templates: Array<{ name: string; gbt: GbtTemplate }>;
  jobs: Array<{ id: string; template: string; state: "current" | "stale" }>;
  cases: Array<{ name: string; steps: Array<{ submit: SubmitParams; nowMs?: number; expect: Expect }> }>;
}
const V = JSON.parse(readFileSync(new URL("../vectors/share-validation.json", import.meta.url), "utf8")) as Vectors;

const templates = new Map<string, TemplateWork>(V.templates.map((t, i) => [t.name, prepareTemplate(t.gbt, { seq: i + 1, versionMask: V.context.versionMask, source: "vectors", nowMs: V.nowMs })]));
const jobs = new Map<string, { job: Job; state: "current" | "stale" }>(
  V.jobs.map((j) => {
    const template = templates.get(j.template)!;
    const ntime = template.curtime;
    return [j.id, { state: j.state, job: { id: j.id, seq: parseInt(j.id, 16), template, ntime, ntimeHex: u32hex(ntime), cleanJobs: true, createdAtMs: V.nowMs } }];
  }),
);
const parts: CoinbaseParts = { coinb1: Buffer.from(V.context.coinb1Hex, "hex"), coinb2: Buffer.from(V.context.coinb2Hex, "hex"), coinb1Hex: V.context.coinb1Hex, coinb2Hex: V.context.coinb2Hex, signatureUsed: "/vectors/" };
const ctx: ShareContext = {
  extranonce1: Buffer.from(V.context.extranonce1Hex, "hex"),
  extranonce1Hex: V.context.extranonce1Hex,
  extranonce2Size: V.context.extranonce2Size,
  versionMask: V.context.versionMask,
  difficultyForJob: () => V.context.difficulty,
  coinbaseFor: () => parts,
};
const lookup = (id: string): JobLookup => {
  const j = jobs.get(id);
  return j ? { kind: j.state, job: j.job } : { kind: "unknown" };
};

test("the vectors cover every reject reason the validator decides, blocks and stale blocks", () => {
  const reasons = new Set(V.cases.flatMap((c) => c.steps.map((s) => s.expect.reason)));
  for (const r of [null, "job_not_found", "bad_extranonce2", "ntime_out_of_range", "bad_version", "duplicate", "stale", "low_difficulty"]) assert.ok(reasons.has(r), String(r));
  assert.ok(V.cases.some((c) => c.steps.some((s) => s.expect.block && s.expect.accepted)));
  assert.ok(V.cases.some((c) => c.steps.some((s) => s.expect.block && s.expect.reason === "stale")));
});

for (const c of V.cases) {
  test(`vector: ${c.name}`, () => {
    const deps: ValidatorDeps = { lookup, duplicates: new DuplicateFilter() };
    for (const [i, step] of c.steps.entries()) {
      const v = validateShare(deps, ctx, step.submit, step.nowMs ?? V.nowMs);
      const at = `step ${i + 1}`;
      assert.equal(v.accepted, step.expect.accepted, `${at}: accepted (${v.reason}: ${v.detail})`);
      assert.equal(v.reason, step.expect.reason, `${at}: reason (${v.detail})`);
      const near = (a: number, b: number) => (b === 0 ? a === 0 : Math.abs(a / b - 1) < 1e-9);
      assert.ok(near(v.difficulty, step.expect.difficulty), `${at}: difficulty ${v.difficulty}, expected ${step.expect.difficulty}`);
      assert.equal(v.block, step.expect.block, `${at}: block`);
      const rel = step.expect.shareDifficulty === 0 ? v.shareDifficulty : Math.abs(v.shareDifficulty / step.expect.shareDifficulty - 1);
      assert.ok(rel < 1e-9, `${at}: share difficulty ${v.shareDifficulty}, expected ${step.expect.shareDifficulty}`);
      if (v.job) assert.equal(v.job.id, step.submit.jobId, `${at}: the verdict names the job`);
      if (step.expect.block) {
        // The candidate carries exactly the header and hash computed independently.
        assert.ok(v.candidate, `${at}: a block comes back as a candidate`);
        assert.equal(v.candidate.header.toString("hex"), step.expect.headerHex, `${at}: header`);
        assert.equal(Buffer.from(v.candidate.hashLE).reverse().toString("hex"), step.expect.hashHex, `${at}: block hash`);
      } else assert.equal(v.candidate, undefined, `${at}: no candidate without a block`);
    }
  });
}
