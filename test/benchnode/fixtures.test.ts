import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as bitcoin from "bitcoinjs-lib";
import { fixtureFile, loadFixture } from "../../src/tools/bench-node/fixtures.ts";
import { generateTemplateFixture, BENCH_BITS, blockSubsidySats } from "../../src/tools/bench-node/template-gen.ts";
import { nbitsToTarget } from "../../src/core/bitcoin/difficulty.ts";
import { parseBlockTemplate } from "../../src/core/bitcoind/rpc-types.ts";

test("the recorded fixtures are exactly what the generator produces", () => {
  for (const txs of [0, 3000] as const) {
    const onDisk = readFileSync(fixtureFile(txs), "utf8");
    assert.equal(onDisk, JSON.stringify(generateTemplateFixture(txs)) + "\n", `template-${txs}tx.json is stale: run scripts/gen-bench-fixtures.ts`);
  }
});

test("the 3000-tx template is consistent per an independent implementation (bitcoinjs-lib)", () => {
  const { template } = loadFixture(3000);
  assert.equal(template.transactions.length, 3000);
  const txs = template.transactions.map((t) => bitcoin.Transaction.fromHex(t.data));
  let fees = 0;
  let weight = 0;
  template.transactions.forEach((t, i) => {
    const tx = txs[i];
    assert.equal(tx.getId(), t.txid);
    assert.equal(Buffer.from(tx.getHash(true)).reverse().toString("hex"), t.hash);
    assert.equal(tx.weight(), t.weight);
    assert.ok(t.fee > 0 && t.fee <= 50 * tx.virtualSize());
    fees += t.fee;
    weight += t.weight;
  });
  assert.ok(txs.some((t) => t.hasWitnesses()) && txs.some((t) => !t.hasWitnesses()), "mix of segwit and legacy");
  assert.ok(weight < 4_000_000 - 4_000, `block weight ${weight}`);
  assert.equal(template.coinbasevalue, blockSubsidySats(template.height) + fees);
  // BIP141 commitment: witness root over [0x00…, wtxids…] then sha256d(root ‖ 32 zero bytes).
  let level: Buffer[] = [Buffer.alloc(32), ...txs.map((t) => Buffer.from(t.getHash(true)))];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(Buffer.from(bitcoin.crypto.hash256(Buffer.concat([level[i], level[i + 1] ?? level[i]]))));
    level = next;
  }
  const root = level[0];
  const commitment = bitcoin.crypto.hash256(Buffer.concat([root, Buffer.alloc(32)]));
  assert.equal(template.default_witness_commitment, "6a24aa21a9ed" + Buffer.from(commitment).toString("hex"));
});

test("templates pass the pool's own GBT validator and carry mainnet-era bits", () => {
  for (const txs of [0, 3000] as const) {
    const { template } = loadFixture(txs);
    const parsed = parseBlockTemplate(template);
    assert.equal(parsed.bits, BENCH_BITS);
    assert.equal(BigInt("0x" + parsed.target), nbitsToTarget(0x17023a04));
    assert.ok(parsed.previousblockhash.startsWith("0000000000000000000"));
    assert.ok(parsed.default_witness_commitment?.startsWith("6a24aa21a9ed"));
  }
});
