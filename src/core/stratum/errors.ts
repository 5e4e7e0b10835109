/**
 * Stratum error codes, and the code and text a miner sees for each share reject reason (../shares/reject.ts).
 * Codes follow the convention every Stratum V1 pool and client shares:
 * 20 other, 21 job not found / stale, 22 duplicate, 23 low difficulty, 24 unauthorized, 25 not subscribed.
 */

import { RejectReason } from "../shares/reject.ts";

export const StratumCode = {
  Other: 20,
  JobNotFound: 21,
  Duplicate: 22,
  LowDifficulty: 23,
  Unauthorized: 24,
  NotSubscribed: 25,
} as const;
export type StratumCode = (typeof StratumCode)[keyof typeof StratumCode];


/** The conventional code and the human text a miner sees for each reason. */
export const REJECT_WIRE: Record<RejectReason, { code: StratumCode; message: string }> = {
  unauthorized: { code: StratumCode.Unauthorized, message: "Unauthorized worker" },
  not_subscribed: { code: StratumCode.NotSubscribed, message: "Not subscribed" },
  invalid_params: { code: StratumCode.Other, message: "Invalid submit parameters" },
  job_not_found: { code: StratumCode.JobNotFound, message: "Job not found" },
  bad_extranonce2: { code: StratumCode.Other, message: "Invalid extranonce2 length" },
  ntime_out_of_range: { code: StratumCode.Other, message: "Ntime out of range" },
  bad_version: { code: StratumCode.Other, message: "Version bits outside the negotiated mask" },
  duplicate: { code: StratumCode.Duplicate, message: "Duplicate share" },
  stale: { code: StratumCode.JobNotFound, message: "Stale job" },
  low_difficulty: { code: StratumCode.LowDifficulty, message: "Low difficulty share" },
  other: { code: StratumCode.Other, message: "Rejected" },
};

/** A JSON-RPC error tuple as Stratum sends it: `[code, "message", null]`. */
export type StratumErrorTuple = [number, string, null];

export function errorTuple(code: number, message: string): StratumErrorTuple {
  return [code, message, null];
}
