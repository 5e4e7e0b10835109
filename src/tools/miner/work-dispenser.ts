/**
 * Hands out scan units for one job: each unit is a distinct (extranonce2, version bits) pair, version
 * bits rolled first (cheaper: no new merkle root), then extranonce2. Pure.
 */
import type { JobContext } from "../stratum-client/stratum-client.ts";
import { buildWork, extranonce2FromCounter, rollableMask, versionBitsFromCounter, versionRollSpace, type Work } from "../stratum-client/work.ts";

/** One unit: the work and the nonce range to scan. */
export interface DispensedUnit {
  work: Work;
  startNonce: number;
  count: number;
}

/** Unit source for one job. */
export class WorkDispenser {
  private k = 0;
  private readonly rollMask: number;
  private readonly vSpace: number;

  /**
   * @param ctx the job and session state
   * @param unitNonces nonces per unit (≤ 2^32); each unit gets a fresh (extranonce2, version) pair
   * @param extranonce2Start first extranonce2 counter value
   */
  constructor(
    readonly ctx: JobContext,
    private readonly unitNonces: number,
    private readonly extranonce2Start: bigint = 0n,
  ) {
    this.rollMask = rollableMask(ctx.versionMask);
    this.vSpace = this.rollMask === 0 ? 1 : versionRollSpace(this.rollMask);
  }

  /** Units handed out so far. */
  get dispensed(): number {
    return this.k;
  }

  /** The next unit. */
  next(): DispensedUnit {
    const k = this.k++;
    const versionIndex = k % this.vSpace;
    const en2 = this.extranonce2Start + BigInt(Math.floor(k / this.vSpace));
    const versionBits = versionBitsFromCounter(this.rollMask, versionIndex);
    const work = buildWork(this.ctx, extranonce2FromCounter(en2, this.ctx.extranonce2Size), versionBits);
    return { work, startNonce: 0, count: this.unitNonces };
  }
}
