import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";

test("a share that meets the regtest target is submitted as a block and becomes the tip", async () => {
  const pool = await startTestPool();
  try {
    const c = await RawClient.connect(pool.port);
    const user = `${REGTEST_ADDRESSES.p2wpkh}.rig1`;
    const job = await c.handshake(user);
    const h0 = pool.node.height();
    const work = c.work(job, Buffer.alloc(c.extranonce2Size));
    const nonce = c.findNonce(work, "block");
    const r = await c.request("mining.submit", c.submitParams(user, work, nonce));
    assert.equal(r.error, null, JSON.stringify(r.error));
    assert.equal(r.result, true);
    await waitFor(() => pool.node.height() >= h0 + 1, "tip to advance");
    // New work follows the new tip with clean_jobs.
    const next = await c.until(() => c.notifies().find((n) => n.cleanJobs && n.prevhashStratum !== job.prevhashStratum), 10_000, "new block notify");
    assert.ok(next);
    c.close();
  } finally {
    await pool.close();
  }
});
