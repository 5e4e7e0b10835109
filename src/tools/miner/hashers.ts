/**
 * Where hashing runs: {@link WorkerHasher} (one worker thread per slot; the real miner) or
 * {@link InlineHasher} (one slot on the event loop, in chunks; for tests that run many miners in-process).
 * Both share one abort generation: bumping it stops every running unit within one chunk.
 */
import { Worker } from "node:worker_threads";
import { scanNonces } from "../stratum-client/work.ts";
import { SCAN_CHUNK, type FromWorker, type ScanEnd, type ScanUnit } from "./protocol.ts";

/** Outcome of one unit. */
export interface ScanResult {
  end: ScanEnd;
}

/** A set of hashing slots. */
export interface Hasher {
  /** Number of units that can run at once. */
  readonly slots: number;
  /** Current abort generation; new units must carry it. */
  readonly generation: number;
  start(): Promise<void>;
  /**
   * Runs `unit` on `slot` (which must be idle). `onFound` gets candidate nonces as they are found,
   * `onHashes` hash counts as they are done.
   */
  scan(slot: number, unit: ScanUnit, onFound: (nonces: number[]) => void): Promise<ScanResult>;
  /** Invalidates every running unit; returns the new generation. */
  abort(): number;
  close(): Promise<void>;
}

/** Called with every batch of finished hashes (for the hashrate). */
export type HashCounter = (hashes: number) => void;

/** Worker-thread hashing; the entry is a small .mjs that registers tsx (workers do not inherit it). */
export class WorkerHasher implements Hasher {
  readonly slots: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private workers: Worker[] = [];
  private readonly running = new Map<number, { unitId: number; onFound: (n: number[]) => void; resolve: (r: ScanResult) => void }>();

  constructor(threads: number, private readonly onHashes: HashCounter) {
    this.slots = threads;
  }

  get generation(): number {
    return Atomics.load(this.control, 0);
  }

  async start(): Promise<void> {
    const entry = new URL("./hash-worker.mjs", import.meta.url);
    const ready: Promise<void>[] = [];
    for (let slot = 0; slot < this.slots; slot++) {
      const w = new Worker(entry, { workerData: { control: this.control.buffer } });
      this.workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.once("error", reject);
          w.on("message", (m: FromWorker) => {
            if (m.type === "ready") {
              w.off("error", reject);
              resolve();
            } else this.onMessage(slot, m);
          });
        }),
      );
      w.on("error", (err) => this.onWorkerError(slot, err));
    }
    await Promise.all(ready);
  }

  scan(slot: number, unit: ScanUnit, onFound: (nonces: number[]) => void): Promise<ScanResult> {
    const w = this.workers[slot];
    if (!w) return Promise.resolve({ end: "aborted" });
    return new Promise((resolve) => {
      this.running.set(slot, { unitId: unit.unitId, onFound, resolve });
      w.postMessage({ type: "scan", unit });
    });
  }

  abort(): number {
    return Atomics.add(this.control, 0, 1) + 1;
  }

  async close(): Promise<void> {
    this.abort();
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
    for (const r of this.running.values()) r.resolve({ end: "aborted" });
    this.running.clear();
  }

  private onMessage(slot: number, m: FromWorker): void {
    const r = this.running.get(slot);
    if (m.type === "progress") return this.onHashes(m.hashes);
    if (!r || m.type === "ready" || m.unitId !== r.unitId) return;
    if (m.type === "found") r.onFound(m.nonces);
    else if (m.type === "done") {
      this.onHashes(m.hashes);
      this.running.delete(slot);
      r.resolve({ end: m.end });
    }
  }

  private onWorkerError(slot: number, _err: Error): void {
    const r = this.running.get(slot);
    this.running.delete(slot);
    r?.resolve({ end: "aborted" });
  }
}

/** One hashing slot on the event loop, yielding between chunks (setImmediate) so I/O keeps flowing. */
export class InlineHasher implements Hasher {
  readonly slots = 1;
  private gen = 0;
  constructor(private readonly onHashes: HashCounter) {}

  get generation(): number {
    return this.gen;
  }

  async start(): Promise<void> {}

  async scan(_slot: number, u: ScanUnit, onFound: (nonces: number[]) => void): Promise<ScanResult> {
    const work = { header: Buffer.from(u.header), shareTargetLE: Buffer.from(u.shareTargetLE), networkTargetLE: Buffer.from(u.networkTargetLE) };
    let done = 0;
    let foundTotal = 0;
    while (done < u.count) {
      if (this.gen !== u.generation) return { end: "aborted" };
      const n = Math.min(SCAN_CHUNK, u.count - done);
      const found = scanNonces(work, (u.startNonce + done) >>> 0, n);
      done += n;
      this.onHashes(n);
      if (found.length > 0) {
        const blockAt = u.stopOnBlock ? found.findIndex((f) => f.isBlock) : -1;
        onFound((blockAt >= 0 ? found.slice(0, blockAt + 1) : found).map((f) => f.nonce));
        if (blockAt >= 0) return { end: "block" };
        foundTotal += found.length;
        if (u.stopAfterFound && foundTotal >= u.stopAfterFound) return { end: "found" };
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { end: "exhausted" };
  }

  abort(): number {
    return ++this.gen;
  }

  async close(): Promise<void> {
    this.abort();
  }
}
