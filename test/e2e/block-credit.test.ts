/**
 * A block share below its share target is credited at what it proves (its own difficulty), not at the
 * assigned difficulty: on regtest a miner started at a high difficulty finds blocks far below it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import type { ShareVerdict } from "../../src/core/shares/validator.ts";

test("a block below its share target is credited at the share's own difficulty (hashrate, vardiff, events)", async () => {
  const pool = await startTestPool({ overrides: { startdiff: 1000 } });
  const c = await RawClient.connect(pool.port);
  try {
    const verdicts: ShareVerdict[] = [];
    pool.app.engine.bus.on("share", (e) => verdicts.push(e.verdict));
    const address = REGTEST_ADDRESSES.p2wpkh;
    const job = await c.handshake(`${address}.rig1`);
    assert.equal(c.difficulty, 1000, "the session starts at the assigned difficulty 1000");
    const work = c.work(job, Buffer.alloc(c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(`${address}.rig1`, work, c.findNonce(work, "block")));
    assert.equal(r.result, true, JSON.stringify(r.error));
    const v = await waitFor(() => verdicts.find((x) => x.block), "the block share's verdict");
    assert.ok(v.accepted);
    assert.ok(v.shareDifficulty < 1000, `a regtest block hash is far below 1000 (${v.shareDifficulty})`);
    assert.equal(v.difficulty, v.shareDifficulty, "credited at what the share proves");
    // Hashrate: 1000 credited in a minute would read ~4.5e10 H/s on the 1-minute window.
    const rate = pool.app.engine.userHashrate(address, Date.now() + 60_000);
    assert.ok(rate, "the user has a hashrate entry");
    const creditedAtAssigned = ((1000 * 2 ** 32) / 60) * (1 - Math.exp(-1));
    assert.ok(rate["1m"] < creditedAtAssigned / 1e6, `1-minute hashrate ${rate["1m"]} H/s`);
  } finally {
    c.close();
    await pool.close();
  }
});
