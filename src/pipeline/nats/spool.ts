/**
 * Append-only on-disk spool between the event socket and JetStream ("nothing is lost while
 * NATS or the link is down"). Every received event is appended here first; a forwarder reads from the
 * read cursor, publishes, and acks; the acked cursor is persisted and segments behind it are deleted.
 * Nothing is removed before its publish was acknowledged; after a restart reading resumes at the
 * persisted cursor (records published but not yet covered by a saved cursor are sent again, and
 * JetStream's duplicate window / the database's conflict key absorb the repeat).
 *
 * Files in `dir`:
 *   spool-<16-digit segment number>.log  records: u32 LE length, u32 LE CRC-32 of the payload, payload
 *   cursor.json                          {"segment": n, "offset": bytes}: everything before is acked
 *
 * Durability (`fsync` option):
 *   "always"   a record becomes readable (publishable) only after fdatasync; group commit per write batch.
 *   "interval" (default) written to the file at once (survives a process crash via the page cache) and
 *              fdatasync'ed every `fsyncIntervalMs` (default 50 ms): a power loss may lose that much.
 *   "never"    left to the OS; fdatasync only at close.
 * A torn record at the end of the newest segment (crash mid-write) is cut off at start-up.
 *
 * Retention: acknowledged segments are not deleted at once but kept for `retainMs` and up to `retainBytes`
 * (oldest deleted first), so {@link Spool.replayRetained} can publish them again when JetStream lost
 * them (a stream re-created empty). Retained bytes do not count against `maxBytes`.
 */
import { open, mkdir, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { throwIfCancelled } from "../../util/lifecycle.ts";

/** A place in the spool: byte `offset` within segment number `segment`. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

/** One record read back: its payload and the position just after it (what to ack). */
export interface SpoolRecord {
  payload: Buffer;
  end: SpoolPosition;
}

/** Options of {@link Spool}. Defaults documented per field. */
export interface SpoolOptions {
  dir: string;
  /** Start a new segment file past this size, bytes. Default 16 MiB. */
  segmentBytes?: number;
  /** Refuse non-critical appends while the spool holds this many bytes. Default 1 GiB. */
  maxBytes?: number;
  /** See the module comment. Default "interval". */
  fsync?: "always" | "interval" | "never";
  /** fdatasync period for "interval", ms. Default 50. */
  fsyncIntervalMs?: number;
  /** How often the acked cursor is saved, ms. Default 200. */
  cursorSaveIntervalMs?: number;
  /** When everything is acked and the segment is at least this big, start a new one so the old can go. Default 1 MiB. */
  rotateIdleBytes?: number;
  /** Keep acknowledged segments this long after their last write, ms (0 = delete at once). Default 6 h. */
  retainMs?: number;
  /** …and at most this many bytes of them (oldest deleted first). Default 256 MiB. */
  retainBytes?: number;
  /** Clock for retention, ms. Default Date.now. */
  now?: () => number;
}

/** Counters of a {@link Spool}. */
export interface SpoolStats {
  /** Records appended since start. */
  appended: number;
  /** Appends refused because the spool was full. */
  dropped: number;
  /** Records not yet acked (on disk or being written). */
  unacked: number;
  /** Bytes in segment files plus pending writes. */
  bytes: number;
  /** Segment files. */
  segments: number;
  /** Corrupt or torn records cut off at start-up. */
  corrupt: number;
  /** Background I/O failures (cursor save, fdatasync); retried on the next tick. */
  ioErrors: number;
  /** Acknowledged bytes kept for replay (whole segments behind the acked cursor). */
  retainedBytes: number;
  /** Replays of retained records started, and records re-read by them. */
  replays: number;
  replayed: number;
}

const HEADER = 8;
const READ_CHUNK = 1 << 20;
const segName = (n: number) => `spool-${String(n).padStart(16, "0")}.log`;

/** The spool; see the module comment. `new Spool(opts)` then `start()` (or {@link Spool.open}), `close()` once done. */
export class Spool {
  private readonly o: Required<SpoolOptions>;
  private segSizes = new Map<number, number>(); // segment → bytes on disk (at or after the acked cursor)
  /** Wholly acknowledged segments kept for replay: segment → size and last write time. */
  private retained = new Map<number, { size: number; mtimeMs: number }>();
  /** Last write time of each live segment (retention counts from there). */
  private segWrittenAt = new Map<number, number>();
  /** While replaying retained records: read up to here (the acked cursor when the replay started). */
  private replayTo: SpoolPosition | undefined;
  /** …and the replay's own acked position (where a failed round rewinds to). */
  private replayAcked: SpoolPosition | undefined;
  private writeSeg = 1;
  private writeFh: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingRecords = 0;
  private writtenListener: ((records: number) => void) | undefined;
  private writing: Promise<void> | undefined;
  private visibleEnd: SpoolPosition = { segment: 1, offset: 0 }; // readable up to here
  private readPos: SpoolPosition = { segment: 1, offset: 0 };
  private acked: SpoolPosition = { segment: 1, offset: 0 };
  private savedAcked = "";
  private readFh: { segment: number; fh: FileHandle } | undefined;
  private dirty = false;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private dataWaiters: Array<() => void> = [];
  private saving: Promise<void> | undefined;
  private closed = false;
  private readonly s = { appended: 0, dropped: 0, unacked: 0, corrupt: 0, ioErrors: 0, replays: 0, replayed: 0 };
  /** Last background I/O error (cursor save, fdatasync), if any. */
  lastError: Error | undefined;

  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: SpoolOptions) {
    this.o = {
      segmentBytes: 16 << 20, maxBytes: 1 << 30, fsync: "interval", fsyncIntervalMs: 50,
      cursorSaveIntervalMs: 200, rotateIdleBytes: 1 << 20, retainMs: 6 * 3_600_000, retainBytes: 256 << 20, now: Date.now, ...opts,
    };
  }

  /** Opens (or creates) the spool directory, recovering from a crash. Idempotent. */
  start(signal?: AbortSignal): Promise<void> {
    this.starting ??= (async () => {
      throwIfCancelled(signal, "spool");
      await this.recover();
    })();
    return this.starting;
  }

  /** `new Spool(opts)` + `start()`. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts);
    await spool.start();
    return spool;
  }

  private async recover(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    const segs = (await readdir(this.o.dir))
      .map((f) => /^spool-(\d{16})\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let cursor: SpoolPosition = { segment: segs[0] ?? 1, offset: 0 };
    try {
      const c = JSON.parse(await readFile(join(this.o.dir, "cursor.json"), "utf8")) as SpoolPosition;
      if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) cursor = c;
    } catch {
      /* no cursor yet: start at the oldest segment */
    }
    for (const n of segs) {
      if (n >= cursor.segment) continue;
      const st = await stat(join(this.o.dir, segName(n))).catch(() => undefined);
      if (st) this.retained.set(n, { size: st.size, mtimeMs: st.mtimeMs });
    }
    const live = segs.filter((n) => n >= cursor.segment);
    if (live.length === 0 || live[0] > cursor.segment) cursor = { segment: live[0] ?? cursor.segment, offset: 0 };
    if (live.length === 0) live.push(cursor.segment);
    for (let i = 0; i < live.length; i++) {
      const n = live[i];
      const from = n === cursor.segment ? cursor.offset : 0;
      const { validEnd, records, size } = await this.scan(n, from);
      this.s.unacked += records;
      if (validEnd < size) {
        this.s.corrupt++;
        // Only the newest segment can have a torn tail; cut it so appends continue cleanly.
        if (i === live.length - 1) await this.truncate(n, validEnd);
      }
      this.segSizes.set(n, i === live.length - 1 ? validEnd : size);
      const st = await stat(join(this.o.dir, segName(n))).catch(() => undefined);
      this.segWrittenAt.set(n, st?.mtimeMs ?? this.o.now());
      if (n === cursor.segment && cursor.offset > validEnd) cursor = { segment: n, offset: validEnd };
    }
    this.writeSeg = live[live.length - 1];
    this.writeFh = await open(join(this.o.dir, segName(this.writeSeg)), "a");
    this.acked = { ...cursor };
    this.readPos = { ...cursor };
    this.visibleEnd = { segment: this.writeSeg, offset: this.segSizes.get(this.writeSeg) ?? 0 };
    this.savedAcked = JSON.stringify(this.acked);
    await this.saveCursor(true);
    if (this.o.fsync === "interval") {
      this.fsyncTimer = setInterval(() => void this.syncIfDirty().catch((err) => this.noteError(err)), this.o.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
    this.cursorTimer = setInterval(() => void this.saveCursor(false).catch((err) => this.noteError(err)), this.o.cursorSaveIntervalMs);
    this.cursorTimer.unref();
  }

  /** Walks the records of segment `n` from `from`; returns where the valid data ends. */
  private async scan(n: number, from: number): Promise<{ validEnd: number; records: number; size: number }> {
    const path = join(this.o.dir, segName(n));
    const size = await stat(path).then((s) => s.size, () => 0);
    if (size === 0) return { validEnd: 0, records: 0, size: 0 };
    const fh = await open(path, "r");
    try {
      let pos = Math.min(from, size);
      let records = 0;
      // Bounded by the file size: every iteration advances pos or stops.
      while (pos + HEADER <= size) {
        const head = Buffer.alloc(HEADER);
        await fh.read(head, 0, HEADER, pos);
        const len = head.readUInt32LE(0);
        if (pos + HEADER + len > size) break;
        const body = Buffer.alloc(len);
        await fh.read(body, 0, len, pos + HEADER);
        if (crc32(body) !== head.readUInt32LE(4)) break;
        pos += HEADER + len;
        records++;
      }
      return { validEnd: pos, records, size };
    } finally {
      await fh.close();
    }
  }

  private async truncate(n: number, size: number): Promise<void> {
    const fh = await open(join(this.o.dir, segName(n)), "r+");
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
  }

  /**
   * Appends one record. Returns false (counted in `dropped`) when the spool is full, unless
   * `critical` (e.g. block_found: never dropped for space).
   */
  append(payload: Buffer, opts: { critical?: boolean } = {}): boolean {
    if (this.closed) return false;
    if (!opts.critical && this.bytes() + HEADER + payload.length > this.o.maxBytes) {
      this.s.dropped++;
      return false;
    }
    const head = Buffer.alloc(HEADER);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(crc32(payload), 4);
    this.pending.push(head, payload);
    this.pendingBytes += HEADER + payload.length;
    this.pendingRecords++;
    this.s.appended++;
    this.s.unacked++;
    if (!this.writing) this.writing = this.writeLoop();
    return true;
  }

  /**
   * Writes pending records in batches (group commit) until none are left. Never rejects: a failed write
   * (ENOSPC, EIO) is undone back to the last whole record, the records stay pending, and the write is
   * retried with backoff (100 ms doubling to 5 s) — the process must not die for a full disk, least of all
   * the engine, which runs this spool for `events.nats`. While the disk fails, `bytes()` counts the pending
   * records, so the size cap refuses (counts) non-critical appends.
   */
  private async writeLoop(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r)); // gather appends of this tick
    try {
      while (this.pending.length > 0 && !this.closed) {
        const buf = Buffer.concat(this.pending);
        const records = this.pendingRecords;
        this.pending = [];
        this.pendingBytes = 0;
        this.pendingRecords = 0;
        const fh = this.writeFh!;
        const before = this.segSizes.get(this.writeSeg) ?? 0;
        try {
          await fh.write(buf);
          if (this.o.fsync === "always") await fh.datasync();
        } catch (err) {
          this.noteError(err);
          this.pending.unshift(buf);
          this.pendingBytes += buf.length;
          this.pendingRecords += records;
          // A partial write would leave half a record in the middle of the segment: cut it off.
          await fh.truncate(before).catch((e: unknown) => this.noteError(e));
          this.scheduleWriteRetry();
          return;
        }
        if (this.o.fsync !== "always") this.dirty = true;
        this.writeRetryMs = 100;
        const size = before + buf.length;
        this.segSizes.set(this.writeSeg, size);
        this.segWrittenAt.set(this.writeSeg, this.o.now());
        this.visibleEnd = { segment: this.writeSeg, offset: size };
        this.wakeReaders();
        this.notifyWritten(records);
        if (size >= this.o.segmentBytes) {
          try {
            await this.rotate();
          } catch (err) {
            this.noteError(err); // stay on the current segment; the next write tries again
          }
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /**
   * `fn(n)` is called each time the next `n` appended records (in append order) are in their segment
   * file: they survive a crash of this process (and, with `fsync: "always"`, of the machine).
   */
  onWritten(fn: (records: number) => void): void {
    this.writtenListener = fn;
  }

  private notifyWritten(records: number): void {
    try {
      this.writtenListener?.(records);
    } catch {
      // a listener must not break the write loop
    }
  }

  private writeRetryMs = 100;
  private writeRetryTimer: NodeJS.Timeout | undefined;

  private scheduleWriteRetry(): void {
    if (this.writeRetryTimer || this.closed) return;
    this.writeRetryTimer = setTimeout(() => {
      this.writeRetryTimer = undefined;
      if (!this.writing && this.pending.length > 0) this.writing = this.writeLoop();
    }, this.writeRetryMs);
    this.writeRetryTimer.unref();
    this.writeRetryMs = Math.min(this.writeRetryMs * 2, 5_000);
  }

  private async rotate(): Promise<void> {
    const old = this.writeFh!;
    await old.datasync();
    await old.close();
    this.writeSeg++;
    this.segSizes.set(this.writeSeg, 0);
    this.writeFh = await open(join(this.o.dir, segName(this.writeSeg)), "a");
    this.visibleEnd = { segment: this.writeSeg, offset: 0 };
    this.dirty = false;
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || !this.writeFh) return;
    this.dirty = false;
    await this.writeFh.datasync().catch(() => (this.dirty = true));
  }

  /** True when records past the read cursor are readable. */
  hasUnread(): boolean {
    return cmp(this.readPos, this.readLimit()) < 0;
  }

  /** Where reading stops: the end of the written data, or the end of a replay in progress. */
  private readLimit(): SpoolPosition {
    return this.replayTo && cmp(this.readPos, this.replayTo) < 0 ? this.replayTo : this.visibleEnd;
  }

  private segSize(n: number): number {
    return this.segSizes.get(n) ?? this.retained.get(n)?.size ?? 0;
  }

  /**
   * Reads everything retained and acknowledged again, from the oldest retained record up to the acked
   * cursor, before carrying on with new records (JetStream lost what it had acknowledged). Call between
   * publish rounds. Returns the number of bytes to replay.
   */
  replayRetained(): number {
    const first = this.retained.size > 0 ? Math.min(...this.retained.keys()) : this.acked.segment;
    const from: SpoolPosition = { segment: first, offset: 0 };
    if (cmp(from, this.acked) >= 0) return 0;
    let bytes = this.acked.offset;
    for (const [n, r] of this.retained) if (n < this.acked.segment) bytes += r.size;
    this.replayTo = { ...this.acked };
    this.replayAcked = from;
    this.readPos = { ...from };
    this.s.replays++;
    this.wakeReaders();
    return bytes;
  }

  /** True while a replay has not reached the acked cursor. */
  get replaying(): boolean {
    return this.replayTo !== undefined;
  }

  /** Resolves when there is something to read (at once if there is), or when `signal` aborts / the spool closes. */
  async waitForData(signal?: AbortSignal): Promise<void> {
    if (this.hasUnread() || this.closed || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.dataWaiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private wakeReaders(): void {
    for (const w of this.dataWaiters.splice(0)) w();
  }

  /** Reads up to `max` records from the read cursor and advances it. */
  async read(max: number): Promise<SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    // Bounded: each pass returns records, moves to the next segment, or stops.
    const limit = this.readLimit();
    while (out.length < max && cmp(this.readPos, limit) < 0) {
      const seg = this.readPos.segment;
      const segEnd = seg === limit.segment ? limit.offset : this.segSize(seg);
      if (this.readPos.offset >= segEnd) {
        if (seg >= limit.segment) break;
        this.readPos = { segment: seg + 1, offset: 0 };
        continue;
      }
      const fh = await this.readHandle(seg);
      const want = Math.min(READ_CHUNK, segEnd - this.readPos.offset);
      const chunk = Buffer.alloc(want);
      const { bytesRead } = await fh.read(chunk, 0, want, this.readPos.offset);
      let p = 0;
      while (out.length < max && p + HEADER <= bytesRead) {
        const len = chunk.readUInt32LE(p);
        if (p + HEADER + len > bytesRead) {
          if (p === 0) {
            // A record larger than the chunk: read it whole.
            const big = Buffer.alloc(HEADER + len);
            await fh.read(big, 0, HEADER + len, this.readPos.offset);
            const end = { segment: seg, offset: this.readPos.offset + HEADER + len };
            out.push({ payload: big.subarray(HEADER), end });
            this.readPos = end;
          }
          break;
        }
        const end = { segment: seg, offset: this.readPos.offset + p + HEADER + len };
        out.push({ payload: chunk.subarray(p + HEADER, p + HEADER + len), end });
        p += HEADER + len;
      }
      if (p > 0) this.readPos = { segment: seg, offset: this.readPos.offset + p };
    }
    if (limit === this.replayTo) this.s.replayed += out.length;
    return out;
  }

  private async readHandle(segment: number): Promise<FileHandle> {
    if (this.readFh?.segment === segment) return this.readFh.fh;
    await this.readFh?.fh.close();
    const fh = await open(join(this.o.dir, segName(segment)), "r");
    this.readFh = { segment, fh };
    return fh;
  }

  /** Moves the read cursor back to the acked position (after a failed publish). */
  rewind(): void {
    this.readPos = { ...(this.replayAcked ?? this.acked) };
  }

  /**
   * Marks everything up to `end` (`count` records) as published. Saved to cursor.json within
   * `cursorSaveIntervalMs`; fully acked segments are deleted after that.
   */
  ack(end: SpoolPosition, count: number): void {
    if (this.replayTo && this.replayAcked) {
      if (cmp(end, this.replayAcked) > 0) this.replayAcked = { ...end };
      if (cmp(end, this.replayTo) >= 0) this.replayTo = this.replayAcked = undefined; // replay done
    }
    if (cmp(end, this.acked) <= 0) return;
    this.acked = { ...end };
    this.s.unacked = Math.max(0, this.s.unacked - count);
  }

  /** Waits until every appended record is written to its segment file (and fdatasync'ed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    await this.syncIfDirty();
  }

  /** Saves the acked cursor now and deletes fully acked segments (otherwise done every `cursorSaveIntervalMs`). */
  async checkpoint(): Promise<void> {
    await this.saveCursor(true);
  }

  /** Persists the acked cursor (if changed) and deletes segments wholly behind it. Serialised. */
  private saveCursor(force: boolean): Promise<void> {
    const run = (this.saving ?? Promise.resolve()).catch(() => {}).then(() => this.saveCursorNow(force));
    this.saving = run.finally(() => {
      if (this.saving === tail) this.saving = undefined;
    });
    const tail = this.saving;
    return run;
  }

  private async saveCursorNow(force: boolean): Promise<void> {
    let acked = this.acked;
    // Caught up on a big enough segment: move to a fresh one so this one can be deleted.
    if (!this.closed && this.pending.length === 0 && !this.writing && cmp(acked, this.visibleEnd) === 0 &&
        acked.offset >= this.o.rotateIdleBytes && acked.segment === this.writeSeg) {
      this.writing = this.rotate().finally(() => (this.writing = undefined));
      await this.writing;
      if (this.pending.length > 0 && !this.writing) this.writing = this.writeLoop();
      if (cmp(this.acked, { segment: this.writeSeg - 1, offset: acked.offset }) === 0) {
        this.acked = { segment: this.writeSeg, offset: 0 };
        if (cmp(this.readPos, this.acked) < 0) this.readPos = { ...this.acked };
      }
      acked = this.acked;
    }
    const text = JSON.stringify(acked);
    if (!force && text === this.savedAcked) return;
    const tmp = join(this.o.dir, "cursor.json.tmp");
    await writeFile(tmp, text);
    await rename(tmp, join(this.o.dir, "cursor.json"));
    this.savedAcked = text;
    const now = this.o.now();
    for (const [n, size] of [...this.segSizes]) {
      if (n >= acked.segment) continue;
      this.segSizes.delete(n);
      this.retained.set(n, { size, mtimeMs: this.segWrittenAt.get(n) ?? now });
      this.segWrittenAt.delete(n);
    }
    await this.pruneRetained(now);
  }

  /** Deletes retained segments past the retention window (age, then total size), oldest first. Not during a replay. */
  private async pruneRetained(now: number): Promise<void> {
    if (this.replayTo) return;
    let total = 0;
    for (const r of this.retained.values()) total += r.size;
    for (const n of [...this.retained.keys()].sort((a, b) => a - b)) {
      const r = this.retained.get(n)!;
      if (now - r.mtimeMs < this.o.retainMs && total <= this.o.retainBytes) break;
      if (this.readFh?.segment === n) {
        await this.readFh.fh.close();
        this.readFh = undefined;
      }
      await rm(join(this.o.dir, segName(n)), { force: true });
      this.retained.delete(n);
      total -= r.size;
    }
  }

  private noteError(err: unknown): void {
    this.s.ioErrors++;
    this.lastError = err instanceof Error ? err : new Error(String(err));
  }

  private bytes(): number {
    let total = this.pendingBytes;
    for (const v of this.segSizes.values()) total += v;
    return total;
  }

  stats(): SpoolStats {
    let retainedBytes = 0;
    for (const r of this.retained.values()) retainedBytes += r.size;
    return { ...this.s, bytes: this.bytes(), segments: this.segSizes.size, retainedBytes };
  }

  /** Writes what is pending, fsyncs, saves the cursor, closes files. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.writing;
    this.closed = true;
    clearTimeout(this.writeRetryTimer);
    clearInterval(this.fsyncTimer);
    clearInterval(this.cursorTimer);
    try {
      await this.writeFh?.datasync();
      await this.saveCursor(true);
    } finally {
      await this.writeFh?.close().catch(() => {});
      await this.readFh?.fh.close().catch(() => {});
      this.writeFh = undefined;
      this.readFh = undefined;
      this.wakeReaders();
    }
  }
}

function cmp(a: SpoolPosition, b: SpoolPosition): number {
  return a.segment !== b.segment ? a.segment - b.segment : a.offset - b.offset;
}
