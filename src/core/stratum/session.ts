/**
 * One miner connection's Stratum state machine. Transport-free: it receives decoded lines
 * and writes through `Transport`, so the server, tests and fuzzers drive the same code.
 * Handshake messages (configure, subscribe, authorize, suggest_difficulty, extranonce.subscribe) are
 * accepted in any order and pipelined; work starts once subscribed AND authorized, with
 * set_difficulty before the first notify (some firmware needs it first).
 */
import { decodeRequest, encodeError, encodeResult, encodeSetDifficulty, encodeNotification, Errors, type ClientRequest, type DecodeFailure } from "./messages.ts";
import { u32hex } from "../../util/hex.ts";
import { REJECT_WIRE, errorTuple } from "./errors.ts";
import { RejectReason } from "../shares/reject.ts";
import { Vardiff, type VardiffOptions } from "./vardiff.ts";
import type { MinerIdentity, AuthResult } from "./identity.ts";
import type { Job, JobLookup } from "../work/jobs.ts";
import type { CoinbaseParts, Payout } from "../work/coinbase-cache.ts";
import { validateShare, type BlockCandidate, type DuplicateFilter, type ShareContext, type ShareVerdict, type SubmitParams, type ValidatorDeps } from "../shares/validator.ts";
import { notifyLine } from "./notify-line.ts";

export interface Transport {
  readonly remoteAddress: string;
  send(data: string): void;
  close(reason: string): void;
}

export interface SessionSettings {
  extranonce2Size: number;
  /** Pool's BIP310 mask (`version_mask`). */
  poolVersionMask: number;
  startDifficulty: number;
  vardiff: VardiffOptions;
}

/** The work a session hands out and checks shares against (the engine's job registry and coinbases). */
export interface SessionWork {
  currentJob(): Job | null;
  /** A job id this connection does not hold yet on the current template (`haveJobId`: the newest it holds). */
  refreshJob(haveJobId: string | null): Job | null;
  lookupJob(jobId: string, nowMs: number): JobLookup;
  readonly duplicates: DuplicateFilter;
  coinbaseParts(job: Job, payout: Payout): CoinbaseParts;
}

/** Who a username mines for: the address check at authorize and the coinbase payout it gets. */
export interface MinerDirectory {
  authorize(username: string, password: string | null): AuthResult;
  payoutFor(identity: MinerIdentity): Payout;
}

/** The pool-wide extranonce1 space: one value per subscribed connection, returned when it closes. */
export interface Extranonce1Space {
  allocate(): Buffer;
  release(en1: Buffer): void;
}

/** What a session reports. The engine submits blocks and turns the rest into counters, events and logs. */
export interface SessionReports {
  /** A share met the network target: called at once, before the miner's reply or any accounting. */
  onBlock(candidate: BlockCandidate, session: Session): void;
  onAuthorized(session: Session): void;
  onShare(session: Session, verdict: ShareVerdict): void;
  onDifficulty(session: Session, oldDifficulty: number | null, newDifficulty: number, reason: DifficultyReason): void;
  onProtocolError(session: Session, kind: string, detail: string): void;
}

/** Why a session's difficulty changed. */
export type DifficultyReason = "vardiff" | "suggest" | "initial" | "minimum";

/** What a session needs from the pool: a clock, its settings, and four small parts a test can fake one by one. */
export interface SessionHost {
  now(): number;
  readonly settings: SessionSettings;
  readonly work: SessionWork;
  readonly miners: MinerDirectory;
  readonly extranonce: Extranonce1Space;
  readonly reports: SessionReports;
}

/** A session as plain data at one moment: what engine events carry (nothing live, nothing to call). */
export interface SessionSnapshot {
  readonly id: string;
  /** The peer's address as the socket reported it ("unknown" when the socket was already gone). */
  readonly ip: string;
  readonly connectedAtMs: number;
  readonly userAgent: string | null;
  /** The first authorized identity (the payout address), or null before authorize. */
  readonly identity: MinerIdentity | null;
  /** Empty until subscribed. */
  readonly extranonce1Hex: string;
  readonly difficulty: number;
  readonly sharesAccepted: number;
  readonly sharesRejected: number;
  /** Best share difficulty this session (0 = none yet). */
  readonly bestDifficulty: number;
}

let sessionCounter = 0;

/** Most usernames one connection may authorize (each costs an entry; proxies use a handful). */
export const MAX_AUTHORIZED_PER_CONNECTION = 64;
/**
 * Least time between two difficulty changes the miner asks for (suggest_difficulty, BIP310
 * minimum-difficulty) once work has started. Each change makes a fresh job in the shared registry
 * (kept until it expires), so an unthrottled client alternating two values could grow it without bound.
 * A change asked for sooner is acknowledged and applied by `tick()` when the interval has passed.
 */
export const CLIENT_DIFFICULTY_CHANGE_MIN_MS = 5000;

export class Session implements ShareContext {
  /** Session id (8 hex digits), as in the subscribe reply. */
  readonly id: string;
  readonly connectedAtMs: number;
  userAgent: string | null = null;
  extranonce1: Buffer = Buffer.alloc(0);
  extranonce1Hex = "";
  readonly extranonce2Size: number;
  versionMask = 0;
  /** The mask the miner asked for in mining.configure (null = never negotiated version rolling). */
  private minerVersionMask: number | null = null;
  identity: MinerIdentity | null = null;
  /** Every username authorized on this connection (a submit must name one of them). */
  private readonly authorized = new Set<string>();
  subscribed = false;
  extranonceSubscribed = false;
  difficulty: number;
  /** Difficulty in force when each job was sent here; pruned as jobs age. */
  private readonly jobDifficulty = new Map<string, number>();
  /** The newest job sent here. */
  private lastJobId: string | null = null;
  private suggested: number | null = null;
  /** A client-requested difficulty waiting for CLIENT_DIFFICULTY_CHANGE_MIN_MS to pass. */
  private pendingClientDifficulty: { difficulty: number; reason: "suggest" | "minimum" } | null = null;
  private lastClientChangeMs = -Infinity;
  /** Junk lines so far (invalid JSON, not a request, malformed params): the server bounds them per connection. */
  protocolErrorCount = 0;
  private workStarted = false;
  private closed = false;
  readonly vardiff: Vardiff;
  sharesAccepted = 0;
  sharesRejected = 0;
  /** Best share difficulty this session (resets on disconnect). */
  bestDifficulty = 0;
  lastShareMs = 0;
  private payout: Payout | null = null;

  /** Who this connection's coinbases pay and the signature they carry (fixed at authorize). */
  get payoutInUse(): Payout | null {
    return this.payout;
  }
  private readonly validatorDeps: ValidatorDeps;
  private readonly reports: SessionReports;

  constructor(
    private readonly host: SessionHost,
    readonly transport: Transport,
    opts: { startDifficulty?: number } = {},
  ) {
    sessionCounter = (sessionCounter + 1) >>> 0;
    this.id = u32hex(sessionCounter);
    this.connectedAtMs = host.now();
    this.extranonce2Size = host.settings.extranonce2Size;
    this.difficulty = opts.startDifficulty ?? host.settings.startDifficulty;
    this.vardiff = new Vardiff(host.settings.vardiff, this.connectedAtMs);
    this.difficulty = this.vardiff.clamp(this.difficulty);
    this.validatorDeps = {
      lookup: (id, now) => host.work.lookupJob(id, now),
      duplicates: host.work.duplicates,
    };
    this.reports = host.reports;
  }

  /** This session as plain data (see {@link SessionSnapshot}). */
  snapshot(): SessionSnapshot {
    return {
      id: this.id,
      ip: this.transport.remoteAddress,
      connectedAtMs: this.connectedAtMs,
      userAgent: this.userAgent,
      identity: this.identity,
      extranonce1Hex: this.extranonce1Hex,
      difficulty: this.difficulty,
      sharesAccepted: this.sharesAccepted,
      sharesRejected: this.sharesRejected,
      bestDifficulty: this.bestDifficulty,
    };
  }

  get isAuthorized(): boolean {
    return this.identity !== null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Handles one complete line from the miner. Never throws for bad input. */
  handleLine(line: string): void {
    if (this.closed) return;
    const decoded = decodeRequest(line);
    if (!decoded.ok) return this.handleFailure(decoded.failure);
    this.handle(decoded.request);
  }

  private handleFailure(f: DecodeFailure): void {
    switch (f.kind) {
      case "response":
        return; // e.g. a reply to client.get_version: nothing to do
      case "invalid_json":
        this.protocolErrorCount++;
        this.reports.onProtocolError(this, "invalid_json", "line is not JSON");
        this.transport.send(encodeError(null, Errors.invalidJson()));
        return;
      case "not_a_request":
        this.protocolErrorCount++;
        this.reports.onProtocolError(this, "not_a_request", "JSON is not a request object with a string method");
        this.transport.send(encodeError(f.id, Errors.badParams("expected {id, method, params}")));
        return;
      case "bad_params":
        this.protocolErrorCount++;
        this.reports.onProtocolError(this, "bad_params", `${f.method}: ${f.detail}`);
        if (f.method === "mining.submit") this.countReject(RejectReason.InvalidParams, f.detail);
        this.transport.send(encodeError(f.id, Errors.badParams(f.detail)));
        return;
    }
  }

  private handle(req: ClientRequest): void {
    switch (req.method) {
      case "mining.configure":
        return this.configure(req);
      case "mining.subscribe":
        return this.subscribe(req);
      case "mining.authorize":
        return this.authorize(req);
      case "mining.suggest_difficulty":
        return this.suggestDifficulty(req.id, req.difficulty);
      case "mining.extranonce.subscribe":
        this.extranonceSubscribed = true;
        this.transport.send(encodeResult(req.id, true));
        return;
      case "mining.submit":
        return this.submit(req.id, req.submit);
      case "unknown":
        this.reports.onProtocolError(this, "unknown_method", req.name);
        this.transport.send(encodeError(req.id, Errors.unknownMethod(req.name)));
        return;
    }
  }

  /** BIP310. Every requested extension gets an answer; the mask is pool ∩ miner. */
  private configure(req: Extract<ClientRequest, { method: "mining.configure" }>): void {
    // No prototype: an extension named "__proto__" must become a key like any other.
    const result: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const ext of req.extensions) {
      if (ext === "version-rolling") {
        const raw = Object.hasOwn(req.params, "version-rolling.mask") ? req.params["version-rolling.mask"] : undefined;
        // A missing mask means "ffffffff" (BIP310). A present but malformed one is refused, not guessed.
        if (raw !== undefined && (typeof raw !== "string" || !/^[0-9a-fA-F]{1,8}$/.test(raw))) {
          this.protocolErrorCount++;
          this.reports.onProtocolError(this, "bad_params", "mining.configure: version-rolling.mask must be 1-8 hex digits");
          result["version-rolling"] = false;
          continue;
        }
        const minerMask = raw === undefined ? 0xffffffff : parseInt(raw, 16) >>> 0;
        this.minerVersionMask = minerMask;
        this.versionMask = (this.host.settings.poolVersionMask & minerMask) >>> 0;
        result["version-rolling"] = true;
        result["version-rolling.mask"] = u32hex(this.versionMask);
      } else if (ext === "minimum-difficulty") {
        const v = Object.hasOwn(req.params, "minimum-difficulty.value") ? req.params["minimum-difficulty.value"] : undefined;
        if (typeof v === "number" && Number.isFinite(v) && v >= 0) {
          this.vardiff.setFloor(v);
          result["minimum-difficulty"] = true;
          if (v > 0 && this.workStarted && v > this.difficulty) this.clientDifficultyChange(this.vardiff.clamp(v), "minimum");
          else if (v > 0 && !this.workStarted) this.difficulty = this.vardiff.clamp(Math.max(this.difficulty, v));
        } else {
          result["minimum-difficulty"] = false;
        }
      } else if (ext === "subscribe-extranonce") {
        this.extranonceSubscribed = true;
        result["subscribe-extranonce"] = true;
      } else if (ext === "info") {
        result["info"] = true;
      } else {
        result[ext] = false;
      }
    }
    this.transport.send(encodeResult(req.id, result));
  }

  private subscribe(req: Extract<ClientRequest, { method: "mining.subscribe" }>): void {
    if (!this.subscribed) {
      this.extranonce1 = this.host.extranonce.allocate();
      this.extranonce1Hex = this.extranonce1.toString("hex");
      this.subscribed = true;
      this.userAgent = req.userAgent;
    }
    this.transport.send(
      encodeResult(req.id, [
        [
          ["mining.set_difficulty", this.id],
          ["mining.notify", this.id],
        ],
        this.extranonce1Hex,
        this.extranonce2Size,
      ]),
    );
    this.maybeStartWork();
  }

  private authorize(req: Extract<ClientRequest, { method: "mining.authorize" }>): void {
    const result = this.host.miners.authorize(req.username, req.password);
    if (!result.ok) {
      this.reports.onProtocolError(this, "auth_failed", result.message);
      this.transport.send(encodeError(req.id, Errors.unauthorized(result.message)));
      return;
    }
    if (!this.authorized.has(req.username) && this.authorized.size >= MAX_AUTHORIZED_PER_CONNECTION) {
      this.reports.onProtocolError(this, "auth_failed", "too many workers on one connection");
      this.transport.send(encodeError(req.id, Errors.unauthorized(`at most ${MAX_AUTHORIZED_PER_CONNECTION} workers per connection`)));
      return;
    }
    // Solo: the coinbase of this connection pays one address. A proxy multiplexing several payout
    // addresses on one connection would see a second one's blocks pay the first: refuse it clearly
    // (more worker names for the same address are fine).
    if (this.identity && result.identity.address !== this.identity.address) {
      const message = `this connection already mines for ${this.identity.address}; open another connection for ${result.identity.address}`;
      this.reports.onProtocolError(this, "auth_failed", message);
      this.transport.send(encodeError(req.id, Errors.unauthorized(message)));
      return;
    }
    this.authorized.add(req.username);
    const first = this.identity === null;
    if (first) {
      this.identity = result.identity;
      this.payout = this.host.miners.payoutFor(result.identity);
    }
    this.transport.send(encodeResult(req.id, true));
    if (first) {
      this.reports.onAuthorized(this);
      this.maybeStartWork();
    }
  }

  private suggestDifficulty(id: ClientRequest["id"], d: number): void {
    this.transport.send(encodeResult(id, true));
    // NerdMiner repeats its suggestion every 30 s as a keepalive: identical repeats are a no-op.
    if (this.suggested === d) return;
    this.suggested = d;
    this.vardiff.setFloor(d);
    const next = this.vardiff.clamp(d);
    if (!this.workStarted) {
      this.difficulty = next;
      return;
    }
    this.clientDifficultyChange(next, "suggest");
  }

  /** A difficulty the miner asked for, at most one change per CLIENT_DIFFICULTY_CHANGE_MIN_MS. */
  private clientDifficultyChange(next: number, reason: "suggest" | "minimum"): void {
    const now = this.host.now();
    if (now - this.lastClientChangeMs < CLIENT_DIFFICULTY_CHANGE_MIN_MS) {
      this.pendingClientDifficulty = { difficulty: next, reason };
      return;
    }
    this.pendingClientDifficulty = null;
    if (next === this.difficulty) return;
    this.lastClientChangeMs = now;
    this.changeDifficulty(next, reason);
  }

  private maybeStartWork(): void {
    if (this.workStarted || !this.subscribed || !this.identity) return;
    const job = this.host.work.currentJob();
    this.workStarted = true;
    this.vardiff.reset(this.host.now());
    this.transport.send(encodeSetDifficulty(this.difficulty));
    this.reports.onDifficulty(this, null, this.difficulty, "initial");
    if (job) this.sendJob(job, true);
  }

  /** Sends a job to this miner (called for its own start, on new work fan-out, and after a difficulty change). */
  sendJob(job: Job, forceClean = false): void {
    if (this.closed || !this.workStarted || !this.payout) return;
    const parts = this.host.work.coinbaseParts(job, this.payout);
    this.lastJobId = job.id;
    this.jobDifficulty.set(job.id, this.difficulty);
    if (this.jobDifficulty.size > 64) {
      // Oldest first (Map keeps insertion order); far more than any live job set.
      const drop = this.jobDifficulty.size - 64;
      let i = 0;
      for (const k of this.jobDifficulty.keys()) {
        if (i++ >= drop) break;
        this.jobDifficulty.delete(k);
      }
    }
    this.transport.send(notifyLine(job, parts.coinb1Hex, parts.coinb2Hex, forceClean || job.cleanJobs));
  }

  /** set_difficulty then a fresh job (never the same job id again: ESP-Miner#1603). */
  changeDifficulty(next: number, reason: Exclude<DifficultyReason, "initial">): void {
    const old = this.difficulty;
    if (next === old || this.closed) return;
    this.difficulty = next;
    this.vardiff.reset(this.host.now());
    this.transport.send(encodeSetDifficulty(next));
    this.reports.onDifficulty(this, old, next, reason);
    const job = this.host.work.refreshJob(this.lastJobId);
    if (job) this.sendJob(job);
  }

  /**
   * The pool's mask changed: re-negotiate with a miner that rolls versions and tell it with
   * mining.set_version_mask, which applies at once (BIP310). Miners that never configured are untouched.
   */
  updatePoolVersionMask(poolMask: number): void {
    if (this.minerVersionMask === null || this.closed) return;
    const next = (poolMask & this.minerVersionMask) >>> 0;
    if (next === this.versionMask) return;
    this.versionMask = next;
    this.transport.send(encodeNotification("mining.set_version_mask", [u32hex(next)]));
  }

  /** Periodic housekeeping from the server: vardiff for silent miners. */
  tick(nowMs: number): void {
    if (!this.workStarted || this.closed) return;
    const pending = this.pendingClientDifficulty;
    if (pending && nowMs - this.lastClientChangeMs >= CLIENT_DIFFICULTY_CHANGE_MIN_MS) {
      this.clientDifficultyChange(this.vardiff.clamp(pending.difficulty), pending.reason);
      return;
    }
    const net = this.host.work.currentJob()?.template.networkDifficulty;
    const next = this.vardiff.tick(this.difficulty, nowMs, net);
    if (next !== null) this.changeDifficulty(next, "vardiff");
  }

  // ---- ShareContext
  difficultyForJob(job: Job): number {
    return this.jobDifficulty.get(job.id) ?? this.difficulty;
  }

  coinbaseFor(job: Job): CoinbaseParts {
    return this.host.work.coinbaseParts(job, this.payout!);
  }

  private submit(id: ClientRequest["id"], p: SubmitParams): void {
    let verdict: ShareVerdict;
    if (!this.identity || !this.authorized.has(p.worker)) {
      verdict = { accepted: false, reason: RejectReason.Unauthorized, difficulty: 0, shareDifficulty: 0, block: false, job: null, detail: this.identity ? `worker '${p.worker}' not authorized on this connection` : "not authorized" };
    } else if (!this.subscribed) {
      verdict = { accepted: false, reason: RejectReason.NotSubscribed, difficulty: 0, shareDifficulty: 0, block: false, job: null, detail: "not subscribed" };
    } else {
      const now = this.host.now();
      verdict = validateShare(this.validatorDeps, this, p, now);
      this.lastShareMs = now;
      // A block goes out before the miner's reply and before any accounting (even on a stale job).
      if (verdict.candidate) this.reports.onBlock(verdict.candidate, this);
    }
    if (verdict.shareDifficulty > this.bestDifficulty && (verdict.accepted || verdict.block)) this.bestDifficulty = verdict.shareDifficulty;
    if (verdict.accepted) {
      this.sharesAccepted++;
      this.transport.send(encodeResult(id, true));
    } else {
      this.sharesRejected++;
      const wire = REJECT_WIRE[verdict.reason ?? RejectReason.Other];
      this.transport.send(encodeError(id, errorTuple(wire.code, verdict.detail ? `${wire.message}: ${verdict.detail}` : wire.message)));
    }
    this.reports.onShare(this, verdict);
    // A block below its share target is credited 0 (see ShareVerdict.difficulty): not a vardiff sample.
    if (verdict.accepted && verdict.difficulty > 0) {
      const net = verdict.job?.template.networkDifficulty;
      const next = this.vardiff.onAccepted(verdict.difficulty, this.difficulty, this.host.now(), net);
      if (next !== null) this.changeDifficulty(next, "vardiff");
    }
  }

  private countReject(reason: RejectReason, detail: string): void {
    this.sharesRejected++;
    this.reports.onShare(this, { accepted: false, reason, difficulty: 0, shareDifficulty: 0, block: false, job: null, detail });
  }

  /** Asks the miner to reconnect (on shutdown), BitAxe ignores params so none are sent. */
  sendReconnect(): void {
    if (!this.closed) this.transport.send(encodeNotification("client.reconnect", []));
  }

  /** Releases resources; the server calls it once when the socket is gone. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.subscribed) this.host.extranonce.release(this.extranonce1);
  }
}
