/**
 * CoinbaseFactory: the coinbase halves it hands out (spliced per user from a per-template cut) are byte for
 * byte what buildCoinbase makes for that payout, for every address type, signature and donation setting,
 * whichever payout came first on the template.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { address as baddress } from "bitcoinjs-lib";
import { createHash } from "node:crypto";
import { CoinbaseFactory, type Payout } from "../../src/core/work/coinbase-cache.ts";
import { buildCoinbase, payoutOutputs } from "../../src/core/bitcoin/coinbase.ts";
import { addressToOutputScript } from "../../src/core/bitcoin/address.ts";
import { prepareTemplate, type TemplateWork } from "../../src/core/work/template.ts";
import { loadFixture } from "../../src/tools/bench-node/fixtures.ts";

const h = (s: string, n: number) => createHash("sha256").update(s).digest().subarray(0, n);
/** One mainnet script of each type: P2PKH 25 B, P2SH 23 B, P2WPKH 22 B, P2WSH 34 B, P2TR 34 B. */
const SCRIPTS = [
  addressToOutputScript(baddress.toBase58Check(h("a", 20), 0x00), "mainnet"),
  addressToOutputScript(baddress.toBase58Check(h("b", 20), 0x05), "mainnet"),
  addressToOutputScript(baddress.toBech32(h("c", 20), 0, "bc"), "mainnet"),
  addressToOutputScript(baddress.toBech32(h("d", 32), 0, "bc"), "mainnet"),
  addressToOutputScript(baddress.toBech32(h("e", 32), 1, "bc"), "mainnet"),
];
const SIGNATURES = ["/TheBitcoinGame/", "", "custom sig ✓", "x".repeat(120)];

function template(withCommitment: boolean): TemplateWork {
  const gbt = loadFixture(0).template;
  return prepareTemplate(withCommitment ? gbt : { ...gbt, default_witness_commitment: undefined }, { seq: 1, versionMask: 0x1fffe000, source: "t", nowMs: 0 });
}

function reference(t: TemplateWork, p: Payout, donationPercent: number, donationScript: Buffer | null) {
  return buildCoinbase({
    height: t.height,
    signatureText: p.signature,
    extranonce1Size: 4,
    extranonce2Size: 8,
    outputs: payoutOutputs({ coinbaseValueSats: t.coinbaseValueSats, minerScript: p.script, donationPercent: donationScript ? donationPercent : 0, donationScript: donationScript ?? undefined }),
    witnessCommitmentScript: t.witnessCommitmentScript ?? undefined,
  });
}

test("spliced coinbase halves equal buildCoinbase's for every script type, signature and donation setting", () => {
  for (const withCommitment of [true, false]) {
    for (const [pct, donation] of [[0, null], [1.5, SCRIPTS[3]]] as const) {
      for (let first = 0; first < SCRIPTS.length; first++) {
        const t = template(withCommitment);
        const warnings: string[] = [];
        const f = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: pct, donationScript: donation, onWarning: (w) => warnings.push(w) });
        // Rotate which payout builds the template's cut first.
        const order = [...SCRIPTS.slice(first), ...SCRIPTS.slice(0, first)];
        for (const sig of SIGNATURES) {
          for (const script of order) {
            const payout: Payout = { key: `${script.toString("hex")}|${sig}`, script, signature: sig };
            const got = f.parts(t, payout);
            const want = reference(t, payout, pct, donation);
            const where = `commitment=${withCommitment} donation=${pct} first=${first} sig=${JSON.stringify(sig.slice(0, 10))} script=${script.length} B`;
            assert.deepEqual(got.coinb1, want.coinb1, where);
            assert.deepEqual(got.coinb2, want.coinb2, where);
            assert.equal(got.coinb1Hex, want.coinb1.toString("hex"), where);
            assert.equal(got.coinb2Hex, want.coinb2.toString("hex"), where);
            assert.equal(got.signatureUsed, want.signatureUsed, where);
            assert.equal(f.parts(t, payout), got, "cached per (template, payout)");
          }
        }
        assert.equal(warnings.length, 1, "the truncation warning comes once per (template, signature)");
      }
    }
  }
});

test("users with the default signature share one coinb1 per template", () => {
  const t = template(true);
  const f = new CoinbaseFactory({ extranonce1Size: 4, extranonce2Size: 8, donationPercent: 0, donationScript: null });
  const [a, b] = SCRIPTS.slice(2, 4).map((script) => f.parts(t, { key: script.toString("hex"), script, signature: "/sig/" }));
  assert.equal(a.coinb1, b.coinb1);
  assert.notDeepEqual(a.coinb2, b.coinb2);
  const other = f.parts(template(true), { key: "x", script: SCRIPTS[2], signature: "/sig/" });
  assert.notEqual(other.coinb1, a.coinb1, "a new template gets its own");
});
