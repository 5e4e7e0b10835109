/** Why a share was refused: the share vocabulary the validator, the Stratum session, the abuse guard and the metrics share. */

/** Why a share was refused. One value per check, in the order the checks run (src/core/shares/validator.ts). */
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
