/** Shared pieces of the hardening tests: a pool with test-friendly limits, a normal miner, counters. */
import assert from "node:assert/strict";
import { startBenchPool, type BenchPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { MAINNET_ADDRESSES } from "../support/addresses.ts";
import type { DevOverrides } from "../../src/config/load.ts";
import type { AbuseStats } from "../../src/core/security/abuse-guard.ts";

export const USER = `${MAINNET_ADDRESSES.p2wpkh}.rig1`;

/**
 * A test pool on the benchmark template source (mainnet bits: a share is never a block, so "a valid
 * share is accepted" is testable) where loopback is NOT allow-listed (tbg dev allow-lists it), so bans
 * apply to the tests' own connections unless a test allow-lists it again.
 */
export function startHardenedPool(overrides: DevOverrides = {}, opts: { txs?: 0 | 3000 } = {}): Promise<BenchPool> {
  return startBenchPool({ ...opts, overrides: { ...overrides, bans: { allowlist: [], ...overrides.bans } } });
}

type AnyPool = Pick<BenchPool, "app" | "port">;

export function stats(pool: AnyPool): AbuseStats {
  return pool.app.engine.status().abuse;
}

/** The proof every hardening test ends with: a normal miner handshakes and gets a valid share accepted. */
export async function assertServesNormalMiner(pool: AnyPool, user = USER): Promise<void> {
  const c = await RawClient.connect(pool.port);
  try {
    const job = await c.handshake(user);
    const work = c.work(job, Buffer.from("00000000000000aa", "hex").subarray(0, c.extranonce2Size));
    const nonce = c.findNonce(work, "share");
    const r = await c.request("mining.submit", c.submitParams(user, work, nonce));
    assert.equal(r.error, null, `a normal miner's share was refused: ${JSON.stringify(r.error)}`);
    assert.equal(r.result, true);
  } finally {
    c.close();
  }
}

/** Resolves when the server has closed `c` (bounded). */
export async function closedByServer(c: RawClient, timeoutMs = 5000): Promise<void> {
  await c.until(() => c.closed, timeoutMs, "the server to close the connection").catch((err: Error) => {
    if (!c.closed) throw err;
  });
}

/** The error replies a client got, as [code, message]. */
export function errorsOf(c: RawClient): Array<[number, string]> {
  return c.log.flatMap((m) => ("error" in m && m.error ? [[m.error[0], m.error[1]] as [number, string]] : []));
}
