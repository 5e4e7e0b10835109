/**
 * One block per parent, but not forever: when the chain goes back to a parent the pool already had a
 * block accepted on (invalidateblock, a reorg), new work on that parent clears the record, and the next
 * block found on it is submitted instead of being suppressed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockFound } from "../../src/core/engine/engine.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import type { BlockTemplate } from "../../src/core/bitcoind/rpc-types.ts";
import { startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";

const user = `${REGTEST_ADDRESSES.p2wpkh}.back`;

test("after the chain returns to a parent (new-block work on it again), a new block on it is submitted again, not suppressed", async (t) => {
  const pool = await startTestPool();
  t.after(() => pool.close());
  const rpc = new RpcClient({ url: pool.node.rpcUrl, user: pool.node.rpcUser, pass: pool.node.rpcPass });
  t.after(() => rpc.close());
  const blocks: BlockFound[] = [];
  let suppressed = 0;
  pool.app.engine.bus.on("block", (b) => blocks.push(b));
  pool.app.engine.bus.on("blockSuppressed", () => suppressed++);
  const c = await RawClient.connect(pool.port);
  t.after(() => c.close());

  const job0 = await c.handshake(user);
  const parent = pool.app.engine.currentWork()!.prevHash;
  const gbtOnParent = await rpc.getBlockTemplate(["segwit"]);
  assert.equal(gbtOnParent.previousblockhash, parent);
  const submitting: string[] = [];
  pool.app.engine.bus.on("blockSubmitting", (e) => submitting.push(e.hashHex));
  const w0 = c.work(job0, Buffer.alloc(c.extranonce2Size));
  assert.equal((await c.request("mining.submit", c.submitParams(user, w0, c.findNonce(w0, "block")))).result, true);
  const first = await waitFor(() => blocks[0], "the first block's outcome", 15_000);
  assert.equal(first.outcome, "accepted");
  await waitFor(() => pool.app.engine.currentWork()?.prevHash === first.hashHex, "work on the pool's block", 15_000);

  // The chain goes back to `parent` (bcoin's getblocktemplate keeps serving its cached template after
  // invalidateblock, so the node's template on `parent`, saved before, is handed to the engine as the
  // template source would hand it a new-block template).
  // Reaches into the private template source on purpose: no public call hands the engine a template.
  const source = (pool.app.engine as unknown as { templateSource: unknown }).templateSource as { opts: { onTemplate(t: BlockTemplate, node: string, reason: string): void } };
  const seen = c.notifies().length;
  source.opts.onTemplate(gbtOnParent, "btcd[0]", "new_block");
  assert.equal(pool.app.engine.currentWork()?.prevHash, parent, "work on the old parent again");
  const job1 = await c.until(() => c.notifies().slice(seen).filter((n) => n.cleanJobs && n.prevhashStratum === job0.prevhashStratum).at(-1), 15_000, "a clean job on the old parent");
  assert.notEqual(job1.jobId, job0.jobId);
  const e2 = Buffer.alloc(c.extranonce2Size);
  e2[0] = 1; // a different coinbase: a different block
  const w1 = c.work(job1, e2);
  assert.equal((await c.request("mining.submit", c.submitParams(user, w1, c.findNonce(w1, "block")))).result, true);
  const second = await waitFor(() => blocks[1], "the second block on the same parent submitted", 15_000);
  assert.equal(suppressed, 0, "not suppressed");
  assert.notEqual(second.hashHex, first.hashHex);
  assert.deepEqual(submitting, [first.hashHex, second.hashHex], "both blocks on the parent were sent to the node");
});
