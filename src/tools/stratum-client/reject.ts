/**
 * Classifies a pool's answer to `mining.submit`. Pools answer in two shapes:
 * the conventional `error: [code, "message", null]` (codes 20–25, public-pool, miningcore, OCEAN's
 * `[23,"high-hash"]`) and ckpool's `result: false` + `"reject-reason": "Stale"` (or a bare string in
 * `error` for malformed params). Message text is checked before the code because it is
 * more specific (both "Stale" and "Invalid JobID" arrive as 21 on some pools). Pure.
 */
import { errorCode, errorMessage } from "./messages.ts";

/** Why a share was rejected, as far as the client can tell. */
export const RejectReason = {
  /** The job is unknown to the pool (never existed or expired). */
  JobNotFound: "job-not-found",
  /** The job belonged to a previous block. */
  Stale: "stale",
  Duplicate: "duplicate",
  /** The hash did not meet the share target ("Above target", "high-hash", 23). */
  LowDifficulty: "low-difficulty",
  /** ntime outside the pool's window. */
  Ntime: "ntime",
  /** Version bits outside the negotiated mask. */
  Version: "version",
  /** Wrong extranonce2 length. */
  Extranonce2: "extranonce2",
  Unauthorized: "unauthorized",
  NotSubscribed: "not-subscribed",
  /** The pool could not parse the params (ckpool's "No nonce", "Params not array", ...). */
  Malformed: "malformed",
  /** Anything else (code 20 with unknown text, or no text at all). */
  Other: "other",
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** Verdict on one submit answer. */
export interface SubmitVerdict {
  accepted: boolean;
  /** Set when not accepted. */
  reason?: RejectReason;
  /** Numeric Stratum error code, when the pool sent one. */
  code?: number;
  /** The pool's own text (error message or ckpool reject-reason). */
  message?: string;
}

const TEXT_RULES: ReadonlyArray<[RegExp, RejectReason]> = [
  // ckpool's malformed-param strings all start with "No " / "Params" / "Invalid array".
  [/^(no (job_id|nonce2?|ntime|username)|params not array|invalid array size)\b/, RejectReason.Malformed],
  [/duplicate/, RejectReason.Duplicate],
  [/above target|high-hash|low.?diff|difficulty too low|low difficulty|too low/, RejectReason.LowDifficulty],
  [/stale/, RejectReason.Stale],
  [/job ?id|job.?not found|unknown job|job_id|invalid job/, RejectReason.JobNotFound],
  [/ntime|time-too-(new|old)|time out of range/, RejectReason.Ntime],
  [/version/, RejectReason.Version],
  [/nonce2|extranonce/, RejectReason.Extranonce2],
  [/not subscribed|subscribe first/, RejectReason.NotSubscribed],
  [/unauthori[sz]ed|not authori[sz]ed|worker mismatch|authori[sz]e first/, RejectReason.Unauthorized],
];

const CODE_RULES: Readonly<Record<number, RejectReason>> = {
  21: RejectReason.Stale,
  22: RejectReason.Duplicate,
  23: RejectReason.LowDifficulty,
  24: RejectReason.Unauthorized,
  25: RejectReason.NotSubscribed,
};

/** Maps a reject text to a reason, or undefined when no rule matches. */
export function reasonFromText(text: string): RejectReason | undefined {
  const t = text.trim().toLowerCase();
  for (const [re, reason] of TEXT_RULES) if (re.test(t)) return reason;
  return undefined;
}

/**
 * Judges a submit answer. Accepted means `result === true` and no error; everything else is a reject
 * (including `result: null` with no error, which some proxies send).
 */
export function classifySubmitAnswer(result: unknown, error: unknown, rejectReason?: string): SubmitVerdict {
  const noError = error === null || error === undefined || error === false;
  if (result === true && noError) return { accepted: true };
  const code = errorCode(error);
  const message = rejectReason ?? errorMessage(error);
  const reason = (message !== undefined ? reasonFromText(message) : undefined) ?? (code !== undefined ? CODE_RULES[code] : undefined) ?? RejectReason.Other;
  const verdict: SubmitVerdict = { accepted: false, reason };
  if (code !== undefined) verdict.code = code;
  if (message !== undefined) verdict.message = message;
  return verdict;
}
