/**
 * Best share difficulty per user in three scopes (SPEC §5; seed 001 "Difficulty tracking"):
 * - `session`: per connection, forgotten when it disconnects ({@link BestDiffRecords.endSession});
 * - `week`: the ISO week, resetting at Monday 00:00 UTC (see ./iso-week.ts);
 * - `alltime`: never resets; persisted, loaded at start, written when beaten.
 * The week record is persisted too, so a restart mid-week does not hand every user a new
 * weekly record on their next share.
 *
 * {@link BestDiffRecords.observe} runs on the share path: it compares numbers in memory and, for a
 * beaten persistent record, queues one line for the log (./record-log.ts), which is written in the
 * background. Only accepted shares and blocks may be passed in (the caller decides).
 */
import { join } from "node:path";
import { isoWeekOf, type IsoWeek } from "./iso-week.ts";
import { topK } from "../util/top-k.ts";
import { RecordLog, type RecordEntry, type RecordLogStats, type RecordStoreError } from "./record-log.ts";

/** Scope of a record; the same names as `share_best_diff.scope`. */
export type RecordScope = "session" | "week" | "alltime";

/** A record that a share just beat. */
export interface BeatenRecord {
  scope: RecordScope;
  user: string;
  worker: string;
  /** The previous record in this scope, or null when there was none (new session, new week, new user). */
  oldBest: number | null;
  newBest: number;
  /** ISO week key (`"2026-W47"`) for `week` records; absent otherwise. */
  week?: string;
}

/** One accepted share (or block) offered to the records. */
export interface RecordShare {
  user: string;
  worker: string;
  /** Session id: the session scope is per connection. */
  sessionId: string;
  /** Difficulty the share's hash meets. */
  shareDifficulty: number;
}

/** The subset of {@link RecordLog} the records use (swap in a fake to test failures). */
export interface RecordStore {
  load(): Promise<RecordEntry[]>;
  compact(): Promise<void>;
  append(entry: RecordEntry): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): RecordLogStats;
}

/** File name of the log under `data_dir`. */
export const RECORDS_FILE = "best-difficulty.jsonl";

/** Options of {@link BestDiffRecords}. */
export interface BestDiffRecordsOptions {
  /** `data_dir`: the log is `${dataDir}/best-difficulty.jsonl`. Ignored when `store` is given. */
  dataDir?: string;
  /** Build the store yourself (tests); `snapshot` yields every live persistent record. */
  store?: (snapshot: () => Iterable<RecordEntry>) => RecordStore;
  /** Wall clock, ms since the epoch (decides the ISO week). Default Date.now. */
  now?: () => number;
  /** Background write failures (the records keep working in memory and retry). */
  onError?: (err: RecordStoreError) => void;
  /** Passed to the default store: batch window for appends. */
  flushDelayMs?: number;
}

interface UserRecord {
  alltime: number;
  alltimeWorker: string;
  alltimeAtMs: number;
  /** ISO week of `week`, null when never set. */
  weekKey: string | null;
  week: number;
  weekWorker: string;
  weekAtMs: number;
}

const NONE: readonly BeatenRecord[] = Object.freeze([]);

/** Session, weekly and all-time best difficulties; see the module comment. */
export class BestDiffRecords {
  private readonly users = new Map<string, UserRecord>();
  private readonly sessions = new Map<string, number>();
  private readonly now: () => number;
  private readonly store: RecordStore | null;
  /** The ISO week of the last observation, recomputed only when the clock leaves it. */
  private currentWeek: IsoWeek;
  private started = false;

  constructor(opts: BestDiffRecordsOptions = {}) {
    this.now = opts.now ?? Date.now;
    const snapshot = () => this.persistentEntries();
    if (opts.store) this.store = opts.store(snapshot);
    else if (opts.dataDir !== undefined) {
      this.store = new RecordLog({ path: join(opts.dataDir, RECORDS_FILE), snapshot, onError: opts.onError, flushDelayMs: opts.flushDelayMs });
    } else this.store = null;
    this.currentWeek = isoWeekOf(this.now());
  }

  /** Load the persisted records (all-time, and this week's), then compact the log. Throws RECORDS_STORE if unreadable. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.store) return;
    const week = this.weekAt(this.now());
    for (const e of await this.store.load()) {
      const u = this.user(e.user);
      if (e.scope === "alltime") {
        if (e.difficulty > u.alltime) Object.assign(u, { alltime: e.difficulty, alltimeWorker: e.worker, alltimeAtMs: e.at_ms });
      } else if (e.week === week.key && (u.weekKey !== week.key || e.difficulty > u.week)) {
        Object.assign(u, { weekKey: e.week, week: e.difficulty, weekWorker: e.worker, weekAtMs: e.at_ms });
      }
    }
    await this.store.compact();
  }

  /**
   * Offer one accepted share (or block). Returns the records it beat, in the order session, week,
   * all-time (empty when none). Never throws; never waits.
   */
  observe(share: RecordShare): readonly BeatenRecord[] {
    const d = share.shareDifficulty;
    if (!(d > 0) || !Number.isFinite(d)) return NONE;
    let out: BeatenRecord[] | null = null;
    const { user, worker } = share;

    const sessionOld = this.sessions.get(share.sessionId);
    if (sessionOld === undefined || d > sessionOld) {
      this.sessions.set(share.sessionId, d);
      (out ??= []).push({ scope: "session", user, worker, oldBest: sessionOld ?? null, newBest: d });
    }

    const nowMs = this.now();
    const week = this.weekAt(nowMs);
    const u = this.user(user);
    const weekOld = u.weekKey === week.key ? u.week : null;
    if (weekOld === null || d > weekOld) {
      u.weekKey = week.key;
      u.week = d;
      u.weekWorker = worker;
      u.weekAtMs = nowMs;
      this.store?.append({ scope: "week", user, worker, difficulty: d, at_ms: nowMs, week: week.key });
      (out ??= []).push({ scope: "week", user, worker, oldBest: weekOld, newBest: d, week: week.key });
    }

    if (d > u.alltime) {
      const alltimeOld = u.alltime > 0 ? u.alltime : null;
      u.alltime = d;
      u.alltimeWorker = worker;
      u.alltimeAtMs = nowMs;
      this.store?.append({ scope: "alltime", user, worker, difficulty: d, at_ms: nowMs });
      (out ??= []).push({ scope: "alltime", user, worker, oldBest: alltimeOld, newBest: d });
    }
    return out ?? NONE;
  }

  /** The connection ended: forget its session record. Returns it (null when it had no accepted share). */
  endSession(sessionId: string): number | null {
    const best = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    return best ?? null;
  }

  /** Best difficulty of a live session, or null. */
  sessionBest(sessionId: string): number | null {
    return this.sessions.get(sessionId) ?? null;
  }

  /** The user's best this ISO week (by the injected clock), or null. */
  weekBest(user: string): { week: string; difficulty: number; worker: string; atMs: number } | null {
    const u = this.users.get(user);
    const week = this.weekAt(this.now());
    if (!u || u.weekKey !== week.key) return null;
    return { week: week.key, difficulty: u.week, worker: u.weekWorker, atMs: u.weekAtMs };
  }

  /** The user's all-time best, or null. */
  alltimeBest(user: string): { difficulty: number; worker: string; atMs: number } | null {
    const u = this.users.get(user);
    if (!u || u.alltime <= 0) return null;
    return { difficulty: u.alltime, worker: u.alltimeWorker, atMs: u.alltimeAtMs };
  }

  /**
   * The `limit` best users this ISO week or of all time, best first (a leaderboard). O(users) per call:
   * meant for a status page polled every few seconds, not for the share path.
   */
  top(scope: "week" | "alltime", limit: number): Array<{ user: string; worker: string; difficulty: number; atMs: number }> {
    const week = this.weekAt(this.now());
    const value = (u: UserRecord) => (scope === "alltime" ? u.alltime : u.weekKey === week.key ? u.week : 0);
    // Ties at the cut: the user seen first; among the rows kept, equal records in the order they were set.
    const best = topK(this.users.entries(), limit, ([, u]) => value(u));
    return best
      .filter(([, u]) => value(u) > 0)
      .map(([user, u]) => (scope === "alltime" ? { user, worker: u.alltimeWorker, difficulty: u.alltime, atMs: u.alltimeAtMs } : { user, worker: u.weekWorker, difficulty: u.week, atMs: u.weekAtMs }))
      .sort((a, b) => b.difficulty - a.difficulty || a.atMs - b.atMs);
  }

  /** The current ISO week key (`"2026-W47"`). */
  get weekKey(): string {
    return this.weekAt(this.now()).key;
  }

  /** Users with a record; live sessions with one. */
  get size(): { users: number; sessions: number } {
    return { users: this.users.size, sessions: this.sessions.size };
  }

  /** Persistence counters (null without a store). */
  storeStats(): RecordLogStats | null {
    return this.store?.stats() ?? null;
  }

  /** Write pending records now. */
  async flush(): Promise<void> {
    await this.store?.flush();
  }

  /** Flush and close the store. Observations after close still work in memory. */
  async close(): Promise<void> {
    await this.store?.close();
  }

  private weekAt(nowMs: number): IsoWeek {
    if (nowMs < this.currentWeek.startMs || nowMs >= this.currentWeek.endMs) this.currentWeek = isoWeekOf(nowMs);
    return this.currentWeek;
  }

  private user(address: string): UserRecord {
    let u = this.users.get(address);
    if (!u) {
      u = { alltime: 0, alltimeWorker: "", alltimeAtMs: 0, weekKey: null, week: 0, weekWorker: "", weekAtMs: 0 };
      this.users.set(address, u);
    }
    return u;
  }

  /** Every record worth keeping on disk: all-time ones, and week ones of the current week. */
  private *persistentEntries(): Iterable<RecordEntry> {
    const week = this.weekAt(this.now());
    for (const [user, u] of this.users) {
      if (u.alltime > 0) yield { scope: "alltime", user, worker: u.alltimeWorker, difficulty: u.alltime, at_ms: u.alltimeAtMs };
      if (u.weekKey === week.key) yield { scope: "week", user, worker: u.weekWorker, difficulty: u.week, at_ms: u.weekAtMs, week: u.weekKey };
    }
  }
}
