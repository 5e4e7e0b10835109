/**
 * Miner identity from the Stratum username: `ADDRESS[.worker]` or `ADDRESS_worker` (* ckpool splits at the first `.` or `_`). Neither character occurs in base58 or bech32.
 */
export interface MinerIdentity {
  /** The full username as authorized. */
  username: string;
  /** Payout address (the "user" of events and records). */
  address: string;
  /** Worker name ("" when none was given). */
  worker: string;
  /** Output script paying `address`. */
  payoutScript: Buffer;
}

export function splitUsername(username: string): { address: string; worker: string } {
  const trimmed = username.trim();
  const i = trimmed.search(/[._]/);
  if (i === -1) return { address: trimmed, worker: "" };
  return { address: trimmed.slice(0, i), worker: trimmed.slice(i + 1) };
}

export type AuthResult = { ok: true; identity: MinerIdentity } | { ok: false; code: string; message: string };
