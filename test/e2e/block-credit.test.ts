/**
 * A block share below its share target is submitted as a block but credited 0 (hashrate, vardiff,
 * accepted difficulty): crediting its own difficulty would bias the hashrate upwards, since such hashes
 * are seen only when they happen to be blocks. On regtest a miner at a high difficulty finds blocks far below it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import type { ShareVerdict } from "../../src/core/shares/validator.ts";

test("a block below its share target is submitted but credited 0 (hashrate, vardiff, events)", async () => {
  const pool = await startTestPool({ overrides: { startdiff: 1000 } });
  const c = await RawClient.connect(pool.port);
  try {
    const verdicts: ShareVerdict[] = [];
    pool.app.engine.bus.on("share", (e) => verdicts.push(e.verdict));
    const submitted: string[] = [];
    pool.app.engine.bus.on("blockSubmitting", (e) => submitted.push(e.hashHex));
    const address = REGTEST_ADDRESSES.p2wpkh;
    const job = await c.handshake(`${address}.rig1`);
    assert.equal(c.difficulty, 1000, "the session starts at the assigned difficulty 1000");
    const work = c.work(job, Buffer.alloc(c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(`${address}.rig1`, work, c.findNonce(work, "block")));
    assert.equal(r.result, true, JSON.stringify(r.error));
    const v = await waitFor(() => verdicts.find((x) => x.block), "the block share's verdict");
    assert.ok(v.accepted);
    assert.ok(v.shareDifficulty < 1000, `a regtest block hash is far below 1000 (${v.shareDifficulty})`);
    assert.equal(v.difficulty, 0, "a block below its share target adds 0 to the credited difficulty");
    assert.equal(submitted.length, 1, "it is still submitted as a block");
    const rate = pool.app.engine.userHashrate(address, Date.now() + 60_000);
    assert.ok(!rate || rate["1m"] === 0, `no hashrate credited (${JSON.stringify(rate)})`);
  } finally {
    c.close();
    await pool.close();
  }
});
