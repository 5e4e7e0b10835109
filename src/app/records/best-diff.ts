/**
 * Best share difficulty per user in three scopes:
 * - `session`: per connection, forgotten when it disconnects ({@link BestDiffRecords.endSession});
 * - `week`: the ISO week, resetting at Monday 00:00 UTC (see ./iso-week.ts);
 * - `alltime`: never resets; persisted, loaded at start, written when beaten.
 * The week record is persisted too, so a restart mid-week does not hand every user a new
 * weekly record on their next share.
 *
 * {@link BestDiffRecords.observe} runs on the share path: it compares numbers in memory and, for a
 * beaten persistent record, queues one line for the log (./record-log.ts), which is written in the
 * background. Only accepted shares and blocks may be passed in (the caller decides).
 *
 * Memory is bounded: at most `maxUsers` users are kept in memory (424–694 bytes each, plus ~21 bytes per evicted user for the evicted-user filter), the least
 * recently active evicted past it; their records stay on disk (compaction folds the file in once
 * anyone was evicted). A user who comes back is read from the file in the background (one read for
 * every user waiting); meanwhile their shares are remembered as a pending best, and records they beat
 * are reported late through `onLateRecords`. Without a store nothing is evicted.
 */
import { join } from "node:path";
import { isoWeekOf, type IsoWeek } from "./iso-week.ts";
import { topK } from "../../util/top-k.ts";
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
  /** Records of these users from disk (needed once users are evicted); absent = never evict. */
  lookup?(users: ReadonlySet<string>): Promise<RecordEntry[]>;
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
  /** Passed to the default store: retry period after a failed write. */
  retryDelayMs?: number;
  /** Most users kept in memory; the least recently active are evicted past it (kept on disk). Default 500 000. */
  maxUsers?: number;
  /** Records beaten by a returning evicted user's shares, known once their records were read back. */
  onLateRecords?: (beaten: BeatenRecord[]) => void;
  /** Least time between two read-backs of evicted users (each reads the whole file). Default 250 ms. */
  readBackGapMs?: number;
  /** Wait before retrying a read-back that failed (the users stay queued). Default 5 000 ms. */
  readBackRetryMs?: number;
}

/** 32-bit FNV-1a of a string: the evicted-user filter stores these (a collision only costs one extra read). */
export function shortHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0; // a signed 32-bit integer: a small integer in V8, no heap number per entry
}

/** Default of {@link BestDiffRecordsOptions.maxUsers}: 210–350 MB of records at 424–694 bytes a user. */
export const MAX_USERS_IN_MEMORY = 500_000;

interface UserRecord {
  alltime: number;
  alltimeWorker: string;
  alltimeAtMs: number;
  /** ISO week of `week`, null when never set. */
  weekKey: string | null;
  week: number;
  weekWorker: string;
  weekAtMs: number;
  /** Set while the user's records are being read back from disk: the best share seen meanwhile. */
  loading?: { difficulty: number; worker: string; atMs: number } | null;
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
  private readonly maxUsers: number;
  /** Some users' records are on disk only. */
  private cold = false;
  /**
   * Short hashes of every user ever evicted: a user not in it has nothing on disk, so their share
   * needs no read-back (a brand-new address costs no file read). Numbers in a Set: ~20 bytes a user.
   */
  private readonly evictedHashes = new Set<number>();
  private readonly readBackGapMs: number;
  private readonly readBackRetryMs: number;
  private lastReadBackMs = -Infinity;
  private readBacks = 0;
  private readBackErrors = 0;
  private evictions = 0;
  /** Users waiting for the next read-back, and whether one is running. */
  private toLoad = new Set<string>();
  private loadingNow = false;
  private readonly onLate: ((beaten: BeatenRecord[]) => void) | undefined;

  constructor(opts: BestDiffRecordsOptions = {}) {
    this.now = opts.now ?? Date.now;
    const snapshot = () => this.persistentEntries();
    if (opts.store) this.store = opts.store(snapshot);
    else if (opts.dataDir !== undefined) {
      this.store = new RecordLog({
        path: join(opts.dataDir, RECORDS_FILE), snapshot, onError: opts.onError, flushDelayMs: opts.flushDelayMs, retryDelayMs: opts.retryDelayMs,
        mergeFile: () => this.cold,
        keep: (e) => e.scope === "alltime" || e.week === this.weekAt(this.now()).key,
      });
    } else this.store = null;
    this.maxUsers = this.store?.lookup ? Math.max(1, opts.maxUsers ?? MAX_USERS_IN_MEMORY) : Infinity;
    this.onLate = opts.onLateRecords;
    this.readBackGapMs = opts.readBackGapMs ?? 250;
    this.readBackRetryMs = opts.readBackRetryMs ?? 5000;
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
    // More users on disk than fit: keep the most recently active in memory.
    if (this.users.size > this.maxUsers) {
      const byActivity = [...this.users].sort((a, b) => Math.max(a[1].alltimeAtMs, a[1].weekAtMs) - Math.max(b[1].alltimeAtMs, b[1].weekAtMs));
      for (const [user] of byActivity.slice(0, this.users.size - this.maxUsers)) this.evict(user);
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
    let u = this.users.get(user);
    if (u) {
      // Most recently active last: eviction takes the first.
      this.users.delete(user);
      this.users.set(user, u);
    } else if (this.cold && this.evictedHashes.has(shortHash(user))) {
      // Perhaps evicted: read their records back before deciding what this share beats.
      u = this.user(user);
      u.loading = { difficulty: d, worker, atMs: nowMs };
      this.scheduleLoad(user);
      return out ?? NONE;
    } else u = this.user(user);
    if (u.loading) {
      if (d > u.loading.difficulty) u.loading = { difficulty: d, worker, atMs: nowMs };
      return out ?? NONE;
    }
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
    // Ties (at the cut too): the record set first wins. Not the map's order: recent activity moves a
    // user to the end of it (least recently active users are evicted first).
    const setAt = (u: UserRecord) => (scope === "alltime" ? u.alltimeAtMs : u.weekAtMs);
    const best = topK(this.users.entries(), limit, ([, u]) => value(u), ([, u]) => -setAt(u));
    return best
      .filter(([, u]) => value(u) > 0)
      .map(([user, u]) => (scope === "alltime" ? { user, worker: u.alltimeWorker, difficulty: u.alltime, atMs: u.alltimeAtMs } : { user, worker: u.weekWorker, difficulty: u.week, atMs: u.weekAtMs }))
      .sort((a, b) => b.difficulty - a.difficulty || a.atMs - b.atMs);
  }

  /** The current ISO week key (`"2026-W47"`). */
  get weekKey(): string {
    return this.weekAt(this.now()).key;
  }

  /** Users with a record in memory; live sessions with one; users evicted so far (still on disk). */
  get size(): { users: number; sessions: number; evicted: number; readBacks: number; readBackErrors: number } {
    return { users: this.users.size, sessions: this.sessions.size, evicted: this.evictions, readBacks: this.readBacks, readBackErrors: this.readBackErrors };
  }

  /** Resolves when no read-back of evicted users is pending (tests). */
  async settled(): Promise<void> {
    while (this.loadingNow || this.toLoad.size > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private evict(user: string): void {
    this.users.delete(user);
    this.cold = true;
    this.evictions++;
    this.evictedHashes.add(shortHash(user));
  }

  private scheduleLoad(user: string): void {
    this.toLoad.add(user);
    if (this.loadingNow) return;
    this.loadingNow = true;
    this.runLoadBatchSoon(0);
  }

  /** Next read-back, no sooner than `readBackGapMs` after the last one began (and `extraMs` from now). */
  private runLoadBatchSoon(extraMs: number): void {
    const waitMs = Math.max(extraMs, this.lastReadBackMs + this.readBackGapMs - performance.now());
    if (waitMs <= 0) setImmediate(() => void this.loadBatch());
    else setTimeout(() => void this.loadBatch(), waitMs).unref?.();
  }

  /** Reads back every waiting user in one pass over the file, then applies what they mined meanwhile. */
  private async loadBatch(): Promise<void> {
    let again = -1;
    try {
      if (this.toLoad.size > 0) {
        const batch = this.toLoad;
        this.toLoad = new Set();
        this.lastReadBackMs = performance.now();
        this.readBacks++;
        let entries: RecordEntry[];
        try {
          entries = (await this.store?.lookup?.(batch)) ?? [];
        } catch {
          // Unknown is not "no records": keep them waiting (their shares stay pending) and retry.
          this.readBackErrors++;
          for (const u of batch) this.toLoad.add(u);
          again = this.readBackRetryMs;
          return;
        }
        const week = this.weekAt(this.now());
        const late: BeatenRecord[] = [];
        for (const e of entries) {
          const u = this.users.get(e.user);
          if (!u) continue;
          if (e.scope === "alltime") {
            if (e.difficulty > u.alltime) Object.assign(u, { alltime: e.difficulty, alltimeWorker: e.worker, alltimeAtMs: e.at_ms });
          } else if (e.week === week.key && (u.weekKey !== week.key || e.difficulty > u.week)) {
            Object.assign(u, { weekKey: e.week, week: e.difficulty, weekWorker: e.worker, weekAtMs: e.at_ms });
          }
        }
        for (const user of batch) {
          const u = this.users.get(user);
          const p = u?.loading;
          if (!u || !p) continue;
          u.loading = null;
          const weekOld = u.weekKey === week.key ? u.week : null;
          if (weekOld === null || p.difficulty > weekOld) {
            Object.assign(u, { weekKey: week.key, week: p.difficulty, weekWorker: p.worker, weekAtMs: p.atMs });
            this.store?.append({ scope: "week", user, worker: p.worker, difficulty: p.difficulty, at_ms: p.atMs, week: week.key });
            late.push({ scope: "week", user, worker: p.worker, oldBest: weekOld, newBest: p.difficulty, week: week.key });
          }
          if (p.difficulty > u.alltime) {
            const alltimeOld = u.alltime > 0 ? u.alltime : null;
            Object.assign(u, { alltime: p.difficulty, alltimeWorker: p.worker, alltimeAtMs: p.atMs });
            this.store?.append({ scope: "alltime", user, worker: p.worker, difficulty: p.difficulty, at_ms: p.atMs });
            late.push({ scope: "alltime", user, worker: p.worker, oldBest: alltimeOld, newBest: p.difficulty });
          }
        }
        if (late.length > 0) {
          try {
            this.onLate?.(late);
          } catch {
            // a listener's bug must not stop the read-back
          }
        }
      }
      if (this.toLoad.size > 0) again = 0;
    } finally {
      if (again >= 0) this.runLoadBatchSoon(again);
      else this.loadingNow = false;
    }
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
      if (this.users.size >= this.maxUsers) this.evict(this.users.keys().next().value as string);
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
