/**
 * `tbg bench-suite` (= `npm run bench`): runs the benchmark scripts in bench/, each in its own process (a
 * fresh heap and JIT per benchmark), shows their tables on stderr and prints one combined JSON on stdout.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "../main.ts";
import { parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";

/** Benchmark name → its script in bench/, and the arguments of a short run (`--quick`). */
export const BENCHMARKS: Record<string, { script: string; summary: string; quick: string[] }> = {
  "share-validation": { script: "share-validation.ts", summary: "share hash path in one process, 0 vs 3,000 tx", quick: ["--shares", "5000"] },
  "share-throughput": { script: "share-throughput.ts", summary: "shares/s and CPU of one pool process over TCP", quick: ["--duration", "4", "--rates", "5000"] },
  broadcast: { script: "broadcast.ts", summary: "JS cost per session of a new-block fan-out (no sockets)", quick: ["--connections", "2000", "--rounds", "3"] },
  fanout: { script: "fanout.ts", summary: "new block → notify on the last of 1,000 / 10,000 connections", quick: ["--connections", "500", "--blocks", "3"] },
  memory: { script: "memory.ts", summary: "RSS per authorized idle connection at 10,000", quick: ["--connections", "1000", "--templates", "3"] },
  "status-snapshot": { script: "status-snapshot.ts", summary: "one /api/status document at 1,000 / 10,000 / 50,000 connections", quick: ["--connections", "500", "--rounds", "3"] },
  "submit-latency": { script: "submit-latency.ts", summary: "submit round trip at 1,000 shares/s over 10,000 connections", quick: ["--connections", "1000", "--rate", "200", "--duration", "4"] },
  workers: { script: "workers.ts", summary: "shares/s, CPU per share and fan-out by worker-process count", quick: ["--runs", "1", "--duration", "4", "--rate", "3000", "--fanout-connections", "300", "--blocks", "3"] },
};

const help = `usage: tbg bench-suite [NAME...] [--quick] [--timeout S]
       tbg bench-suite compare [--quick] [--runs N] [--pools ours,ckpool,public_pool] [...]

Runs the benchmarks in bench/ (all, or the ones named), each in its own process, loopback only,
each bounded in time. Tables go to stderr; stdout gets one JSON object with every result.

benchmarks:
${Object.entries(BENCHMARKS)
  .map(([name, b]) => `  ${name.padEnd(18)} ${b.summary}`)
  .join("\n")}

options:
  --quick        small sizes (a check that everything runs, not figures to publish)
  --timeout S    longest one benchmark may run (default 600)

compare (npm run bench -- compare): this engine side by side with ckpool 0.9.9 and public-pool, built
from their source tarballs into a cache outside the repository: share cost (0 and 3,000 tx), fan-out and
submit round trip at 10,000 connections, idle RSS and RSS per connection; interleaved runs (default 3),
medians and minimums, ratios, the load average. Last line: {"bench":"compare","rows":[...]}.
  --quick                 small loads, a few seconds per measure
  --runs N                runs per pool and measure (default 3)
  --pools LIST            ours,ckpool,public_pool (default all)
  --measures LIST         share,fanout,memory,rtt (default all)
  --ckpool-tarball PATH   ckpool-0.9.9.tar.gz (default ../shared/vendor/ next to this checkout)
  --public-pool-tarball PATH   public-pool source tarball (default likewise)
  --cache-dir DIR         where they are built (default ~/.cache/tbg-bench-compare)
  --timeout S             longest one measurement may run (default 900, quick 180)

One benchmark with its own flags: node --import tsx bench/NAME.ts [FLAGS] (flags: docs/benchmarks.md).`;

const BENCH_DIR = fileURLToPath(new URL("../../../bench/", import.meta.url));

interface Outcome {
  result?: Record<string, unknown>;
  error?: string;
  seconds: number;
}

/** `bench-suite compare …`: bench/compare.ts with the rest of the arguments; its output is the command's. */
function runCompare(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${BENCH_DIR}compare.ts`, ...args], { stdio: "inherit" });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.once("SIGINT", forward);
    process.once("SIGTERM", forward);
    child.on("exit", (code) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? 1);
    });
  });
}

function runOne(name: string, args: string[], timeoutSec: number): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${BENCH_DIR}${BENCHMARKS[name].script}`, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      out += s;
      process.stderr.write(s);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSec * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith('{"bench":'));
      if (code === 0 && line) return resolve({ result: JSON.parse(line) as Record<string, unknown>, seconds });
      resolve({ error: signal ? `killed (${signal}) after ${seconds} s` : `exit code ${code}${line ? "" : ", no result line"}`, seconds });
    });
  });
}

export const command: Command = {
  summary: "run the benchmarks in bench/ and print their results as JSON (npm run bench)",
  help,
  async run(argv) {
    if (argv[0] === "compare") return runCompare(argv.slice(1));
    const names = argv.filter((a) => !a.startsWith("-") && !/^\d+$/.test(a));
    const f = parseFlags(
      argv.filter((a) => !names.includes(a)),
      { quick: { type: "boolean" }, timeout: { type: "string" } },
    );
    for (const n of names) if (!BENCHMARKS[n]) throw new UsageError(`unknown benchmark '${n}' (one of: ${Object.keys(BENCHMARKS).join(", ")})`);
    const timeoutSec = f.timeout === undefined ? 600 : Number(f.timeout);
    if (!(timeoutSec > 0)) throw new UsageError("--timeout must be a positive number of seconds");
    const selected = names.length ? names : Object.keys(BENCHMARKS);
    const results: Record<string, Record<string, unknown>> = {};
    const failures: Record<string, string> = {};
    const seconds: Record<string, number> = {};
    for (const name of selected) {
      process.stderr.write(`\n### ${name}\n`);
      const o = await runOne(name, f.quick ? BENCHMARKS[name].quick : [], timeoutSec);
      seconds[name] = o.seconds;
      if (o.result) results[name] = o.result;
      else failures[name] = o.error ?? "failed";
    }
    console.log(JSON.stringify({ suite: "tbg-bench", at: new Date().toISOString(), quick: Boolean(f.quick), seconds, results, failures }));
    return Object.keys(failures).length ? 1 : 0;
  },
};
