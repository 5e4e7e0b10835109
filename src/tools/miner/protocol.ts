/** Messages between the miner and its hashing threads (structured-clone safe). */

/** A range of nonces over one fixed header. */
export interface ScanUnit {
  /** Miner-assigned id, echoed back. */
  unitId: number;
  /** Abort generation the unit belongs to: the unit stops as soon as the shared generation differs. */
  generation: number;
  /** 80-byte header, nonce field ignored. */
  header: Uint8Array;
  shareTargetLE: Uint8Array;
  networkTargetLE: Uint8Array;
  startNonce: number;
  count: number;
  /** Stop the unit at the first block (regtest: every other hash is one). */
  stopOnBlock: boolean;
  /** Stop the unit once this many nonces were found (0: scan the whole range). */
  stopAfterFound?: number;
}

/** Why a unit ended. */
export type ScanEnd = "exhausted" | "aborted" | "block" | "found";

export type ToWorker = { type: "scan"; unit: ScanUnit };

export type FromWorker =
  | { type: "ready" }
  | { type: "found"; unitId: number; nonces: number[] }
  | { type: "progress"; hashes: number }
  | { type: "done"; unitId: number; hashes: number; end: ScanEnd };

/** Hashes per chunk between abort checks (~7 ms at 570 kH/s on one core). */
export const SCAN_CHUNK = 4096;
