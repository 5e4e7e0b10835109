/**
 * A short slice of the fuzz run (`npm run fuzz` does ≥ 1,000,000 inputs): each target for a few thousand
 * inputs from a fresh seed, in-process. A failure prints the seed; replay it with
 * `npm run fuzz -- --seed SEED --inputs N --targets NAME` or runBatch(NAME, SEED, BUDGET).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBatch } from "./fuzz/runner.ts";
import { TARGETS } from "./fuzz/targets.ts";

const seed = Number(process.env.TBG_FUZZ_SEED ?? Date.now() % 0x7fffffff);
const BUDGET: Record<string, number> = { framing: 4000, decode: 6000, session: 6000, events: 4000 };

for (const t of TARGETS) {
  test(`fuzz slice: ${t.name} survives ${BUDGET[t.name]} generated inputs with every invariant holding (seed ${seed})`, () => {
    const r = runBatch(t.name, seed, BUDGET[t.name], 2000);
    assert.equal(r.inputs >= BUDGET[t.name], true);
    assert.deepEqual(r.findings.map((f) => `${f.kind} at step ${f.step}: ${f.message}`), [], `seed ${seed}`);
  });
}

test("the fuzz harness reports a planted crash with its seed and step, and keeps going", () => {
  const framing = TARGETS.find((t) => t.name === "framing")!;
  const original = framing.step;
  let calls = 0;
  framing.step = (rng, ctx) => {
    if (calls++ === 3) throw new TypeError("planted");
    return original(rng, ctx);
  };
  try {
    const r = runBatch("framing", 42, 10);
    assert.equal(r.inputs, 10);
    assert.deepEqual(r.findings.map((f) => [f.kind, f.seed, f.step, f.message.split("\n")[0]]), [["crash", 42, 3, "TypeError: planted"]]);
  } finally {
    framing.step = original;
  }
  assert.throws(() => runBatch("nope", 1, 1), /unknown fuzz target/);
});
