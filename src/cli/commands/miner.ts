/** `tbg miner`: a small CPU Stratum miner for regtest, demos and tests. */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { PROFILE_NAMES, getProfile, type ProfileName } from "../../tools/stratum-client/profiles.ts";
import { startMiner, type MinerStats } from "../../tools/miner/miner.ts";

const help = `usage: tbg miner --url stratum+tcp://HOST:PORT --user ADDRESS[.worker] [options]

A CPU miner: worker threads hash, extranonce2 and version bits (BIP310) are rolled, a clean_jobs notify
switches work at once, and it reconnects on disconnect or client.reconnect. Prints every share (accepted,
or rejected with the pool's reason) and every block (a share meeting the network target from nbits).

options:
  --url URL                  pool, stratum+tcp://HOST:PORT (required)
  --user ADDRESS[.worker]    username (required)
  --pass P                   password (default x)
  --threads N                hashing threads (default 1; 0 hashes on the main thread)
  --profile NAME             handshake to mimic: ${PROFILE_NAMES.join("|")} (default cpuminer)
  --suggest-difficulty D     send mining.suggest_difficulty [D] after authorize
  --max-blocks N             exit after N blocks found
  --duration S               exit after S seconds
  --quiet                    print only blocks and the summary

Exits 0 when --max-blocks or --duration is reached (or on SIGINT/SIGTERM), after printing a summary.`;

function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got '${v}'`);
  return n;
}

function summary(s: MinerStats): string {
  const reasons = Object.entries(s.rejectReasons).map(([r, n]) => `${r}=${n}`).join(" ");
  return [
    `miner: stopped (${s.stopReason}) after ${s.elapsedSec.toFixed(1)} s`,
    `  hashes ${s.hashes} (${(s.hashrate / 1000).toFixed(1)} kH/s), jobs ${s.jobs}, connects ${s.connects}`,
    `  shares submitted ${s.submitted}, accepted ${s.accepted}, rejected ${s.rejected}${reasons ? ` (${reasons})` : ""}`,
    `  blocks found ${s.blocksFound}, accepted ${s.blocksAccepted}`,
  ].join("\n");
}

export const command: Command = {
  summary: "CPU Stratum miner (regtest, demos, tests)",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      url: { type: "string" },
      user: { type: "string" },
      pass: { type: "string" },
      threads: { type: "string" },
      profile: { type: "string" },
      "suggest-difficulty": { type: "string" },
      "max-blocks": { type: "string" },
      duration: { type: "string" },
      quiet: { type: "boolean" },
    });
    if (!f.url) throw new UsageError("--url is required");
    if (!f.user) throw new UsageError("--user is required");
    if (f.profile !== undefined && !getProfile(f.profile)) throw new UsageError(`unknown --profile '${f.profile}'`);
    const maxBlocks = f["max-blocks"] === undefined ? undefined : intFlag("max-blocks", f["max-blocks"], 0);
    const miner = await startMiner({
      url: f.url,
      user: f.user,
      pass: f.pass,
      threads: intFlag("threads", f.threads, 1),
      profile: f.profile as ProfileName | undefined,
      suggestDifficulty: positiveNumber("suggest-difficulty", f["suggest-difficulty"]),
      maxBlocks,
      durationSec: positiveNumber("duration", f.duration),
    });
    const quiet = Boolean(f.quiet);
    const say = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    miner.on("connected", (c) => say(`connected to ${c.host}:${c.port} en1=${c.extranonce1Hex} en2size=${c.extranonce2Size} mask=${c.versionMask.toString(16).padStart(8, "0")} handshake ${c.handshakeMs.toFixed(1)} ms`));
    miner.on("connectFailed", (e) => say(`connect failed: ${e.message}; retrying`));
    miner.on("disconnected", () => say("disconnected; reconnecting"));
    miner.on("job", (ctx) => !quiet && say(`job ${ctx.job.jobId} difficulty ${ctx.difficulty}${ctx.job.cleanJobs ? " (clean)" : ""}`));
    miner.on("share", (s) => {
      if (quiet) return;
      const verdict = s.accepted ? "accepted" : `rejected (${s.reason}${s.message ? `: ${s.message}` : ""})`;
      say(`share ${verdict} job ${s.jobId} nonce ${s.nonceHex} diff ${s.hashDifficulty.toPrecision(4)}/${s.difficulty}${s.rttMs !== undefined ? ` ${s.rttMs.toFixed(1)} ms` : ""}`);
    });
    miner.on("block", (s) => say(`BLOCK ${s.hashHex} job ${s.jobId} ${s.accepted ? "accepted" : `rejected (${s.reason}${s.message ? `: ${s.message}` : ""})`} by the pool`));
    const onSignal = () => void miner.close();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const stats = await miner.done;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    console.log(summary(stats));
    return 0;
  },
};
