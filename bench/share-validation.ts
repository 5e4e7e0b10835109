/**
 * The share hash path in one process, no sockets: how many shares one core validates per second, and what
 * each costs, on the recorded 0-tx and 3,000-tx templates (bench/fixtures). The per-share cost must not
 * depend on the transaction count: the merkle branch is computed once per template, so a
 * 3,000-tx share costs 12 more double-SHA256 of 64 bytes (the branch levels), nothing per transaction.
 *
 * Rows, each on a real Session (handshake done through handleLine, so the context is what a connection has):
 *   validateShare / rejected  the validator alone; the share is hashed in full and fails the difficulty
 *   validateShare / accepted  the same for shares that meet it (duplicate filter records them)
 *   handleLine / rejected     the whole line: JSON decode, validation, reply encode, the share hook
 *   handleLine / accepted
 * plus a few components (ns per call) that explain the totals.
 *
 *   node --import tsx bench/share-validation.ts [--txs 0,3000] [--shares 40000] [--json]
 */
import { createHash, hash as oneShotHash } from "node:crypto";
import { loadFixture } from "../src/tools/bench-node/fixtures.ts";
import { prepareTemplate, type TemplateWork } from "../src/core/work/template.ts";
import { JobRegistry, type Job } from "../src/core/work/jobs.ts";
import { CoinbaseFactory } from "../src/core/work/coinbase-cache.ts";
import { DuplicateFilter, validateShare, type ValidatorDeps } from "../src/core/shares/validator.ts";
import { Session, type SessionHost } from "../src/core/stratum/session.ts";
import { decodeRequest, encodeError } from "../src/core/stratum/messages.ts";
import type { SubmitParams } from "../src/core/shares/validator.ts";
import { u32hex } from "../src/util/hex.ts";
import { errorTuple } from "../src/core/stratum/errors.ts";
import { addressToOutputScript } from "../src/core/bitcoin/address.ts";
import { merkleRootFromBranch } from "../src/core/bitcoin/merkle.ts";
import { sha256d } from "../src/core/bitcoin/hash.ts";
import { concatBranch, jsShareHash, nativeShareHash, shareHashImpl } from "../src/core/bitcoin/share-hash.ts";
import { MAINNET_ADDRESS, flags, isMain, machine, numList, num, report, round, runMain, table } from "./support.ts";

const VERSION_MASK = 0x1fffe000;
const WORKER = `${MAINNET_ADDRESS}.bench`;

/** One measured row. */
export interface ValidationRow {
  txs: number;
  path: "validateShare" | "handleLine";
  outcome: "rejected" | "accepted";
  shares: number;
  sharesPerSec: number;
  usPerShare: number;
  cpuUsPerShare: number;
}

interface Rig {
  session: Session;
  deps: ValidatorDeps;
  job: Job;
  replies: { n: number; bytes: number };
}

/** A session on `template`, handshake done, judging shares at `difficulty` (pinned: vardiff cannot move it). */
function rig(template: TemplateWork, difficulty: number): Rig {
  // Frozen clock: every job on the template gets the same ntime, so shares sorted on one rig fit another.
  const nowMs = template.receivedAtMs;
  const jobs = new JobRegistry({ jobExpirySec: 600, firstSeq: 1 });
  const { job } = jobs.addTemplate(template, nowMs);
  const coinbase = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: 0, donationScript: null });
  const duplicates = new DuplicateFilter();
  const replies = { n: 0, bytes: 0 };
  const host: SessionHost = {
    now: () => nowMs,
    settings: {
      extranonce2Size: 8,
      poolVersionMask: VERSION_MASK,
      startDifficulty: difficulty,
      vardiff: { targetIntervalSec: 10, retargetShares: 16, retargetSec: 60, minDifficulty: difficulty, maxDifficulty: difficulty },
    },
    work: {
      currentJob: () => jobs.current,
      refreshJob: () => jobs.refreshJob(nowMs),
      lookupJob: (id, now) => jobs.lookup(id, now),
      duplicates,
      coinbaseParts: (j, payout) => coinbase.parts(j.template, payout),
    },
    miners: {
      payoutFor: (identity) => ({ key: `${identity.payoutScript.toString("hex")}|/bench/`, script: identity.payoutScript, signature: "/bench/" }),
      authorize: (username) => ({ ok: true, identity: { username, address: MAINNET_ADDRESS, worker: "bench", payoutScript: addressToOutputScript(MAINNET_ADDRESS, "mainnet") } }),
    },
    extranonce: {
      // The same extranonce1 for every rig, so shares sorted out on one rig mean the same on another.
      allocate: () => Buffer.from("01020304", "hex"),
      release: () => undefined,
    },
    reports: {
      onBlock: () => {
        throw new Error("a benchmark share met the network target (fixture bits must be mainnet-like)");
      },
      onAuthorized: () => undefined,
      onShare: () => undefined,
      onDifficulty: () => undefined,
      onProtocolError: (_s, kind, detail) => {
        throw new Error(`protocol error during the bench: ${kind} ${detail}`);
      },
    },
  };
  const session = new Session(host, {
    remoteAddress: "127.0.0.1",
    send: (data) => {
      replies.n++;
      replies.bytes += data.length;
    },
    close: () => undefined,
  });
  session.handleLine(JSON.stringify({ id: 1, method: "mining.configure", params: [["version-rolling"], { "version-rolling.mask": "ffffffff" }] }));
  session.handleLine(JSON.stringify({ id: 2, method: "mining.subscribe", params: ["bench/1.0"] }));
  session.handleLine(JSON.stringify({ id: 3, method: "mining.authorize", params: [WORKER, "x"] }));
  if (!session.isAuthorized || session.versionMask !== VERSION_MASK) throw new Error("bench session handshake failed");
  const deps: ValidatorDeps = { lookup: (id, now) => jobs.lookup(id, now), duplicates };
  return { session, deps, job, replies };
}

/** Distinct shares for `job` (fresh extranonce2 every 16 nonces, rolled version bits): none is a duplicate. */
function makeShares(job: Job, count: number, seed: number): SubmitParams[] {
  const out: SubmitParams[] = [];
  let x = seed >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  for (let i = 0; i < count; i++) {
    const en2 = (BigInt(seed) * 1_000_000_000n + BigInt(i >> 4)).toString(16).padStart(16, "0");
    out.push({ worker: WORKER, jobId: job.id, extranonce2Hex: en2, ntimeHex: job.ntimeHex, nonceHex: u32hex(rnd()), versionBitsHex: u32hex((rnd() & VERSION_MASK) >>> 0) });
  }
  return out;
}

const submitLine = (p: SubmitParams, id: number) =>
  JSON.stringify({ id, method: "mining.submit", params: [p.worker, p.jobId, p.extranonce2Hex, p.ntimeHex, p.nonceHex, p.versionBitsHex] });

function measure(n: number, body: (i: number) => void): { wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) body(i);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

/** Validates `count` shares per row on the template with `txs` transactions. */
function benchTemplate(txs: 0 | 3000, count: number): { rows: ValidationRow[]; branchLength: number } {
  const template = prepareTemplate(loadFixture(txs).template, { seq: 1, versionMask: VERSION_MASK, source: "bench", nowMs: Date.now() });
  const rows: ValidationRow[] = [];
  // Shares meeting difficulty 1e-9 (about 1 in 4): sorted out on a scratch rig, then timed on a fresh one.
  const sorter = rig(template, 1e-9);
  const acceptedShares = makeShares(sorter.job, count * 5, 7)
    .filter((p) => validateShare(sorter.deps, sorter.session, p, template.receivedAtMs).accepted)
    .slice(0, count);
  if (acceptedShares.length < count) throw new Error(`only ${acceptedShares.length} shares meet difficulty 1e-9`);

  for (const path of ["validateShare", "handleLine"] as const) {
    for (const outcome of ["rejected", "accepted"] as const) {
      // Best of three fresh rigs: the first pass of a row also pays for JIT tiering and GC of the last row.
      const runs: Array<{ wallMs: number; cpuMs: number }> = [];
      for (let run = 0; run < 3; run++) {
        const r = rig(template, outcome === "accepted" ? 1e-9 : 1);
        const shares = outcome === "accepted" ? acceptedShares : makeShares(r.job, count, 11 + run);
        const nowMs = template.receivedAtMs;
        let ok = 0;
        let m: { wallMs: number; cpuMs: number };
        if (path === "validateShare") {
          m = measure(count, (i) => void (validateShare(r.deps, r.session, shares[i], nowMs).accepted && ok++));
        } else {
          const lines = shares.map((p, i) => submitLine(p, i + 10));
          const repliesBefore = r.replies.n;
          m = measure(count, (i) => r.session.handleLine(lines[i]));
          ok = r.session.sharesAccepted;
          if (r.replies.n - repliesBefore !== count) throw new Error(`${path}/${outcome}: ${r.replies.n - repliesBefore} replies for ${count} shares`);
        }
        const want = outcome === "accepted" ? count : 0;
        if (ok !== want) throw new Error(`${path}/${outcome}: ${ok} accepted, expected ${want}`);
        runs.push(m);
      }
      const m = runs.sort((a, b) => a.wallMs - b.wallMs)[0];
      rows.push({ txs, path, outcome, shares: count, sharesPerSec: Math.round((count * 1000) / m.wallMs), usPerShare: round((m.wallMs * 1000) / count, 2), cpuUsPerShare: round((m.cpuMs * 1000) / count, 2) });
    }
  }
  return { rows, branchLength: template.merkleBranchLE.length };
}

/** One share's whole hash (coinbase, branch, header) with 0 and 12 branch levels, JavaScript and native. */
function shareHashCases(): Array<[string, () => unknown]> {
  const coinb1 = Buffer.alloc(100, 1);
  const coinb2 = Buffer.alloc(120, 2);
  const en1 = Buffer.alloc(4, 3);
  const en2 = Buffer.alloc(8, 4);
  const header = Buffer.alloc(80, 5);
  const out = Buffer.alloc(32);
  const cases: Array<[string, () => unknown]> = [];
  for (const levels of [0, 12]) {
    const branch = concatBranch(Array.from({ length: levels }, (_, i) => Buffer.alloc(32, i)));
    cases.push([`share hash, ${levels}-level branch, JavaScript (TBG_NATIVE=0)`, () => jsShareHash(coinb1, en1, en2, coinb2, branch, header, out)]);
    if (nativeShareHash) cases.push([`share hash, ${levels}-level branch, native (${nativeShareHash.impl})`, () => nativeShareHash!.shareHash(coinb1, en1, en2, coinb2, branch, header, out)]);
  }
  return cases;
}

/** ns per call of the pieces a share is made of. */
function components(): Array<{ name: string; nsPerCall: number }> {
  const header = Buffer.alloc(80, 7);
  const branch = Array.from({ length: 12 }, (_, i) => Buffer.alloc(32, i));
  const coinbaseTxid = Buffer.alloc(32, 9);
  const line = submitLine({ worker: WORKER, jobId: "1a2b3c4d", extranonce2Hex: "0000000000000001", ntimeHex: "68400000", nonceHex: "12345678", versionBitsHex: "00002000" }, 42);
  const err = errorTuple(23, "Low difficulty share: share difficulty 0.000123 below 1");
  const n = 200_000;
  const cases: Array<[string, () => unknown]> = [
    ["sha256d(80 B), crypto.hash (engine)", () => sha256d(header)],
    ["sha256d(80 B), createHash", () => createHash("sha256").update(createHash("sha256").update(header).digest()).digest()],
    ["sha256(80 B), crypto.hash one call", () => oneShotHash("sha256", header, "buffer")],
    [
      "merkle branch 12 levels, crypto.hash per node",
      () => {
        let root: Buffer = coinbaseTxid;
        const pair = Buffer.allocUnsafe(64);
        for (const node of branch) {
          root.copy(pair, 0);
          node.copy(pair, 32);
          root = sha256d(pair);
        }
        return root;
      },
    ],
    ["merkle branch 12 levels, sha256dPair (engine: merkleRootFromBranch)", () => merkleRootFromBranch(coinbaseTxid, branch)],
    ...shareHashCases(),
    ["decodeRequest(submit line)", () => decodeRequest(line)],
    ["encodeError(low difficulty)", () => encodeError(42, err)],
  ];
  return cases.map(([name, f]) => {
    for (let i = 0; i < 20_000; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return { name, nsPerCall: Math.round(((performance.now() - t0) * 1e6) / n) };
  });
}

/** Runs the benchmark; prints a table and the JSON line; resolves to the result object. */
export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["txs", "shares"]);
  const txsList = numList(f.txs, [0, 3000]) as Array<0 | 3000>;
  const count = Math.max(1000, Math.floor(num(f.shares, 40_000)));
  const rows: ValidationRow[] = [];
  const branches: Record<string, number> = {};
  for (const txs of txsList) {
    if (txs !== 0 && txs !== 3000) throw new Error("--txs takes 0 and/or 3000 (the recorded fixtures)");
    const r = benchTemplate(txs, count);
    rows.push(...r.rows);
    branches[txs] = r.branchLength;
  }
  const comps = components();
  const text = [
    table(
      ["template", "path", "outcome", "shares", "shares/s", "µs/share", "CPU µs/share"],
      rows.map((r) => [`${r.txs} tx (branch ${branches[r.txs]})`, r.path, r.outcome, r.shares, r.sharesPerSec, r.usPerShare, r.cpuUsPerShare]),
    ),
    "",
    table(["component", "ns/call"], comps.map((c) => [c.name, c.nsPerCall])),
  ].join("\n");
  const result = { machine: machine(), shareHash: shareHashImpl, merkleBranchLength: branches, rows, components: comps };
  report("share-validation", "the share hash path in one process (one core, no sockets)", text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
