// buildCoinbase against test/vectors/coinbase.json: the exact coinb1/coinb2 bytes (a regression pin), and
// every assembled coinbase decoded by bitcoinjs-lib to check its structure independently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Transaction } from "bitcoinjs-lib";
import { buildCoinbase, COINBASE_SCRIPTSIG_MAX_BYTES } from "../../src/core/bitcoin/coinbase.ts";

interface Case {
  name: string;
  height: number;
  signatureText: string;
  extranonce1Size: number;
  extranonce2Size: number;
  outputs: Array<{ scriptHex: string; valueSats: string }>;
  witnessCommitmentHex?: string;
  expect: { coinb1Hex: string; coinb2Hex: string; signatureUsed: string; scriptSigBytes: number };
}
const cases = (JSON.parse(readFileSync(new URL("../vectors/coinbase.json", import.meta.url), "utf8")) as { cases: Case[] }).cases;

/** BIP34: the bytes of Bitcoin Core's `CScript() << height`: OP_1..OP_16 for 1..16, else a minimal little-endian push. */
function bip34Push(height: number): Buffer {
  if (height >= 1 && height <= 16) return Buffer.from([0x50 + height]);
  const bytes: number[] = [];
  for (let h = height; h > 0; h >>= 8) bytes.push(h & 0xff);
  if (bytes[bytes.length - 1] & 0x80) bytes.push(0);
  return Buffer.from([bytes.length, ...bytes]);
}

for (const c of cases) {
  test(`coinbase vector: ${c.name}`, () => {
    const parts = buildCoinbase({
      height: c.height,
      signatureText: c.signatureText,
      extranonce1Size: c.extranonce1Size,
      extranonce2Size: c.extranonce2Size,
      outputs: c.outputs.map((o) => ({ script: Buffer.from(o.scriptHex, "hex"), valueSats: BigInt(o.valueSats) })),
      witnessCommitmentScript: c.witnessCommitmentHex ? Buffer.from(c.witnessCommitmentHex, "hex") : undefined,
    });
    assert.equal(parts.coinb1.toString("hex"), c.expect.coinb1Hex);
    assert.equal(parts.coinb2.toString("hex"), c.expect.coinb2Hex);
    assert.equal(parts.signatureUsed, c.expect.signatureUsed);
    assert.equal(parts.scriptSigBytes, c.expect.scriptSigBytes);

    const en1 = Buffer.alloc(c.extranonce1Size, 0xaa);
    const en2 = Buffer.alloc(c.extranonce2Size, 0xbb);
    const tx = Transaction.fromBuffer(Buffer.concat([parts.coinb1, en1, en2, parts.coinb2]));
    assert.equal(tx.ins.length, 1);
    assert.ok(tx.isCoinbase(), "null prevout");
    const sig = Buffer.from(tx.ins[0].script);
    assert.ok(sig.length <= COINBASE_SCRIPTSIG_MAX_BYTES, "scriptSig within consensus' 100 bytes");
    assert.equal(sig.length, c.expect.scriptSigBytes);
    assert.deepEqual(sig.subarray(0, bip34Push(c.height).length), bip34Push(c.height), "BIP34 height first");
    assert.ok(sig.includes(Buffer.concat([en1, en2])), "extranonce1 then extranonce2 in the scriptSig");
    if (c.expect.signatureUsed) assert.ok(sig.includes(Buffer.from(c.expect.signatureUsed)), "signature text in the scriptSig");
    if (c.signatureText.length > c.expect.signatureUsed.length) assert.ok(c.signatureText.startsWith(c.expect.signatureUsed.slice(0, -1)), "a truncated signature keeps its start");
    const outs = tx.outs.map((o) => ({ scriptHex: Buffer.from(o.script).toString("hex"), valueSats: String(o.value) }));
    const want = [...c.outputs, ...(c.witnessCommitmentHex ? [{ scriptHex: c.witnessCommitmentHex, valueSats: "0" }] : [])];
    assert.deepEqual(outs, want, "payout outputs in order, then the witness commitment at 0 sat");
    assert.equal(tx.locktime, 0);
  });
}
