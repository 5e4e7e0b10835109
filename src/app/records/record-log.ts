/**
 * Persistence of best-difficulty records: an append-only JSON-lines file under `data_dir`,
 * compacted on start.
 *
 * Why this shape: a record is beaten rarely per user but, at the start of each ISO week, once for
 * every active user; appending one short line per record (batched, one write + fdatasync per
 * `flushDelayMs`) costs the same whether there are ten users or a million, where rewriting a whole
 * JSON document per change would not. The share path only pushes to an in-memory array
 * ({@link RecordLog.append}); all file I/O runs on one serialised async chain.
 *
 * Crash safety: a torn last line (crash mid-write) is skipped at load; compaction writes the folded
 * state to a temp file, fsyncs it and renames it over the log (atomic on POSIX), then fsyncs the
 * directory. Folding is idempotent (max per user and scope), so a line written twice is harmless.
 */
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { TbgError, errorText } from "../../util/errors.ts";

/** One persisted record. `week` records carry their ISO week key. */
export type RecordEntry =
  | { scope: "alltime"; user: string; worker: string; difficulty: number; at_ms: number }
  | { scope: "week"; user: string; worker: string; difficulty: number; at_ms: number; week: string };

/** The records file could not be read or written. */
export class RecordStoreError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RECORDS_STORE", message, options);
  }
}

/** Defaults of {@link RecordLogOptions}. */
export const RECORD_LOG_DEFAULTS = {
  /** Batch appends for this long: at most one write + fdatasync per second. */
  flushDelayMs: 1_000,
  /** Compact when the log holds this many more lines than live records (at the last compaction). */
  compactSlackLines: 10_000,
  /** Entries kept in memory while the disk refuses writes; beyond, the next write is a full snapshot. */
  maxPending: 100_000,
  /**
   * After a failed write (ENOSPC, EIO…) the write is retried this often until it succeeds, so records
   * reach the disk once it has room again without waiting for the next record or shutdown (a crash
   * in between would lose them).
   */
  retryDelayMs: 5_000,
} as const;

/** Options of {@link RecordLog}. */
export interface RecordLogOptions {
  /** The log file, e.g. `data/best-difficulty.jsonl`. Its directory is created. */
  path: string;
  /** The live records (what compaction writes). */
  snapshot: () => Iterable<RecordEntry>;
  flushDelayMs?: number;
  compactSlackLines?: number;
  maxPending?: number;
  retryDelayMs?: number;
  /**
   * True when the live records in memory are not all of them (users were evicted): compaction then
   * folds the file's lines into the snapshot instead of dropping the evicted users' records.
   */
  mergeFile?: () => boolean;
  /** Which file lines are still live when merging (e.g. week lines of the current week only). */
  keep?: (entry: RecordEntry) => boolean;
  /** Write failures (the store keeps the entries and retries every `retryDelayMs`). */
  onError?: (err: RecordStoreError) => void;
}

/** Counters of {@link RecordLog}. */
export interface RecordLogStats {
  /** Lines in the file (as far as this process knows). */
  lines: number;
  /** Entries waiting for the next flush. */
  pending: number;
  /** Lines skipped at load (torn or malformed). */
  skippedAtLoad: number;
  writeErrors: number;
  compactions: number;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Parses one log line; null when it is not a valid entry. */
export function parseRecordLine(line: string): RecordEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const e = v as Record<string, unknown>;
  if (typeof e.user !== "string" || e.user === "" || typeof e.worker !== "string") return null;
  if (!isFiniteNumber(e.difficulty) || e.difficulty <= 0 || !isFiniteNumber(e.at_ms)) return null;
  if (e.scope === "alltime") return { scope: "alltime", user: e.user, worker: e.worker, difficulty: e.difficulty, at_ms: e.at_ms };
  if (e.scope === "week" && typeof e.week === "string" && /^\d{4}-W\d{2}$/.test(e.week)) {
    return { scope: "week", user: e.user, worker: e.worker, difficulty: e.difficulty, at_ms: e.at_ms, week: e.week };
  }
  return null;
}

/** Append-only JSON-lines record log; see the module comment. */
export class RecordLog {
  readonly path: string;
  private readonly opts: RecordLogOptions;
  private readonly flushDelayMs: number;
  private readonly compactSlackLines: number;
  private readonly maxPending: number;
  private pending: RecordEntry[] = [];
  /** Set when pending overflowed or a write failed half-way: the next write is a full snapshot. */
  private needsSnapshot = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly retryDelayMs: number;
  private handle: FileHandle | null = null;
  private closed = false;
  private liveCount = 0;
  private readonly counters: RecordLogStats = { lines: 0, pending: 0, skippedAtLoad: 0, writeErrors: 0, compactions: 0 };

  constructor(opts: RecordLogOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.flushDelayMs = opts.flushDelayMs ?? RECORD_LOG_DEFAULTS.flushDelayMs;
    this.compactSlackLines = opts.compactSlackLines ?? RECORD_LOG_DEFAULTS.compactSlackLines;
    this.maxPending = opts.maxPending ?? RECORD_LOG_DEFAULTS.maxPending;
    this.retryDelayMs = opts.retryDelayMs ?? RECORD_LOG_DEFAULTS.retryDelayMs;
  }

  /**
   * Reads every valid line (missing file = none). The caller folds them, then calls {@link compact}.
   * Throws RECORDS_STORE when the file exists but cannot be read: starting empty would later
   * overwrite the records with less.
   */
  async load(): Promise<RecordEntry[]> {
    await mkdir(dirname(this.path), { recursive: true }).catch((err: unknown) => {
      throw new RecordStoreError(`cannot create ${dirname(this.path)}: ${errorText(err)}`, { cause: err });
    });
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new RecordStoreError(`cannot read ${this.path}: ${errorText(err)}`, { cause: err });
    }
    const out: RecordEntry[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const entry = parseRecordLine(line);
      if (entry) out.push(entry);
      else this.counters.skippedAtLoad++;
    }
    this.counters.lines = out.length + this.counters.skippedAtLoad;
    return out;
  }

  /** Rewrites the file from the snapshot (temp file, fsync, rename, fsync dir), then keeps appending to it. */
  compact(): Promise<void> {
    return this.enqueue(() => this.writeSnapshot());
  }

  /** Queue one entry (never throws, never waits); written within `flushDelayMs`. */
  append(entry: RecordEntry): void {
    if (this.closed) return;
    if (this.pending.length >= this.maxPending) {
      // The disk has been refusing writes for a long time: the in-memory state is the truth, so
      // drop the backlog and write a snapshot once the disk is back.
      this.pending = [];
      this.needsSnapshot = true;
    }
    this.pending.push(entry);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushDelayMs);
    this.timer.unref?.();
  }

  /** Write everything pending now. Resolves when it is on disk (or the write failed, reported to onError). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return this.enqueue(() => this.writePending());
  }

  /** Flush, then close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    await this.flush();
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.enqueue(async () => {
      await this.handle?.close().catch(() => undefined);
      this.handle = null;
    });
  }

  stats(): RecordLogStats {
    return { ...this.counters, pending: this.pending.length };
  }

  /**
   * Every record of `users` in the file and in the pending writes (for users evicted from memory who
   * come back). One sequential read of the file, however many users are asked for.
   */
  lookup(users: ReadonlySet<string>): Promise<RecordEntry[]> {
    // Not through enqueue(): a failed read must reach the caller (who keeps the users queued), not
    // pass as "no records".
    const run = this.chain.then(async () => {
      const out = (await this.fileEntries()).filter((e) => users.has(e.user));
      for (const e of this.pending) if (users.has(e.user)) out.push(e);
      return out;
    });
    this.chain = run.then(() => undefined, () => undefined);
    return run.catch((err: unknown) => {
      throw err instanceof RecordStoreError ? err : new RecordStoreError(`cannot read ${this.path}: ${errorText(err)}`, { cause: err });
    });
  }

  /** Lines parsed between two yields to the event loop, so a read of a big file never blocks it long. */
  static readonly PARSE_CHUNK_LINES = 2000;

  private async fileEntries(): Promise<RecordEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: RecordEntry[] = [];
    let start = 0;
    let n = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      const e = line.trim() === "" ? null : parseRecordLine(line);
      if (e) out.push(e);
      if (++n % RecordLog.PARSE_CHUNK_LINES === 0) await new Promise<void>((r) => setImmediate(r));
    }
    return out;
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op).catch((err: unknown) => {
      this.counters.writeErrors++;
      const e = err instanceof RecordStoreError ? err : new RecordStoreError(`${this.path}: ${errorText(err)}`, { cause: err });
      this.opts.onError?.(e);
      this.scheduleRetry();
    });
    this.chain = next;
    return next;
  }

  /** Retry a failed write on a timer (nothing else may trigger one: no new record, no shutdown). */
  private scheduleRetry(): void {
    if (this.closed || this.retryTimer || (this.pending.length === 0 && !this.needsSnapshot)) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flush();
    }, this.retryDelayMs);
    this.retryTimer.unref?.();
  }

  private async writePending(): Promise<void> {
    if (this.needsSnapshot) return this.writeSnapshot();
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.handle ??= await open(this.path, "a");
      await this.handle.write(batch.map((e) => JSON.stringify(e) + "\n").join(""));
      await this.handle.datasync();
    } catch (err) {
      // Keep the entries (ahead of newer ones); a partial write may have left a torn line, which
      // load() skips, but the next write must not continue it: rewrite everything.
      this.pending = batch.concat(this.pending);
      await this.handle?.close().catch(() => undefined);
      this.handle = null;
      this.needsSnapshot = true;
      throw new RecordStoreError(`cannot append to ${this.path}: ${errorText(err)}`, { cause: err });
    }
    this.counters.lines += batch.length;
    if (this.counters.lines > this.liveCount + this.compactSlackLines) await this.writeSnapshot();
  }

  private async writeSnapshot(): Promise<void> {
    // The snapshot covers every pending entry; entries appended while it is written stay pending.
    const covered = this.pending;
    this.pending = [];
    this.needsSnapshot = false;
    let entries = [...this.opts.snapshot()];
    if (this.opts.mergeFile?.()) {
      // Users evicted from memory live only in the file (and in the writes it has not had yet): fold them in.
      const keep = this.opts.keep ?? (() => true);
      const best = new Map<string, RecordEntry>();
      const fold = (e: RecordEntry) => {
        if (!keep(e)) return;
        const k = e.scope === "week" ? `${e.user}\u0000week\u0000${e.week}` : `${e.user}\u0000alltime`;
        const old = best.get(k);
        if (!old || e.difficulty > old.difficulty) best.set(k, e);
      };
      let fromFile: RecordEntry[];
      try {
        fromFile = await this.fileEntries();
      } catch (err) {
        this.pending = covered.concat(this.pending);
        this.needsSnapshot = true;
        throw new RecordStoreError(`cannot read ${this.path} to compact it: ${errorText(err)}`, { cause: err });
      }
      for (const e of fromFile) fold(e);
      for (const e of covered) fold(e);
      for (const e of entries) fold(e);
      entries = [...best.values()];
    }
    const tmp = `${this.path}.tmp`;
    const text = entries.map((e) => JSON.stringify(e) + "\n").join("");
    let fh: FileHandle | null = null;
    try {
      fh = await open(tmp, "w");
      await fh.writeFile(text);
      await fh.sync();
      await fh.close();
      fh = null;
      await this.handle?.close().catch(() => undefined);
      this.handle = null;
      await rename(tmp, this.path);
      const dir = await open(dirname(this.path), "r");
      await dir.sync().finally(() => dir.close());
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      this.pending = covered.concat(this.pending);
      this.needsSnapshot = true;
      throw new RecordStoreError(`cannot compact ${this.path}: ${errorText(err)}`, { cause: err });
    }
    this.liveCount = entries.length;
    this.counters.lines = entries.length;
    this.counters.compactions++;
  }
}
