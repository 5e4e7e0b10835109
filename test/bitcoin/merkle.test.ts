import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { hexToBuffer, reverseHex, sha256d } from "../../src/bitcoin/hash.ts";
import {
  merkleRoot,
  merkleBranch,
  merkleRootFromBranch,
  witnessCommitment,
  witnessCommitmentScript,
} from "../../src/bitcoin/merkle.ts";

const le = (displayHex: string): Buffer => hexToBuffer(displayHex).reverse();

test("merkle root of mainnet block 100000 (4 transactions)", () => {
  const txids = [
    "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
  ].map(le);
  const expected = "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766";
  assert.equal(reverseHex(merkleRoot(txids).toString("hex")), expected);
  const branch = merkleBranch(txids.slice(1));
  assert.equal(branch.length, 2);
  assert.deepEqual(branch[0], txids[1]);
  assert.equal(reverseHex(merkleRootFromBranch(txids[0], branch).toString("hex")), expected);
});

test("a coinbase-only block: root is the coinbase txid and the branch is empty", () => {
  const cb = sha256d(Buffer.from("coinbase"));
  assert.deepEqual(merkleRoot([cb]), cb);
  assert.deepEqual(merkleBranch([]), []);
  assert.deepEqual(merkleRootFromBranch(cb, []), cb);
  assert.throws(() => merkleRoot([]), RangeError);
});

test("branch + root-from-branch equals the full merkle root for random transaction sets", () => {
  const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(hash32, fc.array(hash32, { maxLength: 40 }), (coinbase, others) => {
      const branch = merkleBranch(others);
      assert.deepEqual(merkleRootFromBranch(coinbase, branch), merkleRoot([coinbase, ...others]));
      // Branch length is ceil(log2(n)) for n leaves.
      const n = others.length + 1;
      assert.equal(branch.length, n === 1 ? 0 : Math.ceil(Math.log2(n)));
    }),
    { numRuns: 200 },
  );
});

test("witness commitment: zero coinbase leaf, sha256d(root || 32 zero bytes), 6a24aa21a9ed script", () => {
  // With no other transactions the witness root is the zero leaf itself.
  const expected = sha256d(Buffer.alloc(64));
  assert.deepEqual(witnessCommitment([]), expected);
  const w1 = sha256d(Buffer.from("tx1"));
  const root = sha256d(Buffer.concat([Buffer.alloc(32), w1]));
  assert.deepEqual(witnessCommitment([w1]), sha256d(Buffer.concat([root, Buffer.alloc(32)])));
  const script = witnessCommitmentScript(expected);
  assert.equal(script.length, 38);
  assert.equal(script.subarray(0, 6).toString("hex"), "6a24aa21a9ed");
  assert.throws(() => witnessCommitmentScript(Buffer.alloc(31)), RangeError);
});
