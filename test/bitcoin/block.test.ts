import { test } from "node:test";
import assert from "node:assert/strict";
import { Block, Transaction } from "bitcoinjs-lib";
import { serializeBlock } from "../../src/core/bitcoin/block.ts";
import { encodeCompactSize, decodeCompactSize } from "../../src/core/bitcoin/varint.ts";
import { buildHeader } from "../../src/core/bitcoin/header.ts";
import { hexToBuffer, reverseHex, sha256d } from "../../src/core/bitcoin/hash.ts";
import { merkleBranch, merkleRootFromBranch, witnessCommitment, witnessCommitmentScript } from "../../src/core/bitcoin/merkle.ts";
import { buildCoinbase, assembleCoinbase, coinbaseTxid, coinbaseTxWithWitness } from "../../src/core/bitcoin/coinbase.ts";

// The genesis block's coinbase ("The Times 03/Jan/2009 …"), txid 4a5e1e4b…a33b.
const GENESIS_COINBASE =
  "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d6573" +
  "2030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e" +
  "6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4" +
  "f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

test("CompactSize boundaries", () => {
  const cases: Array<[number, string]> = [
    [0, "00"],
    [0xfc, "fc"],
    [0xfd, "fdfd00"],
    [0xffff, "fdffff"],
    [0x10000, "fe00000100"],
    [0xffffffff, "feffffffff"],
    [0x100000000, "ff0000000001000000"],
  ];
  for (const [n, hex] of cases) {
    assert.equal(encodeCompactSize(n).toString("hex"), hex);
    assert.deepEqual(decodeCompactSize(Buffer.from(hex, "hex")), { value: n, size: hex.length / 2 });
  }
});

test("serializeBlock reproduces the genesis block", () => {
  const coinbase = hexToBuffer(GENESIS_COINBASE);
  assert.equal(reverseHex(coinbaseTxid(coinbase).toString("hex")), "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
  const header = buildHeader({
    version: 1,
    prevhashLE: Buffer.alloc(32),
    merkleRootLE: coinbaseTxid(coinbase),
    ntime: 1231006505,
    nbits: 0x1d00ffff,
    nonce: 2083236893,
  });
  const hex = serializeBlock(header, coinbase, []);
  assert.equal(hex.length, (80 + 1 + coinbase.length) * 2);
  assert.equal(hex.slice(160, 162), "01");
  const block = Block.fromHex(hex);
  assert.equal(block.getId(), "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  assert.equal(block.checkTxRoots(), true);
});

test("a segwit block from a template: stratum pieces assemble to a block whose merkle root and witness commitment check", () => {
  // 3 template transactions (4 leaves with the coinbase) and 4 (5 leaves: duplicate-last rule).
  for (const count of [3, 4]) {
    const txs: Transaction[] = [];
    for (let i = 0; i < count; i++) {
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(sha256d(Buffer.from([i])), i);
      tx.addOutput(Buffer.from("0014751e76e8199196d454941c45d1b3a323f1433bd6", "hex"), BigInt(1000 + i));
      tx.setWitness(0, [Buffer.alloc(72, i + 1), Buffer.alloc(33, 2)]);
      txs.push(tx);
    }
    // GBT shape: data (witness serialisation), txid and hash (wtxid), display order.
    const gbt = txs.map((tx) => ({ data: tx.toHex(), txid: tx.getId(), hash: Buffer.from(tx.getHash(true)).reverse().toString("hex") }));
    const branch = merkleBranch(gbt.map((t) => hexToBuffer(t.txid).reverse()));
    const commitment = witnessCommitment(gbt.map((t) => hexToBuffer(t.hash).reverse()));

    const parts = buildCoinbase({
      height: 1000,
      signatureText: "/TheBitcoinGame/",
      extranonce1Size: 4,
      extranonce2Size: 8,
      outputs: [{ valueSats: 5_000_000_000n, script: Buffer.from("0014751e76e8199196d454941c45d1b3a323f1433bd6", "hex") }],
      witnessCommitmentScript: witnessCommitmentScript(commitment),
    });
    const coinbase = assembleCoinbase(parts.coinb1, Buffer.from("01020304", "hex"), Buffer.alloc(8, 7), parts.coinb2);
    const header = buildHeader({
      version: 0x20000000,
      prevhashLE: sha256d(Buffer.from("prev")),
      merkleRootLE: merkleRootFromBranch(coinbaseTxid(coinbase), branch),
      ntime: 1_700_000_000,
      nbits: 0x207fffff,
      nonce: 0,
    });
    const hex = serializeBlock(header, coinbaseTxWithWitness(coinbase), gbt.map((t) => t.data));
    const block = Block.fromHex(hex);
    assert.equal(block.transactions?.length, count + 1);
    assert.equal(block.hasWitnessCommit(), true);
    assert.equal(block.checkTxRoots(), true, `merkle root and witness commitment with ${count} template txs`);
    assert.deepEqual(
      block.transactions?.[0].ins[0].witness.map((w) => Buffer.from(w)),
      [Buffer.alloc(32)],
    );
  }
});

test("serializeBlock refuses a short header or odd hex", () => {
  assert.throws(() => serializeBlock(Buffer.alloc(79), Buffer.alloc(60), []), RangeError);
  assert.throws(() => serializeBlock(Buffer.alloc(80), Buffer.alloc(60), ["abc"]), TypeError);
});
