import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Transaction } from "bitcoinjs-lib";
import {
  buildCoinbase,
  assembleCoinbase,
  coinbaseTxid,
  coinbaseTxWithWitness,
  payoutOutputs,
  type CoinbaseParams,
} from "../../src/core/bitcoin/coinbase.ts";
import { encodeBip34Height } from "../../src/core/bitcoin/script-number.ts";
import { witnessCommitment, witnessCommitmentScript } from "../../src/core/bitcoin/merkle.ts";
import { BitcoinValueError } from "../../src/core/bitcoin/errors.ts";

const P2WPKH = Buffer.from("0014751e76e8199196d454941c45d1b3a323f1433bd6", "hex");
const P2PKH = Buffer.from("76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac", "hex");

function base(overrides: Partial<CoinbaseParams> = {}): CoinbaseParams {
  return {
    height: 840000,
    signatureText: "/TheBitcoinGame/",
    extranonce1Size: 4,
    extranonce2Size: 8,
    outputs: [{ valueSats: 312_500_000n, script: P2WPKH }],
    ...overrides,
  };
}

function parse(params: CoinbaseParams, en1 = Buffer.alloc(params.extranonce1Size, 0xaa), en2 = Buffer.alloc(params.extranonce2Size, 0xbb)) {
  const parts = buildCoinbase(params);
  const raw = assembleCoinbase(parts.coinb1, en1, en2, parts.coinb2);
  const tx = Transaction.fromBuffer(raw);
  return { parts, raw, tx, scriptSig: Buffer.from(tx.ins[0].script) };
}

test("coinb1 ‖ en1 ‖ en2 ‖ coinb2 parses as a coinbase with the BIP34 push, signature and extranonces", () => {
  const { parts, raw, tx, scriptSig } = parse(base());
  assert.equal(tx.isCoinbase(), true);
  assert.equal(tx.version, 1);
  assert.equal(tx.locktime, 0);
  assert.equal(tx.ins[0].sequence, 0xffffffff);
  assert.equal(tx.ins[0].index, 0xffffffff);
  assert.equal(scriptSig.subarray(0, 4).toString("hex"), "0340d10c");
  assert.ok(scriptSig.includes(Buffer.from("/TheBitcoinGame/")));
  // The extranonces are the last push: opcode 12 then en1 ‖ en2.
  assert.equal(scriptSig.subarray(-13).toString("hex"), "0c" + "aa".repeat(4) + "bb".repeat(8));
  assert.equal(scriptSig.length, parts.scriptSigBytes);
  assert.equal(parts.warnings.length, 0);
  assert.equal(parts.signatureUsed, "/TheBitcoinGame/");
  // coinb1 ends right before extranonce1.
  assert.equal(raw.indexOf(Buffer.alloc(4, 0xaa)), parts.coinb1.length);
  assert.equal(tx.outs.length, 1);
  assert.equal(tx.outs[0].value, 312_500_000n);
  assert.deepEqual(Buffer.from(tx.outs[0].script), P2WPKH);
  assert.equal(Buffer.from(coinbaseTxid(raw)).reverse().toString("hex"), tx.getId());
});

test("a BIP34 OP_N height (regtest heights 1..16) is kept as Core serialises it", () => {
  const { scriptSig } = parse(base({ height: 5 }));
  assert.equal(scriptSig[0], 0x55);
});

test("a long signature is truncated to keep the scriptSig at 100 bytes, with a warning", () => {
  const long = "x".repeat(200);
  const { parts, scriptSig } = parse(base({ signatureText: long }));
  assert.equal(scriptSig.length, 100);
  assert.equal(parts.warnings.length, 1);
  assert.match(parts.warnings[0], /truncated from 200 to \d+ bytes/);
  assert.ok(long.startsWith(parts.signatureUsed));
  // 100 - 4 (height) - 13 (extranonce push) - 2 (OP_PUSHDATA1 len) = 81 bytes.
  assert.equal(parts.signatureUsed.length, 81);
});

test("truncation never splits a UTF-8 character", () => {
  const text = "€".repeat(40); // 3 bytes each
  const { parts, scriptSig } = parse(base({ signatureText: text }));
  assert.ok(scriptSig.length <= 100);
  assert.ok(text.startsWith(parts.signatureUsed));
  assert.equal(Buffer.byteLength(parts.signatureUsed) % 3, 0);
});

test("an empty signature adds no push", () => {
  const { parts, scriptSig } = parse(base({ signatureText: "" }));
  assert.equal(scriptSig.toString("hex"), "0340d10c0c" + "aa".repeat(4) + "bb".repeat(8));
  assert.equal(parts.signatureUsed, "");
  assert.equal(parts.warnings.length, 0);
});

test("scriptSig stays within 2..100 bytes and parses for any signature, extranonce sizes and height", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 150, unit: "binary" }),
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (sig, en1, en2, height) => {
        const { parts, scriptSig } = parse(base({ signatureText: sig, extranonce1Size: en1, extranonce2Size: en2, height }));
        assert.ok(scriptSig.length >= 2 && scriptSig.length <= 100);
        assert.deepEqual(scriptSig.subarray(0, encodeBip34Height(height).length), encodeBip34Height(height));
        const sigBytes = Buffer.from(sig, "utf8");
        assert.ok(sigBytes.subarray(0, Buffer.byteLength(parts.signatureUsed)).equals(Buffer.from(parts.signatureUsed, "utf8")));
        assert.equal(parts.warnings.length > 0, Buffer.byteLength(parts.signatureUsed) < sigBytes.length);
      },
    ),
    { numRuns: 300 },
  );
});

test("extranonces too large for the scriptSig are refused", () => {
  assert.throws(
    () => buildCoinbase(base({ extranonce1Size: 50, extranonce2Size: 50 })),
    (e: unknown) => e instanceof BitcoinValueError && e.code === "COINBASE_INVALID",
  );
});

test("witness commitment output is appended with value 0, and the witness serialisation keeps the txid", () => {
  const commitment = witnessCommitment([Buffer.alloc(32, 1)]);
  const script = witnessCommitmentScript(commitment);
  const { raw, tx } = parse(base({ witnessCommitmentScript: script }));
  assert.equal(tx.outs.length, 2);
  assert.equal(tx.outs[1].value, 0n);
  assert.deepEqual(Buffer.from(tx.outs[1].script), script);

  const withWitness = coinbaseTxWithWitness(raw);
  const wtx = Transaction.fromBuffer(withWitness);
  assert.equal(wtx.hasWitnesses(), true);
  assert.deepEqual(wtx.ins[0].witness.map((w) => Buffer.from(w)), [Buffer.alloc(32)]);
  assert.equal(wtx.getId(), tx.getId());
  assert.equal(wtx.byteLength(false), raw.length);
  assert.equal(withWitness.length, raw.length + 2 + 1 + 1 + 32); // marker+flag, item count, item length, item
  assert.throws(() => coinbaseTxWithWitness(withWitness), BitcoinValueError);
  assert.throws(
    () => buildCoinbase(base({ witnessCommitmentScript: Buffer.from("6a", "hex") })),
    (e: unknown) => e instanceof BitcoinValueError && e.code === "COINBASE_INVALID",
  );
});

test("txVersion 2 is honoured", () => {
  assert.equal(parse(base({ txVersion: 2 })).tx.version, 2);
});

test("payoutOutputs: donation = floor(value × pct / 100), omitted when zero", () => {
  const value = 312_500_000n + 12_345_679n;
  assert.deepEqual(payoutOutputs({ coinbaseValueSats: value, minerScript: P2WPKH }), [{ valueSats: value, script: P2WPKH }]);
  const split = payoutOutputs({ coinbaseValueSats: value, minerScript: P2WPKH, donationPercent: 1.5, donationScript: P2PKH });
  const donation = (value * 15n) / 1000n;
  assert.deepEqual(split, [
    { valueSats: value - donation, script: P2WPKH },
    { valueSats: donation, script: P2PKH },
  ]);
  // Tiny value: floor gives 0, so no donation output.
  assert.equal(payoutOutputs({ coinbaseValueSats: 50n, minerScript: P2WPKH, donationPercent: 1, donationScript: P2PKH }).length, 1);
  assert.throws(
    () => payoutOutputs({ coinbaseValueSats: value, minerScript: P2WPKH, donationPercent: 2 }),
    (e: unknown) => e instanceof BitcoinValueError && e.code === "COINBASE_INVALID",
  );
  assert.throws(() => payoutOutputs({ coinbaseValueSats: value, minerScript: P2WPKH, donationPercent: 101 }), BitcoinValueError);

  const { tx } = parse(base({ outputs: split }));
  assert.equal(tx.outs.length, 2);
  assert.equal(tx.outs[0].value + tx.outs[1].value, value);
});
