/**
 * What one build of the status page's document costs as the pool grows: N real Sessions (handshake done
 * through handleLine, a transport that discards), each with accepted-share history in MinerStats, then
 * `buildPoolStatus` (src/app/status-snapshot.ts) with 5000 miner rows (the pool builds ONE document per
 * cache period, with the most rows any request may ask for, and slices it per request), then the JSON
 * text of the default 200-row answer. The pool builds at most one document per second however many
 * viewers poll, so the figure to watch is
 * "ms per build" against that second (it runs on the event loop that also validates shares).
 *
 *   node --import tsx bench/status-snapshot.ts [--connections 1000,10000,50000] [--rounds 10] [--json]
 */
import { loadFixture } from "../src/tools/bench-node/fixtures.ts";
import { prepareTemplate } from "../src/core/work/template.ts";
import { JobRegistry } from "../src/core/work/jobs.ts";
import { CoinbaseFactory } from "../src/core/work/coinbase-cache.ts";
import { DuplicateFilter } from "../src/core/shares/validator.ts";
import { Session, type SessionHost } from "../src/core/stratum/session.ts";
import { addressToOutputScript } from "../src/core/bitcoin/address.ts";
import { MinerStats } from "../src/core/stats/miners.ts";
import { BestDiffRecords } from "../src/app/records/best-diff.ts";
import type { Engine } from "../src/core/engine/engine.ts";
import { AddressMask, StatusTracker, buildPoolStatus } from "../src/app/status-snapshot.ts";
import { jsonResponse } from "../src/http/page.ts";
import { STATUS_LIMITS } from "../src/app/status-api.ts";
import { summarize } from "../src/tools/bench/stats.ts";
import { flags, isMain, machine, mainnetAddresses, numList, num, report, round, runMain, table } from "./support.ts";

export interface StatusSnapshotRow {
  connections: number;
  rounds: number;
  /** One buildPoolStatus (5000 rows, as the server builds it), ms. */
  buildMs: ReturnType<typeof summarize>;
  /** JSON text of it, ms. */
  jsonMs: ReturnType<typeof summarize>;
  bytes: number;
}

function rig(n: number) {
  const nowMs = Date.now();
  const gbt = loadFixture(0).template;
  const jobs = new JobRegistry({ jobExpirySec: 600, firstSeq: 1 });
  jobs.addTemplate(prepareTemplate(gbt, { seq: 0, versionMask: 0x1fffe000, source: "bench", nowMs }), nowMs);
  const coinbase = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: 0, donationScript: null });
  const addresses = mainnetAddresses(n);
  let en1 = 0;
  const host: SessionHost = {
    now: () => nowMs,
    settings: { extranonce2Size: 8, poolVersionMask: 0x1fffe000, startDifficulty: 1, vardiff: { targetIntervalSec: 10, retargetShares: 16, retargetSec: 3600, minDifficulty: 1, maxDifficulty: 1e12 } },
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
        const [address, worker] = username.split(".");
        return { ok: true, identity: { username, address, worker, payoutScript: addressToOutputScript(address, "mainnet") } };
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
  const stats = new MinerStats(nowMs - 3_600_000);
  const records = new BestDiffRecords({ now: () => nowMs });
  const sessions: Session[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Session(host, { remoteAddress: "127.0.0.1", send: () => undefined, close: () => undefined });
    s.handleLine(`{"id":1,"method":"mining.subscribe","params":["bitaxe/BM1366/v2.4.0"]}`);
    s.handleLine(`{"id":2,"method":"mining.authorize","params":["${addresses[i]}.rig${i}","x"]}`);
    s.difficulty = 1 + (i % 5000);
    s.bestDifficulty = 1000 + i;
    s.lastShareMs = nowMs - (i % 600) * 1000;
    stats.addShare(addresses[i], `rig${i}`, s.difficulty, nowMs - 30_000);
    records.observe({ user: addresses[i], worker: `rig${i}`, sessionId: s.id, shareDifficulty: 1000 + i });
    sessions.push(s);
  }
  const engine = {
    now: () => nowMs,
    startedAtMs: nowMs - 3_600_000,
    network: "mainnet",
    config: { region: "eu", instance: "bench", mode: "primary", update_interval: 30 },
    server: { sessions: () => sessions.values(), connectionCount: sessions.length },
    stats,
    jobs,
    templateSource: null,
    counters: { sharesAccepted: n, sharesRejected: 0, blocksFound: 0, blocksAccepted: 0 },
    lastBlock: null,
    bus: { on: () => undefined, off: () => undefined },
  } as unknown as Engine;
  return { engine, records };
}

function runOne(n: number, rounds: number): StatusSnapshotRow {
  const { engine, records } = rig(n);
  const tracker = new StatusTracker(engine);
  const src = { engine, tracker, records, mask: new AddressMask("short"), secrets: [] };
  const build: number[] = [];
  const json: number[] = [];
  let bytes = 0;
  for (let r = -2; r < rounds; r++) {
    const t0 = performance.now();
    const doc = buildPoolStatus(src, STATUS_LIMITS.maxMiners);
    const t1 = performance.now();
    bytes = jsonResponse({ ...doc, miners: { total: doc.miners.total, rows: doc.miners.rows.slice(0, STATUS_LIMITS.miners) } }).body.length;
    const t2 = performance.now();
    if (doc.miners.total !== n || doc.miners.rows.length !== Math.min(STATUS_LIMITS.maxMiners, n)) throw new Error("wrong document");
    if (r >= 0) {
      build.push(t1 - t0);
      json.push(t2 - t1);
    }
  }
  return { connections: n, rounds, buildMs: summarize(build), jsonMs: summarize(json), bytes };
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["connections", "rounds"]);
  const rounds = Math.max(1, Math.floor(num(f.rounds, 10)));
  const rows = numList(f.connections, [1_000, 10_000, 50_000]).map((n) => runOne(Math.max(1, Math.floor(n)), rounds));
  const text = table(
    ["connections", "rounds", "build ms p50", "build ms max", "JSON ms p50", "bytes", "share of 1 s (p50)"],
    rows.map((r) => [r.connections, r.rounds, r.buildMs.p50, r.buildMs.max, r.jsonMs.p50, r.bytes, `${round(((r.buildMs.p50 + r.jsonMs.p50) / 1000) * 100, 2)} %`]),
  );
  const result = { machine: machine(), rows };
  report("status-snapshot", "one /api/status document (built with 5000 miner rows, 200-row JSON) by pool size", text, result);
  return result;
}

if (isMain(import.meta.url)) runMain(main);
