/**
 * extranonce1 allocation: unique per live connection and per instance. The first byte is the
 * instance id, so a relay's space never overlaps the primary's or another relay's; the remaining bytes
 * are a counter that skips values still in use after it wraps. With Stratum worker processes
 * (`workers`), each process counts in its own slice of that counter space (`slice`), so two workers
 * never hand out the same value either.
 */
import { TbgError } from "../../util/errors.ts";

export class ExtranonceExhaustedError extends TbgError {
  constructor() {
    super("EXTRANONCE_EXHAUSTED", "no free extranonce1 value");
  }
}

export class Extranonce1Allocator {
  private readonly inUse = new Set<string>();
  private counter: number;
  /** Values in this allocator's slice of the counter space. */
  private readonly counterSpace: number;
  /** First counter value of the slice. */
  private readonly base: number;

  /**
   * @param size extranonce1 length in bytes (`nonce1length`, 2–8).
   * @param instanceId 0–255, the first byte of every extranonce1 this instance hands out.
   * @param seed starting counter (e.g. random) so restarts don't reuse recent values.
   * @param slice this process's part of the counter space: slice `index` of `count` equal, disjoint ranges (default the whole space).
   */
  constructor(
    private readonly size: number,
    private readonly instanceId: number,
    seed = 0,
    slice: { index: number; count: number } = { index: 0, count: 1 },
  ) {
    const counterBytes = Math.min(size - 1, 6);
    const whole = 2 ** (8 * counterBytes);
    if (!(slice.count >= 1 && slice.index >= 0 && slice.index < slice.count && slice.count <= whole)) throw new RangeError(`extranonce1 slice ${slice.index} of ${slice.count} does not fit ${whole} values`);
    this.counterSpace = Math.floor(whole / slice.count);
    this.base = slice.index * this.counterSpace;
    this.counter = seed % this.counterSpace;
  }

  /** How many values one slice of `count` holds for extranonce1 size `size` (the connection limit of one worker). */
  static sliceCapacity(size: number, count: number): number {
    return Math.floor(2 ** (8 * Math.min(size - 1, 6)) / count);
  }

  allocate(): Buffer {
    for (let tries = 0; tries < 1_000_000; tries++) {
      const value = this.counter;
      this.counter = (this.counter + 1) % this.counterSpace;
      const buf = Buffer.alloc(this.size);
      buf[0] = this.instanceId;
      buf.writeUIntBE(this.base + value, 1, Math.min(this.size - 1, 6));
      const hex = buf.toString("hex");
      if (!this.inUse.has(hex)) {
        this.inUse.add(hex);
        return buf;
      }
    }
    throw new ExtranonceExhaustedError();
  }

  release(en1: Buffer): void {
    this.inUse.delete(en1.toString("hex"));
  }

  get active(): number {
    return this.inUse.size;
  }
}
