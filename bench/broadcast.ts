/**
 * The JavaScript cost of a new-block fan-out, without sockets: N real Sessions (handshake done through
 * handleLine) with a transport that only counts bytes, and the engine's per-session work for a new job
 * (`Session.sendJob`: coinbase halves per user and template, the notify line). This is what `bench/fanout.ts`
 * measures minus the kernel's per-socket write, so it shows the effect of a change to the notify path with
 * far less noise than a loopback run. Each round is a new template (new prevhash), as after a block.
 *
 *   node --import tsx bench/broadcast.ts [--connections 10000] [--rounds 10] [--txs 0,3000] [--json]
 */
import { loadFixture } from "../src/tools/bench-node/fixtures.ts";
import { prepareTemplate } from "../src/core/work/template.ts";
import { JobRegistry, type Job } from "../src/core/work/jobs.ts";
import { CoinbaseFactory } from "../src/core/work/coinbase-cache.ts";
import { DuplicateFilter } from "../src/core/shares/validator.ts";
import { Session, type SessionHost } from "../src/core/stratum/session.ts";
import { addressToOutputScript } from "../src/core/bitcoin/address.ts";
import { summarize } from "../src/tools/bench/stats.ts";
import { fakeBlockHash } from "../src/tools/bench-node/template-gen.ts";
import { MAINNET_ADDRESS, flags, isMain, machine, mainnetAddresses, num, numList, report, round, runMain, table } from "./support.ts";

/** One measured configuration. */
export interface BroadcastRow {
  txs: number;
  users: "distinct" | "same";
  connections: number;
  rounds: number;
  /** Per-session cost of sending a new block's job, µs (over rounds). */
  usPerSession: ReturnType<typeof summarize>;
  /** Bytes per notify line. */
  lineBytes: number;
}

function rig(txs: 0 | 3000, n: number, users: "distinct" | "same") {
  const gbt = loadFixture(txs).template;
  let nowMs = Date.now();
  const jobs = new JobRegistry({ jobExpirySec: 600, firstSeq: 1 });
  jobs.addTemplate(prepareTemplate(gbt, { seq: 0, versionMask: 0x1fffe000, source: "bench", nowMs }), nowMs);
  const coinbase = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: 0, donationScript: null });
  const addresses = users === "distinct" ? mainnetAddresses(n) : [];
  const scripts = new Map<string, Buffer>();
  let en1 = 0;
  const out = { lines: 0, bytes: 0 };
  const host: SessionHost = {
    now: () => nowMs,
    settings: { extranonce2Size: 8, poolVersionMask: 0x1fffe000, startDifficulty: 1, vardiff: { targetIntervalSec: 10, retargetShares: 16, retargetSec: 3600, minDifficulty: 1, maxDifficulty: 1 } },
    work: {
      currentJob: () => jobs.current,
      refreshJob: () => jobs.refreshJob(nowMs),
      lookupJob: (id, now) => jobs.lookup(id, now),
      duplicates: new DuplicateFilter(),
      coinbaseParts: (j, payout) => coinbase.parts(j.template, payout),
    },
    miners: {
      payoutFor: (identity) => ({ key: `${identity.payoutScript.toString("hex")}|/bench/`, script: identity.payoutScript, signature: "/bench/" }),
      authorize: (username) => {
        const address = username.split(".")[0];
        let script = scripts.get(address);
        if (!script) scripts.set(address, (script = addressToOutputScript(address, "mainnet")));
        return { ok: true, identity: { username, address, worker: "w", payoutScript: script } };
      },
    },
    extranonce: {
      allocate: () => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(++en1);
        return b;
      },
      release: () => undefined,
    },
    reports: {
      onBlock: () => undefined,
      onAuthorized: () => undefined,
      onShare: () => undefined,
      onDifficulty: () => undefined,
      onProtocolError: () => undefined,
    },
  };
  const sessions: Session[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Session(host, {
      remoteAddress: "127.0.0.1",
      send: (data) => {
        out.lines++;
        out.bytes += data.length;
      },
      close: () => undefined,
    });
    s.handleLine(`{"id":1,"method":"mining.subscribe","params":["bench"]}`);
    s.handleLine(`{"id":2,"method":"mining.authorize","params":["${users === "distinct" ? addresses[i] : MAINNET_ADDRESS}.w${i}","x"]}`);
    sessions.push(s);
  }
  let round = 0;
  /** A new block: a new template on a new prevhash, and its job. */
  const newBlockJob = (): Job => {
    round++;
    nowMs += 1000;
    const t = prepareTemplate({ ...gbt, previousblockhash: fakeBlockHash(`broadcast-${round}`), height: gbt.height + round }, { seq: round, versionMask: 0x1fffe000, source: "bench", nowMs });
    return jobs.addTemplate(t, nowMs).job;
  };
  return { sessions, newBlockJob, out };
}

function runOne(txs: 0 | 3000, n: number, rounds: number, users: "distinct" | "same"): BroadcastRow {
  const { sessions, newBlockJob, out } = rig(txs, n, users);
  const per: number[] = [];
  for (let r = -2; r < rounds; r++) {
    const job = newBlockJob();
    const before = out.bytes;
    const linesBefore = out.lines;
    const t0 = performance.now();
    for (const s of sessions) s.sendJob(job);
    const us = ((performance.now() - t0) * 1000) / n;
    if (out.lines - linesBefore !== n) throw new Error(`expected ${n} notify lines, got ${out.lines - linesBefore}`);
    if (r >= 0) per.push(us); // two warm-up rounds
    if (r === rounds - 1) return { txs, users, connections: n, rounds, usPerSession: summarize(per), lineBytes: Math.round((out.bytes - before) / n) };
  }
  throw new Error("unreachable");
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["connections", "rounds", "txs"]);
  const n = Math.max(1, Math.floor(num(f.connections, 10_000)));
  const rounds = Math.max(1, Math.floor(num(f.rounds, 10)));
  const rows: BroadcastRow[] = [];
  for (const txs of numList(f.txs, [0, 3000]) as Array<0 | 3000>) for (const users of ["distinct", "same"] as const) rows.push(runOne(txs, n, rounds, users));
  const text = table(
    ["template", "users", "sessions", "rounds", "µs/session p50", "µs/session max", "ms per fan-out (p50 × N)", "line bytes"],
    rows.map((r) => [`${r.txs} tx`, r.users, r.connections, r.rounds, r.usPerSession.p50, r.usPerSession.max, round((r.usPerSession.p50 * r.connections) / 1000, 1), r.lineBytes]),
  );
  const result = { machine: machine(), rows };
  report("broadcast", "JS cost of a new-block fan-out per session (no sockets)", text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
