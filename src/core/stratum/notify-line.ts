/**
 * `mining.notify` lines assembled by concatenation from per-job pieces. A fan-out sends one job to every
 * connection, and each line differs only in the miner's coinbase halves; JSON.stringify of all nine params
 * (a 3,000-tx template has 12 branch hashes) per connection was the notify's main JS cost. The job's pieces
 * are encoded once with JSON.stringify; the coinbase halves are lowercase hex, which JSON never escapes.
 * The result is byte for byte `encodeNotify`'s (test/stratum/notify-line.test.ts).
 */
import type { Job } from "../work/jobs.ts";
import { u32hex } from "../../util/hex.ts";

interface Pieces {
  /** `{"id":null,"method":"mining.notify","params":["<job id>","<prevhash>","` */
  head: string;
  /** `","` then the branch, version, nbits, ntime, clean_jobs, closing brackets and newline. */
  tailClean: string;
  tailKeep: string;
}

// A value cache keyed by the job object: dropped with the job (pure; no I/O).
const pieces = new WeakMap<Job, Pieces>();

/** The notify line for `job` with this miner's coinbase halves (hex), ending in a newline. */
export function notifyLine(job: Job, coinb1Hex: string, coinb2Hex: string, cleanJobs: boolean): string {
  let p = pieces.get(job);
  if (!p) {
    const t = job.template;
    const rest = `${JSON.stringify(t.merkleBranchHex)},${JSON.stringify(u32hex(t.version))},${JSON.stringify(t.nbitsHex)},${JSON.stringify(job.ntimeHex)}`;
    p = {
      head: `{"id":null,"method":"mining.notify","params":[${JSON.stringify(job.id)},${JSON.stringify(t.prevhashStratum)},"`,
      tailClean: `",${rest},true]}\n`,
      tailKeep: `",${rest},false]}\n`,
    };
    pieces.set(job, p);
  }
  return p.head + coinb1Hex + '","' + coinb2Hex + (cleanJobs ? p.tailClean : p.tailKeep);
}
