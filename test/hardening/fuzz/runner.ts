/**
 * Runs fuzz batches. A batch is (target, seed, budget): deterministic, so any finding replays with
 * `runBatch(target, seed, budget)`. Every step is timed: a step slower than `hangMs` counts as a hang;
 * a step that never returns is caught by the parent's watchdog (`fuzz-main.ts`), which kills the worker.
 */
import { Rng } from "./rng.ts";
import { TARGETS, FuzzViolation, type FuzzTarget } from "./targets.ts";

export interface Finding {
  target: string;
  seed: number;
  /** Index of the step within the batch. */
  step: number;
  kind: "crash" | "violation" | "hang";
  message: string;
}

export interface BatchResult {
  target: string;
  seed: number;
  inputs: number;
  steps: number;
  findings: Finding[];
  /** Slowest step, ms. */
  maxStepMs: number;
}

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target ${name} (have ${TARGETS.map((x) => x.name).join(", ")})`);
  return t;
}

/** Runs `budget` inputs of `target` from `seed`. Never throws for findings: they are returned. */
export function runBatch(targetName: string, seed: number, budget: number, hangMs = 1000): BatchResult {
  const target = targetByName(targetName);
  const rng = new Rng(seed);
  const ctx = target.begin(seed, budget);
  const findings: Finding[] = [];
  let inputs = 0;
  let steps = 0;
  let maxStepMs = 0;
  while (inputs < budget) {
    const t0 = performance.now();
    try {
      inputs += Math.max(1, target.step(rng, ctx));
    } catch (err) {
      inputs++;
      const violation = err instanceof FuzzViolation;
      findings.push({ target: targetName, seed, step: steps, kind: violation ? "violation" : "crash", message: err instanceof Error ? `${err.name}: ${err.message}\n${violation ? "" : err.stack}` : String(err) });
    }
    const ms = performance.now() - t0;
    if (ms > maxStepMs) maxStepMs = ms;
    if (ms > hangMs) findings.push({ target: targetName, seed, step: steps, kind: "hang", message: `step took ${ms.toFixed(0)} ms` });
    steps++;
  }
  return { target: targetName, seed, inputs, steps, findings, maxStepMs };
}

/** The batches for a run of `total` inputs: each target gets its weight's share, in batches of `batchSize`. */
export function planBatches(total: number, baseSeed: number, batchSize: number, only?: readonly string[]): Array<{ target: string; seed: number; budget: number }> {
  const targets = TARGETS.filter((t) => !only || only.includes(t.name));
  const weightSum = targets.reduce((a, t) => a + t.weight, 0);
  const out: Array<{ target: string; seed: number; budget: number }> = [];
  let seed = baseSeed >>> 0;
  for (const t of targets) {
    let left = Math.ceil((total * t.weight) / weightSum);
    while (left > 0) {
      const budget = Math.min(batchSize, left);
      out.push({ target: t.name, seed: seed++ >>> 0, budget });
      left -= budget;
    }
  }
  // Interleave targets so a partial run still covers all of them.
  const mix = (x: number) => Math.imul(x, 0x9e3779b1) >>> 0;
  return out.sort((a, b) => mix(a.seed) - mix(b.seed));
}
