/**
 * A CPU miner that does not pause after a block (like cpuminer's `minerd`) grinding on a network whose
 * difficulty is far below `mindiff` (regtest): the miner never gets a difficulty below `mindiff`, the
 * pool submits one block per parent (the rest are counted, not submitted), the node ends with a single
 * chain (one tip per height), no submission answered "inconclusive" and none failed (no HTTP 503).
 * The 30 s run happens in CI (CI=true) and with TBG_LONG_TESTS=1; 8 s keeps local runs quick.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import type { BlockFound } from "../../src/core/engine/engine.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";

const GRIND_SEC = process.env.TBG_LONG_TESTS || process.env.CI ? 30 : 8;
/** Low enough that the in-process miner finds hundreds of shares a second, each of them a regtest block. */
const MINDIFF = 1e-6;

test(`a miner grinding below mindiff for ${GRIND_SEC} s: difficulty never below mindiff, one block per parent, one chain tip, no inconclusive, no failed submit`, async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const pool = await startTestPool({
    node,
    // mindiff = maxdiff: vardiff cannot raise the miner out of the storm.
    patch: (c) => Object.assign(c, { mindiff: MINDIFF, startdiff: MINDIFF, maxdiff: MINDIFF }),
  });
  t.after(() => pool.close());
  const blocks: BlockFound[] = [];
  let suppressed = 0;
  pool.app.engine.bus.on("block", (b) => blocks.push(b));
  pool.app.engine.bus.on("blockSuppressed", () => suppressed++);
  const h0 = node.height();

  const difficulties = new Set<number>();
  const miner = await startMiner({ url: pool.url, user: `${REGTEST_ADDRESSES.p2wpkh}.storm`, threads: 1, blockPauseMs: 0, durationSec: GRIND_SEC });
  miner.on("job", (ctx) => difficulties.add(ctx.difficulty));
  await new Promise<void>((resolve) => miner.once("stopped", () => resolve()));
  await miner.close();
  // Let submissions in flight finish.
  await pool.app.engine.close();

  const rpc = new RpcClient({ url: node.rpcUrl, user: node.rpcUser, pass: node.rpcPass });
  t.after(() => rpc.close());
  const tips = await rpc.call<Array<{ height: number; status: string }>>("getchaintips");
  const s = miner.stats;
  const counts = pool.app.engine.status().blocks;
  console.log(
    `# ${GRIND_SEC} s: ${s.hashes} hashes (${Math.round(s.hashrate)} H/s), ${s.submitted} shares, ${counts.found} blocks submitted, ${counts.accepted} accepted, ` +
      `${suppressed} candidates not submitted, height ${h0} → ${node.height()}, ${tips.length} chain tip(s)`,
  );

  assert.ok(difficulties.size > 0, "the miner got work");
  assert.ok([...difficulties].every((d) => d >= MINDIFF), `difficulties sent: ${[...difficulties].join(", ")}`);
  assert.ok(blocks.length >= 2, `blocks found: ${blocks.length}`);
  assert.equal(tips.length, 1, `one chain tip, no side branches: ${JSON.stringify(tips.slice(0, 5))}`);
  assert.equal(node.height() - h0, counts.accepted, "every accepted block is one height of the single chain");
  const results = blocks.flatMap((b) => b.results);
  assert.deepEqual(results.filter((r) => r.result === "inconclusive"), [], "no inconclusive");
  assert.deepEqual(results.filter((r) => !r.accepted), [], "no failed or refused submission (no 503, no time-out)");
  assert.ok(blocks.every((b) => b.outcome === "accepted"));
  // One block per parent: never two submissions on the same previous block.
  const heights = blocks.map((b) => b.height);
  assert.equal(new Set(heights).size, heights.length, "one submitted block per height");
});
