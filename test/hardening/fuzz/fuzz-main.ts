/**
 * `npm run fuzz`: runs the fuzz targets over ≥ 1,000,000 inputs on worker threads and prints counts of
 * inputs, crashes, invariant violations and hangs, per target. Exit code 1 when anything was found.
 *
 *   npm run fuzz -- [--inputs N] [--seed S] [--workers W] [--targets framing,decode,session,events]
 *                   [--batch B] [--hang-ms MS] [--batch-timeout-ms MS] [--json]
 *
 * A hang is a step slower than --hang-ms (default 1000), or a batch that does not finish within
 * --batch-timeout-ms (default 120 000): the worker is then terminated and replaced. Every finding
 * names (target, seed, step) so it replays with runBatch().
 */
import { Worker } from "node:worker_threads";
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { planBatches, type BatchResult, type Finding } from "./runner.ts";
import { TARGETS } from "./targets.ts";

interface Totals {
  inputs: number;
  crashes: number;
  violations: number;
  hangs: number;
  maxStepMs: number;
}

export interface FuzzSummary {
  inputs: number;
  crashes: number;
  violations: number;
  hangs: number;
  elapsedSec: number;
  perTarget: Record<string, Totals>;
  findings: Finding[];
  seed: number;
}

const WORKER_ENTRY = new URL("./worker.mjs", import.meta.url);

export async function runFuzz(opts: { inputs: number; seed: number; workers: number; batch: number; hangMs: number; batchTimeoutMs: number; targets?: string[]; onProgress?: (done: number, total: number) => void }): Promise<FuzzSummary> {
  const batches = planBatches(opts.inputs, opts.seed, opts.batch, opts.targets);
  const totalInputs = batches.reduce((a, b) => a + b.budget, 0);
  const perTarget: Record<string, Totals> = {};
  for (const t of TARGETS) if (!opts.targets || opts.targets.includes(t.name)) perTarget[t.name] = { inputs: 0, crashes: 0, violations: 0, hangs: 0, maxStepMs: 0 };
  const findings: Finding[] = [];
  const t0 = Date.now();
  let next = 0;
  let done = 0;

  const record = (r: BatchResult) => {
    const t = perTarget[r.target];
    t.inputs += r.inputs;
    t.maxStepMs = Math.max(t.maxStepMs, r.maxStepMs);
    for (const f of r.findings) {
      if (f.kind === "crash") t.crashes++;
      else if (f.kind === "violation") t.violations++;
      else t.hangs++;
      if (findings.length < 50) findings.push(f);
    }
    done += r.inputs;
    opts.onProgress?.(done, totalInputs);
  };

  const lane = async (): Promise<void> => {
    let worker: Worker | null = null;
    let pending: { resolve: (r: BatchResult) => void; reject: (e: Error) => void } | null = null;
    const spawn = () => {
      const w = new Worker(WORKER_ENTRY);
      w.on("message", (r: BatchResult) => pending?.resolve(r));
      w.on("error", (e) => pending?.reject(e));
      w.on("exit", (code) => pending?.reject(new Error(`worker exited with code ${code}`)));
      return w;
    };
    try {
      while (next < batches.length) {
        const b = batches[next++];
        worker ??= spawn();
        const w = worker;
        let timer: NodeJS.Timeout | undefined;
        const result = await new Promise<BatchResult>((resolve, reject) => {
          pending = { resolve, reject };
          timer = setTimeout(() => reject(new Error(`batch did not finish within ${opts.batchTimeoutMs} ms`)), opts.batchTimeoutMs);
          w.postMessage({ ...b, hangMs: opts.hangMs });
        }).catch((err: Error) => {
          // A hung or dead worker: count the whole batch as one hang, replace the worker, go on.
          void w.terminate();
          worker = null;
          const kind = /did not finish/.test(err.message) ? "hang" : "crash";
          return { target: b.target, seed: b.seed, inputs: b.budget, steps: 0, maxStepMs: 0, findings: [{ target: b.target, seed: b.seed, step: -1, kind, message: err.message }] } satisfies BatchResult;
        });
        clearTimeout(timer);
        pending = null;
        record(result);
      }
    } finally {
      pending = null;
      if (worker) await (worker as Worker).terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.workers) }, () => lane()));

  const sum = (k: keyof Totals) => Object.values(perTarget).reduce((a, t) => a + (k === "maxStepMs" ? 0 : t[k]), 0);
  return { inputs: sum("inputs"), crashes: sum("crashes"), violations: sum("violations"), hangs: sum("hangs"), elapsedSec: (Date.now() - t0) / 1000, perTarget, findings, seed: opts.seed };
}

export function formatSummary(s: FuzzSummary): string {
  const lines = [`fuzz: ${s.inputs.toLocaleString("en")} inputs, ${s.crashes} crashes, ${s.violations} invariant violations, ${s.hangs} hangs in ${s.elapsedSec.toFixed(1)} s (seed ${s.seed})`];
  for (const [name, t] of Object.entries(s.perTarget)) {
    lines.push(`  ${name.padEnd(8)} ${t.inputs.toLocaleString("en").padStart(11)} inputs  ${t.crashes} crashes  ${t.violations} violations  ${t.hangs} hangs  slowest step ${t.maxStepMs.toFixed(1)} ms`);
  }
  for (const f of s.findings.slice(0, 10)) lines.push(`  ${f.kind} in ${f.target} (seed ${f.seed}, step ${f.step}): ${f.message.split("\n").slice(0, 4).join(" | ")}`);
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      inputs: { type: "string" },
      seed: { type: "string" },
      workers: { type: "string" },
      targets: { type: "string" },
      batch: { type: "string" },
      "hang-ms": { type: "string" },
      "batch-timeout-ms": { type: "string" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const opts = {
    inputs: num(values.inputs, 1_000_000),
    seed: num(values.seed, Date.now() % 0x7fffffff),
    workers: num(values.workers, Math.min(2, cpus().length)),
    batch: num(values.batch, 2000),
    hangMs: num(values["hang-ms"], 1000),
    batchTimeoutMs: num(values["batch-timeout-ms"], 120_000),
    targets: values.targets?.split(",").map((s) => s.trim()),
  };
  let lastPct = -1;
  const summary = await runFuzz({
    ...opts,
    onProgress(done, total) {
      const pct = Math.floor((done / total) * 10);
      if (pct !== lastPct && !values.json) process.stderr.write(`  ${pct * 10}% (${done.toLocaleString("en")} inputs)\n`);
      lastPct = pct;
    },
  });
  console.log(values.json ? JSON.stringify(summary) : formatSummary(summary));
  return summary.crashes + summary.violations + summary.hangs === 0 ? 0 : 1;
}
