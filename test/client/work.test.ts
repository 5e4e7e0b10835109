import { test } from "node:test";
import assert from "node:assert/strict";
import { merkleBranch } from "../../src/core/bitcoin/merkle.ts";
import { prevhashToStratum } from "../../src/core/bitcoin/header.ts";
import { reverseHex } from "../../src/core/bitcoin/hash.ts";
import type { NotifyJob } from "../../src/tools/stratum-client/messages.ts";
import {
  buildWork,
  checkNonce,
  extranonce2FromCounter,
  prevhashStratumToLE,
  rollableMask,
  scanNonces,
  submitParams,
  versionBitsFromCounter,
  versionRollSpace,
} from "../../src/tools/stratum-client/work.ts";

// Mainnet block 100000 (000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506): 4 transactions.
const B100K = {
  hash: "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506",
  prev: "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250",
  time: 1293623863,
  bits: "1b04864c",
  nonce: 274148111,
  // scriptSig 044c86041b020602: we cut it into coinb1 | en1 "86041b02" | en2 "0602" | coinb2.
  coinbase:
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff08044c86041b020602ffffffff0100f2052a010000004341041b0e8c2567c12536aa13357b79a073dc4444acb83c4ec7a0e2f99dd7457516c5817242da796924ca4e99947d087fedf9ce467cb9f7c6287078f801df276fdf84ac00000000",
  otherTxids: [
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
  ],
};

function block100kNotify(): { job: NotifyJob; en1: string; en2: string } {
  const cut = B100K.coinbase.indexOf("044c") + 4;
  const job: NotifyJob = {
    jobId: "b100k",
    prevhashStratum: prevhashToStratum(B100K.prev),
    coinb1Hex: B100K.coinbase.slice(0, cut),
    coinb2Hex: B100K.coinbase.slice(cut + 12),
    merkleBranchHex: merkleBranch(B100K.otherTxids.map((t) => Buffer.from(reverseHex(t), "hex"))).map((b) => b.toString("hex")),
    versionHex: "00000001",
    nbitsHex: B100K.bits,
    ntimeHex: B100K.time.toString(16).padStart(8, "0"),
    cleanJobs: true,
  };
  return { job, en1: B100K.coinbase.slice(cut, cut + 8), en2: B100K.coinbase.slice(cut + 8, cut + 12) };
}

test("prevhash: the notify's word-swapped form turns back into header byte order", () => {
  const s = prevhashToStratum(B100K.prev);
  assert.ok(s.endsWith("00000000"), "stratum prevhash ends in zeros");
  assert.equal(prevhashStratumToLE(s).toString("hex"), reverseHex(B100K.prev));
});

test("work from a notify built out of mainnet block 100000 reproduces its header hash and is a block", () => {
  const { job, en1, en2 } = block100kNotify();
  assert.equal(job.merkleBranchHex.length, 2);
  const work = buildWork({ job, extranonce1Hex: en1, extranonce2Size: 2, difficulty: 1, versionMask: 0 }, Buffer.from(en2, "hex"));
  const share = checkNonce(work, B100K.nonce);
  assert.equal(reverseHex(share.hashLE.toString("hex")), B100K.hash);
  assert.equal(share.isBlock, true);
  assert.equal(share.meetsShareTarget, true);
  assert.ok(share.hashDifficulty > 14484, `difficulty ${share.hashDifficulty}`); // network difficulty at 100000 was 14484.16
  assert.deepEqual(submitParams(work, "addr.w", B100K.nonce), ["addr.w", "b100k", "0602", "4d1b2237", "10572b0f"]);
  // the scan finds the same nonce in a range around it
  const found = scanNonces(work, B100K.nonce - 100, 200);
  assert.deepEqual(found.map((f) => f.nonce), [B100K.nonce]);
});

test("a neighbouring nonce is not a block and fails difficulty 1", () => {
  const { job, en1, en2 } = block100kNotify();
  const work = buildWork({ job, extranonce1Hex: en1, extranonce2Size: 2, difficulty: 1, versionMask: 0 }, Buffer.from(en2, "hex"));
  const s = checkNonce(work, B100K.nonce + 1);
  assert.equal(s.isBlock, false);
  assert.equal(s.meetsShareTarget, false);
});

test("version rolling: header version = (version & ~mask) | bits, 6th submit param = the bits", () => {
  const { job, en1, en2 } = block100kNotify();
  const job2 = { ...job, versionHex: "20000000" };
  const ctx = { job: job2, extranonce1Hex: en1, extranonce2Size: 2, difficulty: 1, versionMask: 0x1fffe000 };
  const w = buildWork(ctx, Buffer.from(en2, "hex"), 0x00006000 | 0x00000001 /* outside mask: dropped */);
  assert.equal(w.version, 0x20006000);
  assert.equal(w.header.readUInt32LE(0), 0x20006000);
  assert.equal(w.versionBitsHex, "00006000");
  assert.deepEqual(submitParams(w, "a", 1).slice(4), ["00000001", "00006000"]);
  const plain = buildWork({ ...ctx, versionMask: 0 }, Buffer.from(en2, "hex"), 0x6000);
  assert.equal(plain.version, 0x20000000);
  assert.equal(plain.versionBitsHex, undefined);
  assert.equal(submitParams(plain, "a", 1).length, 5);
});

test("version bit counters deposit into the mask, BIP320 bits preferred", () => {
  assert.equal(versionBitsFromCounter(0x1fffe000, 0), 0);
  assert.equal(versionBitsFromCounter(0x1fffe000, 1), 0x2000);
  assert.equal(versionBitsFromCounter(0x1fffe000, 3), 0x6000);
  assert.equal(versionBitsFromCounter(0x00ff0f00, 0x10), 0x10000);
  assert.equal(versionRollSpace(0x1fffe000), 65536);
  assert.equal(versionRollSpace(0x00006000), 4);
  assert.equal(rollableMask(0xffffffff), 0x1fffe000);
  assert.equal(rollableMask(0x00000f00), 0x00000f00);
});

test("extranonce2 counters are fixed-size big-endian and wrap", () => {
  assert.equal(extranonce2FromCounter(1n, 4).toString("hex"), "00000001");
  assert.equal(extranonce2FromCounter(0x1_0000_0001n, 4).toString("hex"), "00000001");
  assert.equal(extranonce2FromCounter(258n, 8).toString("hex"), "0000000000000102");
  assert.throws(() => buildWork({ ...block100kNotify(), extranonce1Hex: "00", extranonce2Size: 4, difficulty: 1, versionMask: 0 }, Buffer.alloc(2)), RangeError);
});

test("a difficulty below 2^-32 makes every hash a share; the scan returns them with difficulties", () => {
  const { job, en1, en2 } = block100kNotify();
  const work = buildWork({ job, extranonce1Hex: en1, extranonce2Size: 2, difficulty: 1e-11, versionMask: 0 }, Buffer.from(en2, "hex"));
  const found = scanNonces(work, 0, 50);
  assert.equal(found.length, 50); // the target clamps to 2^256-1
  for (const f of found) assert.ok(f.meetsShareTarget && !f.isBlock);
});
