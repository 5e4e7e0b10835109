/**
 * extranonce1 allocation: unique per live connection and per instance. The first byte is the
 * instance id, so a relay's space never overlaps the primary's or another relay's; the remaining bytes
 * are a counter that skips values still in use after it wraps.
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
  private readonly counterSpace: number;

  /**
   * @param size extranonce1 length in bytes (`nonce1length`, 2–8).
   * @param instanceId 0–255, the first byte of every extranonce1 this instance hands out.
   * @param seed starting counter (e.g. random) so restarts don't reuse recent values.
   */
  constructor(
    private readonly size: number,
    private readonly instanceId: number,
    seed = 0,
  ) {
    const counterBytes = Math.min(size - 1, 6);
    this.counterSpace = 2 ** (8 * counterBytes);
    this.counter = seed % this.counterSpace;
  }

  allocate(): Buffer {
    for (let tries = 0; tries < 1_000_000; tries++) {
      const value = this.counter;
      this.counter = (this.counter + 1) % this.counterSpace;
      const buf = Buffer.alloc(this.size);
      buf[0] = this.instanceId;
      buf.writeUIntBE(value, 1, Math.min(this.size - 1, 6));
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
