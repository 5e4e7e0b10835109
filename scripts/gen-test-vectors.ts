/**
 * Writes the JSON test vectors in test/vectors/ (run: `node --import tsx scripts/gen-test-vectors.ts`).
 *
 * - coinbase.json: buildCoinbase inputs and the coinb1/coinb2 they give. The expected bytes come from
 *   src/core/bitcoin/coinbase.ts (a regression pin); the test decodes every assembled coinbase with
 *   bitcoinjs-lib and checks its structure independently (BIP34 height, signature, outputs, commitment).
 * - share-validation.json: templates, jobs, a connection's context and submits, each with the verdict the
 *   validator must give. Every expected header and hash is computed here with bitcoinjs-lib and a merkle
 *   root of our own over the template's txids, not with the code under test; the nonces are ground here
 *   to land on the intended side of the share and network targets.
 */
import { writeFileSync } from "node:fs";
import { Block, Transaction, crypto as bcrypto } from "bitcoinjs-lib";
import { buildCoinbase } from "../src/core/bitcoin/coinbase.ts";
import { addressToOutputScript } from "../src/core/bitcoin/address.ts";

const out = new URL("../test/vectors/", import.meta.url);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const rev = (h: string) => Buffer.from(h, "hex").reverse().toString("hex");
const DIFF1 = 0xffffn << 208n;

// ---------------------------------------------------------------- coinbase
const P2WPKH = addressToOutputScript("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "mainnet");
const P2TR = addressToOutputScript("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", "mainnet");
const P2PKH = addressToOutputScript("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "mainnet");
const COMMITMENT = "6a24aa21a9ed" + "e2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9";
const coinbaseCases = [
  { name: "height 1 (a fresh regtest chain): BIP34 height as OP_1, as Bitcoin Core writes it", height: 1, signatureText: "/TheBitcoinGame/", extranonce1Size: 4, extranonce2Size: 8, outputs: [{ scriptHex: hex(P2WPKH), valueSats: "5000000000" }], witnessCommitmentHex: COMMITMENT },
  { name: "height 16: OP_16, the last small-number opcode", height: 16, signatureText: "/TheBitcoinGame/", extranonce1Size: 4, extranonce2Size: 8, outputs: [{ scriptHex: hex(P2WPKH), valueSats: "5000000000" }], witnessCommitmentHex: COMMITMENT },
  { name: "height 17: the first data push", height: 17, signatureText: "/TheBitcoinGame/", extranonce1Size: 4, extranonce2Size: 8, outputs: [{ scriptHex: hex(P2WPKH), valueSats: "5000000000" }], witnessCommitmentHex: COMMITMENT },
  { name: "mainnet height 840000, P2TR payout, donation output, 8-byte extranonce2", height: 840000, signatureText: "/solo by alice/", extranonce1Size: 4, extranonce2Size: 8, outputs: [{ scriptHex: hex(P2TR), valueSats: "312500000" }, { scriptHex: hex(P2PKH), valueSats: "3156566" }], witnessCommitmentHex: COMMITMENT },
  { name: "no signature, no witness commitment (pre-segwit template), 4-byte extranonce2", height: 500000, signatureText: "", extranonce1Size: 4, extranonce2Size: 4, outputs: [{ scriptHex: hex(P2PKH), valueSats: "1250000000" }] },
  { name: "a signature too long for the 100-byte scriptSig is truncated", height: 900000, signatureText: "/" + "x".repeat(120) + "/", extranonce1Size: 8, extranonce2Size: 8, outputs: [{ scriptHex: hex(P2WPKH), valueSats: "312500000" }], witnessCommitmentHex: COMMITMENT },
];
const coinbaseVectors = coinbaseCases.map((c) => {
  const parts = buildCoinbase({
    height: c.height,
    signatureText: c.signatureText,
    extranonce1Size: c.extranonce1Size,
    extranonce2Size: c.extranonce2Size,
    outputs: c.outputs.map((o) => ({ script: Buffer.from(o.scriptHex, "hex"), valueSats: BigInt(o.valueSats) })),
    witnessCommitmentScript: c.witnessCommitmentHex ? Buffer.from(c.witnessCommitmentHex, "hex") : undefined,
  });
  // Independent structure check before pinning the bytes.
  const tx = Transaction.fromBuffer(Buffer.concat([parts.coinb1, Buffer.alloc(c.extranonce1Size, 0xaa), Buffer.alloc(c.extranonce2Size, 0xbb), parts.coinb2]));
  if (tx.ins.length !== 1 || tx.outs.length !== c.outputs.length + (c.witnessCommitmentHex ? 1 : 0)) throw new Error(`${c.name}: bad structure`);
  return { ...c, expect: { coinb1Hex: parts.coinb1.toString("hex"), coinb2Hex: parts.coinb2.toString("hex"), signatureUsed: parts.signatureUsed, scriptSigBytes: parts.scriptSigBytes } };
});
writeFileSync(new URL("coinbase.json", out), JSON.stringify({ description: "buildCoinbase vectors: params → coinb1/coinb2 (see scripts/gen-test-vectors.ts)", cases: coinbaseVectors }, null, 2) + "\n");

// ---------------------------------------------------------------- share validation
const CURTIME = 1_733_400_000;
const tx = (i: number) => ({ txid: rev(hex(bcrypto.hash256(Buffer.from(`tx${i}`)))), data: "02000000" + "00".repeat(40 + i) });
const gbt = (name: string, bits: string, prevByte: string, height: number) => ({
  name,
  gbt: { version: 0x20000000, previousblockhash: prevByte.repeat(32), transactions: [tx(1), tx(2), tx(3)], coinbasevalue: 5_000_000_000, bits, curtime: CURTIME, mintime: CURTIME - 600, height, default_witness_commitment: COMMITMENT, rules: ["segwit"] },
});
const templates = [gbt("mainnet-like", "1d00ffff", "0f", 201), gbt("mainnet-like-previous", "1d00ffff", "0e", 200), gbt("regtest", "207fffff", "1f", 301), gbt("regtest-previous", "207fffff", "1e", 300)];
const cb = buildCoinbase({ height: 201, signatureText: "/vectors/", extranonce1Size: 4, extranonce2Size: 4, outputs: [{ script: P2WPKH, valueSats: 5_000_000_000n }], witnessCommitmentScript: Buffer.from(COMMITMENT, "hex") });
const context = { extranonce1Hex: "01020304", extranonce2Size: 4, versionMask: 0x1fffe000, difficulty: 0.00001, coinb1Hex: cb.coinb1.toString("hex"), coinb2Hex: cb.coinb2.toString("hex") };
const jobs = [
  { id: "2", template: "mainnet-like", state: "current" },
  { id: "1", template: "mainnet-like-previous", state: "stale" },
  { id: "4", template: "regtest", state: "current" },
  { id: "3", template: "regtest-previous", state: "stale" },
];
const NOW_MS = (CURTIME + 60) * 1000;

function merkleRootLE(coinbaseTxidLE: Buffer, txidsDisplay: string[]): Buffer {
  let level = [coinbaseTxidLE, ...txidsDisplay.map((t) => Buffer.from(t, "hex").reverse())];
  while (level.length > 1) {
    if (level.length % 2) level.push(level[level.length - 1]);
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(Buffer.from(bcrypto.hash256(Buffer.concat([level[i], level[i + 1]]))));
    level = next;
  }
  return level[0];
}

interface Submit { worker: string; jobId: string; extranonce2Hex: string; ntimeHex: string; nonceHex: string; versionBitsHex: string | null }
function header(jobId: string, s: Submit): { block: Block; hashHex: string; shareDifficulty: number; isBlock: boolean } {
  const job = jobs.find((j) => j.id === jobId)!;
  const t = templates.find((x) => x.name === job.template)!.gbt;
  const coinbase = Buffer.concat([cb.coinb1, Buffer.from(context.extranonce1Hex, "hex"), Buffer.from(s.extranonce2Hex, "hex"), cb.coinb2]);
  const b = new Block();
  const bits = s.versionBitsHex === null ? 0 : parseInt(s.versionBitsHex, 16);
  b.version = ((t.version & ~context.versionMask) | (bits & context.versionMask)) >>> 0;
  b.prevHash = Buffer.from(t.previousblockhash, "hex").reverse();
  b.merkleRoot = merkleRootLE(Buffer.from(bcrypto.hash256(coinbase)), t.transactions.map((x) => x.txid));
  b.timestamp = parseInt(s.ntimeHex, 16);
  b.bits = parseInt(t.bits, 16);
  b.nonce = parseInt(s.nonceHex, 16) >>> 0;
  const hashLE = Buffer.from(b.getHash());
  const h = BigInt("0x" + Buffer.from(hashLE).reverse().toString("hex"));
  const exp = b.bits >>> 24;
  const target = BigInt(b.bits & 0xffffff) << BigInt(8 * (exp - 3));
  return { block: b, hashHex: Buffer.from(hashLE).reverse().toString("hex"), shareDifficulty: Number(DIFF1) / Number(h), isBlock: h <= target };
}

/** The first nonce from `from` whose share meets `want`. */
function grind(jobId: string, base: Omit<Submit, "nonceHex">, want: (h: ReturnType<typeof header>) => boolean, from = 0): Submit {
  for (let n = from; n < from + 5_000_000; n++) {
    const s = { ...base, nonceHex: n.toString(16).padStart(8, "0") };
    if (want(header(jobId, s))) return s;
  }
  throw new Error("no nonce found");
}

const W = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq.rig1";
const ntime = CURTIME.toString(16);
const base = (jobId: string, en2 = "00000001", extra: Partial<Submit> = {}) => ({ worker: W, jobId, extranonce2Hex: en2, ntimeHex: ntime, versionBitsHex: null, ...extra });
const d = context.difficulty;
const expectOf = (jobId: string, s: Submit, verdict: { accepted: boolean; reason: string | null; difficulty: number }) => {
  const h = header(jobId, s);
  // A block below its share target is accepted and submitted but credited 0 (hashrate would be overstated).
  if (verdict.accepted && h.isBlock && h.shareDifficulty < verdict.difficulty) verdict = { ...verdict, difficulty: 0 };
  return { ...verdict, block: h.isBlock, shareDifficulty: h.shareDifficulty, headerHex: hex(h.block.toBuffer(true)), hashHex: h.hashHex };
};
const good = grind("2", base("2"), (h) => h.shareDifficulty >= d && !h.isBlock);
const low = grind("2", base("2", "00000002"), (h) => h.shareDifficulty < d);
const rolled = grind("2", base("2", "00000003", { versionBitsHex: "00002000" }), (h) => h.shareDifficulty >= d && !h.isBlock);
const stale = grind("1", base("1"), (h) => h.shareDifficulty >= d && !h.isBlock);
const block = grind("4", base("4"), (h) => h.isBlock);
const staleBlock = grind("3", base("3"), (h) => h.isBlock);
const noHash = { block: false, shareDifficulty: 0 };
const cases = [
  { name: "a share meeting the assigned difficulty is accepted", steps: [{ submit: good, expect: expectOf("2", good, { accepted: true, reason: null, difficulty: d }) }] },
  { name: "a share below the assigned difficulty is low_difficulty (judged at the difficulty of the job)", steps: [{ submit: low, expect: expectOf("2", low, { accepted: false, reason: "low_difficulty", difficulty: d }) }] },
  { name: "version rolling inside the negotiated mask changes the header version", steps: [{ submit: rolled, expect: expectOf("2", rolled, { accepted: true, reason: null, difficulty: d }) }] },
  {
    name: "the same share twice is a duplicate, however its hex is spelt",
    steps: [
      { submit: good, expect: expectOf("2", good, { accepted: true, reason: null, difficulty: d }) },
      { submit: good, expect: { accepted: false, reason: "duplicate", difficulty: 0, ...noHash } },
      { submit: { ...good, extranonce2Hex: good.extranonce2Hex.toUpperCase(), nonceHex: good.nonceHex.toUpperCase() }, expect: { accepted: false, reason: "duplicate", difficulty: 0, ...noHash } },
    ],
  },
  { name: "an unknown job id is job_not_found", steps: [{ submit: { ...good, jobId: "ff" }, expect: { accepted: false, reason: "job_not_found", difficulty: 0, ...noHash } }] },
  { name: "extranonce2 of the wrong size is bad_extranonce2", steps: [{ submit: { ...good, extranonce2Hex: "000001" }, expect: { accepted: false, reason: "bad_extranonce2", difficulty: 0, ...noHash } }] },
  { name: "ntime before the job's is ntime_out_of_range", steps: [{ submit: { ...good, ntimeHex: (CURTIME - 1).toString(16) }, expect: { accepted: false, reason: "ntime_out_of_range", difficulty: 0, ...noHash } }] },
  { name: "ntime rolled more than 7000 s past the job's is ntime_out_of_range", steps: [{ submit: { ...good, ntimeHex: (CURTIME + 7001).toString(16) }, nowMs: (CURTIME + 7001) * 1000, expect: { accepted: false, reason: "ntime_out_of_range", difficulty: 0, ...noHash } }] },
  { name: "ntime more than 7200 s ahead of the clock is ntime_out_of_range", steps: [{ submit: { ...good, ntimeHex: (CURTIME + 6000).toString(16) }, nowMs: (CURTIME - 1300) * 1000, expect: { accepted: false, reason: "ntime_out_of_range", difficulty: 0, ...noHash } }] },
  { name: "version bits outside the negotiated mask are bad_version", steps: [{ submit: { ...good, versionBitsHex: "e0000000" }, expect: { accepted: false, reason: "bad_version", difficulty: 0, ...noHash } }] },
  { name: "a good share on a previous block's job is stale (hashed first)", steps: [{ submit: stale, expect: { ...expectOf("1", stale, { accepted: false, reason: "stale", difficulty: 0 }) } }] },
  { name: "a share meeting the network target is accepted as a block, with its candidate", steps: [{ submit: block, expect: expectOf("4", block, { accepted: true, reason: null, difficulty: d }) }] },
  { name: "a block on a previous block's job is still a block (it may solve its own parent), then stale", steps: [{ submit: staleBlock, expect: expectOf("3", staleBlock, { accepted: false, reason: "stale", difficulty: 0 }) }] },
];
writeFileSync(
  new URL("share-validation.json", out),
  JSON.stringify({ description: "validateShare vectors: templates, jobs, a connection's context and submits → verdicts (see scripts/gen-test-vectors.ts)", nowMs: NOW_MS, context, templates, jobs, cases }, null, 2) + "\n",
);
console.log(`wrote ${coinbaseVectors.length} coinbase vectors and ${cases.length} share-validation cases`);
