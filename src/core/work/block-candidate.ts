import type { Job } from "./jobs.ts";

/** A share that meets the network target: everything needed to assemble and submit the block. */
export interface BlockCandidate {
  job: Job;
  header: Buffer;
  /** The coinbase without witness (the txid form). */
  coinbase: Buffer;
  hashLE: Buffer;
  shareDifficulty: number;
}
