/**
 * Stratum error codes and share reject reasons.
 * Codes follow the convention every Stratum V1 pool and client shares (protocol.md §1.1; SPEC §3):
 * 20 other, 21 job not found / stale, 22 duplicate, 23 low difficulty, 24 unauthorized, 25 not subscribed.
 */

export const StratumCode = {
  Other: 20,
  JobNotFound: 21,
  Duplicate: 22,
  LowDifficulty: 23,
  Unauthorized: 24,
  NotSubscribed: 25,
} as const;
export type StratumCode = (typeof StratumCode)[keyof typeof StratumCode];

/** Why a share was refused. One value per check of SPEC §3, in the order the checks run. */
export const RejectReason = {
  Unauthorized: "unauthorized",
  NotSubscribed: "not_subscribed",
  InvalidParams: "invalid_params",
  JobNotFound: "job_not_found",
  BadExtranonce2: "bad_extranonce2",
  NtimeOutOfRange: "ntime_out_of_range",
  BadVersion: "bad_version",
  Duplicate: "duplicate",
  Stale: "stale",
  LowDifficulty: "low_difficulty",
  Other: "other",
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];
export const ALL_REJECT_REASONS: readonly RejectReason[] = Object.values(RejectReason);

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
