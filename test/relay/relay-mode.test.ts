import { test } from "node:test";
import assert from "node:assert/strict";
import { emptyBlockTemplate } from "../../src/core/relay/relay-mode.ts";
import { prepareTemplate, type GbtTemplate } from "../../src/core/work/template.ts";

test("the fast-tip empty-block template keeps the tip and drops the transactions, their fees and the witness commitment", () => {
  const gbt: GbtTemplate = {
    version: 0x20000000,
    previousblockhash: "11".repeat(32),
    transactions: [
      { data: "02".repeat(60), txid: "aa".repeat(32), fee: 1500 },
      { data: "02".repeat(70), txid: "bb".repeat(32), fee: 2500 },
    ],
    coinbasevalue: 312_504_000,
    bits: "207fffff",
    curtime: 1_700_000_000,
    height: 500,
    default_witness_commitment: "6a24aa21a9ed" + "cc".repeat(32),
  };
  const empty = emptyBlockTemplate(gbt);
  assert.equal(empty.transactions.length, 0);
  assert.equal(BigInt(empty.coinbasevalue), 312_500_000n);
  assert.equal(empty.default_witness_commitment, undefined);
  assert.equal(empty.previousblockhash, gbt.previousblockhash);
  assert.equal(empty.height, 500);
  const t = prepareTemplate(empty, { seq: 1, versionMask: 0x1fffe000, source: "x", nowMs: 0 });
  assert.equal(t.txCount, 0);
  assert.equal(t.witnessCommitmentScript, null);
  assert.equal(gbt.transactions.length, 2, "the original is untouched");
});
