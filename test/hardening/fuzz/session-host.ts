/**
 * A Session's host built from the real parts the engine uses (job registry, coinbase factory, duplicate
 * filter, extranonce allocator, address validation, share validator) but no sockets, so fuzzers and
 * unit tests drive the exact session code the server runs, with a fake clock and a recording transport.
 */
import { Session, type SessionHost, type Transport } from "../../../src/core/stratum/session.ts";
import { JobRegistry } from "../../../src/core/work/jobs.ts";
import { prepareTemplate, type GbtTemplate } from "../../../src/core/work/template.ts";
import { CoinbaseFactory, type Payout } from "../../../src/core/work/coinbase-cache.ts";
import { DuplicateFilter } from "../../../src/core/shares/validator.ts";
import { Extranonce1Allocator } from "../../../src/core/stratum/extranonce.ts";
import { addressToOutputScript } from "../../../src/core/bitcoin/address.ts";
import { splitUsername, type MinerIdentity } from "../../../src/core/stratum/identity.ts";
import { errorText } from "../../../src/util/errors.ts";

/** Start of the fake clock (2025-06-04, ms). */
export const FUZZ_EPOCH_MS = 1_749_000_000_000;
/** Pool BIP310 mask (the default `version_mask`). */
export const POOL_VERSION_MASK = 0x1fffe000;

/** A regtest-like template: bits 207fffff, so about half of all hashes are blocks (exercises that path). */
export function fuzzTemplate(curtimeSec = Math.floor(FUZZ_EPOCH_MS / 1000)): GbtTemplate {
  const tx = (i: number) => ({ txid: i.toString(16).padStart(64, "a"), data: "02000000" + "00".repeat(40 + i) });
  return {
    version: 0x20000000,
    previousblockhash: "0f".repeat(32),
    transactions: [tx(1), tx(2), tx(3)],
    coinbasevalue: 5_000_000_000,
    bits: "207fffff",
    curtime: curtimeSec,
    mintime: curtimeSec - 600,
    height: 201,
    default_witness_commitment: "6a24aa21a9ed" + "11".repeat(32),
    rules: ["segwit"],
  };
}

/** What the fake host saw, for invariants. */
export interface HostLog {
  protocolErrors: number;
  shares: number;
  accepted: number;
  blocks: number;
  difficultyChanges: number;
}

export interface FuzzHost {
  host: SessionHost;
  log: HostLog;
  /** Advances the fake clock. */
  advance(ms: number): void;
  nowMs(): number;
  /** Adopts a new template (same or a new prevhash) and returns the new job id. */
  newTemplate(newBlock: boolean): string;
  jobs: JobRegistry;
}

/** A host with the engine's parts. `settings` override the session settings (startdiff 0.001, vardiff defaults). */
export function createFuzzHost(): FuzzHost {
  let now = FUZZ_EPOCH_MS;
  let seq = 0;
  let prev = 0x0f;
  const jobs = new JobRegistry({ jobExpirySec: 600, firstSeq: 1 });
  const add = (prevByte: number) => {
    const gbt = { ...fuzzTemplate(Math.floor(now / 1000)), previousblockhash: prevByte.toString(16).padStart(2, "0").repeat(32) };
    return jobs.addTemplate(prepareTemplate(gbt, { seq: ++seq, versionMask: POOL_VERSION_MASK, source: "fuzz", nowMs: now }), now).job;
  };
  add(prev);
  const coinbase = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: 0, donationScript: null });
  const en1 = new Extranonce1Allocator(4, 7, 0);
  const log: HostLog = { protocolErrors: 0, shares: 0, accepted: 0, blocks: 0, difficultyChanges: 0 };
  const payoutFor = (identity: MinerIdentity): Payout => ({ key: identity.payoutScript.toString("hex"), script: identity.payoutScript, signature: "/fuzz/" });
  const host: SessionHost = {
    now: () => now,
    settings: {
      extranonce2Size: 8,
      poolVersionMask: POOL_VERSION_MASK,
      startDifficulty: 0.001,
      vardiff: { targetIntervalSec: 10, retargetShares: 16, retargetSec: 60, minDifficulty: 0.0001, maxDifficulty: 0 },
    },
    work: {
      currentJob: () => jobs.current,
      refreshJob: () => jobs.refreshJob(now),
      lookupJob: (id, t) => jobs.lookup(id, t),
      duplicates: new DuplicateFilter(),
      coinbaseParts: (job, payout) => coinbase.parts(job.template, payout),
    },
    miners: {
      payoutFor,
      authorize(username) {
        const { address, worker } = splitUsername(username);
        if (!address) return { ok: false, code: "ADDRESS_INVALID", message: "username must be ADDRESS[.worker]" };
        try {
          return { ok: true, identity: { username, address, worker, payoutScript: addressToOutputScript(address, "regtest") } };
        } catch (err) {
          return { ok: false, code: "ADDRESS_INVALID", message: errorText(err) };
        }
      },
    },
    extranonce: {
      allocate: () => en1.allocate(),
      release: (b) => en1.release(b),
    },
    reports: {
      onBlock: () => void log.blocks++,
      onAuthorized: () => {},
      onShare: (_s, v) => {
        log.shares++;
        if (v.accepted) log.accepted++;
      },
      onDifficulty: () => void log.difficultyChanges++,
      onProtocolError: () => void log.protocolErrors++,
    },
  };
  return {
    host,
    log,
    jobs,
    advance: (ms) => void (now += ms),
    nowMs: () => now,
    newTemplate(newBlock) {
      if (newBlock) prev = (prev + 1) & 0xff;
      return add(prev).id;
    },
  };
}

/** A transport that records what the session sends. */
export class RecordingTransport implements Transport {
  readonly sent: string[] = [];
  closedWith: string | null = null;
  constructor(readonly remoteAddress = "192.0.2.1") {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(reason: string): void {
    this.closedWith ??= reason;
  }
}

export function newSession(fh: FuzzHost, ip?: string): { session: Session; transport: RecordingTransport } {
  const transport = new RecordingTransport(ip);
  return { session: new Session(fh.host, transport), transport };
}
