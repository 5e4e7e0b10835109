/**
 * End to end: `tbg miner` (its programmatic form) against the pool on the embedded bcoin regtest node.
 * For each of the five address types the miner finds 20 blocks, every one accepted by the node (its tip
 * advances by 20), and each block's coinbase pays the miner's address and carries the signature text.
 * One round mines on a template full of segwit transactions.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Block } from "bitcoinjs-lib";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { waitFor } from "../support/wait.ts";
import { REGTEST_ADDRESSES, type AddressKind } from "../support/addresses.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import { addressToOutputScript } from "../../src/core/bitcoin/address.ts";

let pool: TestPool;
let rpc: RpcClient;
const SIGNATURE = "/TBG-e2e/";

before(async () => {
  pool = await startTestPool({ overrides: { btcsig: SIGNATURE } });
  rpc = new RpcClient({ url: pool.node.rpcUrl, user: pool.node.rpcUser, pass: pool.node.rpcPass });
});
after(async () => {
  rpc.close();
  await pool.close();
});

async function blockAt(height: number): Promise<Block> {
  const hash = await rpc.getBlockHash(height);
  const hex = await rpc.call<string>("getblock", [hash, 0]);
  return Block.fromHex(hex);
}

async function mine20(kind: AddressKind): Promise<{ from: number; to: number }> {
  const address = REGTEST_ADDRESSES[kind];
  const from = pool.node.height();
  const miner = await startMiner({ url: pool.url, user: `${address}.${kind}`, maxBlocks: 20, threads: 1, durationSec: 120 });
  const stats = await miner.done;
  assert.equal(stats.stopReason, "max-blocks", `miner for ${kind} stopped: ${stats.stopReason}`);
  assert.equal(stats.blocksAccepted, 20, `${kind}: pool accepted ${stats.blocksAccepted} blocks`);
  // The pool answers a block share before submitblock completes: wait for the node, bounded.
  await waitFor(() => pool.node.height() >= from + 20, `${kind}: tip to advance by 20`);
  const to = pool.node.height();
  assert.equal(to - from, 20, `${kind}: tip advanced by ${to - from}`);
  const script = addressToOutputScript(address, "regtest");
  for (let h = from + 1; h <= to; h++) {
    const block = await blockAt(h);
    const coinbase = block.transactions![0];
    assert.ok(Buffer.from(coinbase.outs[0].script).equals(script), `${kind}: block ${h} pays the miner's address`);
    assert.ok(Buffer.from(coinbase.ins[0].script).includes(Buffer.from(SIGNATURE)), `${kind}: block ${h} carries the signature`);
  }
  return { from, to };
}

for (const kind of Object.keys(REGTEST_ADDRESSES) as AddressKind[]) {
  test(`20 blocks mined to a ${kind} address are all accepted, paying it`, async () => {
    await mine20(kind);
  });
}

test("blocks from a template with segwit transactions are accepted with the right witness commitment", async () => {
  const txids = await pool.node.fundAndCreateSegwitTransactions(5);
  assert.equal(txids.length, 5);
  // Let the pool pick up the new mempool (update_interval refresh or the next block's template).
  await pool.app.engine.refreshWork();
  const { from, to } = await mine20("p2wpkh");
  let segwitBlocks = 0;
  for (let h = from + 1; h <= to; h++) {
    const block = await blockAt(h);
    if (block.transactions!.length > 1 && block.transactions!.slice(1).some((t) => t.hasWitnesses())) {
      segwitBlocks++;
      assert.ok(block.checkTxRoots(), "merkle and witness commitment verify");
    }
  }
  assert.ok(segwitBlocks >= 1, "at least one accepted block carried the segwit transactions");
});
