/** `tbg bench`: Stratum V1 load generator against any pool. */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { PROFILE_NAMES, getProfile, type ProfileName } from "../../tools/stratum-client/profiles.ts";
import { BENCH_DEFAULTS, runBench, type BenchReport } from "../../tools/bench/bench.ts";
import type { LatencySummary } from "../../tools/bench/stats.ts";

const help = `usage: tbg bench --url stratum+tcp://HOST:PORT --connections N --duration S [options]

Opens N miner connections with a realistic handshake (configure, subscribe, authorize, suggest_difficulty,
per --profile), submits shares at the given aggregate rate, and reports: shares sent, answered,
accepted/rejected by reason, submit round trip p50/p90/p99/max, connect+handshake time and notify
messages received. Works against any Stratum V1 pool (rejections are read in the conventional
[code, message] form and in ckpool's reject-reason form).

options:
  --url URL             pool, stratum+tcp://HOST:PORT (required)
  --connections N       connections to open (required)
  --duration S          run time in seconds, ramp included (required)
  --rate R              aggregate shares per second (default connections x ${BENCH_DEFAULTS.sharesPerConnectionPerSec}; 0 = handshakes only)
  --user ADDRESS        payout address; each connection adds .b<i> (default a regtest address)
  --pass P              password (default x)
  --mode valid|invalid  valid: grind real shares (needs the pool's difficulty far below 1);
                        invalid: well-formed shares that miss the target, checked in full by the pool
                        (default ${BENCH_DEFAULTS.mode}). Shares that would be blocks are never sent.
  --profile NAME        ${PROFILE_NAMES.join("|")} (default ${BENCH_DEFAULTS.profile})
  --suggest-difficulty D  override the profile's suggest_difficulty
  --grind-threads N     valid mode: grinding threads (default 1; they compete with a pool on the same host)
  --ramp N              connections opening at once (default ${BENCH_DEFAULTS.rampConcurrency})
  --timeout MS          per-request answer timeout (default ${BENCH_DEFAULTS.requestTimeoutMs})
  --json                print one JSON line (the report) at the end instead of the table

Exits 1 when no connection completed its handshake.`;

const lat = (s: LatencySummary) =>
  s.count === 0 ? "n/a" : `p50 ${s.p50.toFixed(2)}  p90 ${s.p90.toFixed(2)}  p99 ${s.p99.toFixed(2)}  max ${s.max.toFixed(2)} ms  (n=${s.count})`;

function table(r: BenchReport): string {
  const reasons = Object.entries(r.shares.rejectReasons).map(([k, v]) => `${k}=${v}`).join(" ") || "-";
  const c = r.connections;
  return [
    `bench ${r.url} mode=${r.mode} profile=${r.profile} duration=${r.durationSec.toFixed(1)} s`,
    `connections  ready ${c.ready}/${c.requested}  connect-failed ${c.connectFailed}  handshake-failed ${c.handshakeFailed}  dropped ${c.dropped}  ramp ${c.rampMs.toFixed(0)} ms`,
    `connect      ${lat(r.connectMs)}`,
    `handshake    ${lat(r.handshakeMs)}`,
    `shares       sent ${r.shares.sent} (${r.achievedRate}/s of ${r.targetRate}/s)  answered ${r.shares.answered}  accepted ${r.shares.accepted}  rejected ${r.shares.rejected} [${reasons}]`,
    `             timeouts ${r.shares.timeouts}  unanswered ${r.shares.unanswered}  skipped-blocks ${r.shares.skippedBlocks}  grind-limited ${r.shares.grindLimited}  starved ${r.shares.starved}  valid-impossible ${r.shares.validImpossible}  verdict-mismatches ${r.shares.verdictMismatches}`,
    `submit rtt   ${lat(r.submitRttMs)}`,
    `notify       ${r.notifies} received, set_difficulty ${r.setDifficulty} (difficulty ${r.difficulty.min}..${r.difficulty.max}), new-block fan-out ${lat(r.newBlockFanoutMs)}`,
    ...(r.errors.length ? [`errors       ${r.errors.join(" | ")}`] : []),
  ].join("\n");
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number, got '${v}'`);
  return n;
}

export const command: Command = {
  summary: "Stratum load generator against any Stratum V1 pool",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      url: { type: "string" },
      connections: { type: "string" },
      duration: { type: "string" },
      rate: { type: "string" },
      user: { type: "string" },
      pass: { type: "string" },
      mode: { type: "string" },
      profile: { type: "string" },
      "suggest-difficulty": { type: "string" },
      ramp: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      "grind-threads": { type: "string" },
    });
    if (!f.url) throw new UsageError("--url is required");
    const connections = intFlag("connections", f.connections, 0);
    if (connections < 1) throw new UsageError("--connections N (N ≥ 1) is required");
    const durationSec = num("duration", f.duration);
    if (!durationSec) throw new UsageError("--duration S (S > 0) is required");
    if (f.mode !== undefined && f.mode !== "valid" && f.mode !== "invalid") throw new UsageError("--mode must be valid or invalid");
    if (f.profile !== undefined && !getProfile(f.profile)) throw new UsageError(`unknown --profile '${f.profile}'`);
    const ac = new AbortController();
    const onSignal = () => ac.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const json = Boolean(f.json);
    const report = await runBench({
      url: f.url,
      connections,
      durationSec,
      rate: num("rate", f.rate),
      user: f.user,
      pass: f.pass,
      mode: f.mode as "valid" | "invalid" | undefined,
      profile: f.profile as ProfileName | undefined,
      suggestDifficulty: num("suggest-difficulty", f["suggest-difficulty"]),
      rampConcurrency: f.ramp === undefined ? undefined : Math.max(1, intFlag("ramp", f.ramp, 1)),
      requestTimeoutMs: f.timeout === undefined ? undefined : intFlag("timeout", f.timeout, 0),
      grindThreads: f["grind-threads"] === undefined ? undefined : intFlag("grind-threads", f["grind-threads"], 1),
      signal: ac.signal,
      onProgress: json ? undefined : (p) => console.error(`  ${p.elapsedSec.toFixed(0)} s: ready ${p.ready}, sent ${p.sent}, answered ${p.answered}, accepted ${p.accepted}`),
    });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    console.log(json ? JSON.stringify(report) : table(report));
    return report.connections.ready > 0 ? 0 : 1;
  },
};
