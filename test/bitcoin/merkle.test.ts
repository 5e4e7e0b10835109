import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { hexToBuffer, reverseHex, sha256d } from "../../src/core/bitcoin/hash.ts";
import {
  merkleRoot,
  merkleBranch,
  merkleRootFromBranch,
  witnessCommitment,
  witnessCommitmentScript,
} from "../../src/core/bitcoin/merkle.ts";
import { buildHeader } from "../../src/core/bitcoin/header.ts";

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

test("merkle root of a real block with an odd transaction count (testnet3, 11 transactions)", () => {
  // Testnet3 block 0000000000000451fa80fcdb243b84c35eaae215a85a8faa880559e8239e6f20 (exercise data of
  // "Programming Bitcoin" ch. 11). The header below hashes to that block hash with valid proof of work,
  // which authenticates its merkle root.
  const txids = [
    "42f6f52f17620653dcc909e58bb352e0bd4bd1381e2955d19c00959a22122b2e",
    "94c3af34b9667bf787e1c6a0a009201589755d01d02fe2877cc69b929d2418d4",
    "959428d7c48113cb9149d0566bde3d46e98cf028053c522b8fa8f735241aa953",
    "a9f27b99d5d108dede755710d4a1ffa2c74af70b4ca71726fa57d68454e609a2",
    "62af110031e29de1efcad103b3ad4bec7bdcf6cb9c9f4afdd586981795516577",
    "766900590ece194667e9da2984018057512887110bf54fe0aa800157aec796ba",
    "e8270fb475763bc8d855cfe45ed98060988c1bdcad2ffc8364f783c98999a208",
    "921b8cfd3e14bf41f028f0a3aa88c813d5039a2b1bceb12208535b0b43a5d09e",
    "15535864799652347cec66cba473f6d8291541238e58b2e03b046bc53cfe1321",
    "1c8af7c502971e67096456eac9cd5407aacf62190fc54188995666a30faf99f0",
    "3311f8acc57e8a3e9b68e2945fb4f53c07b0fa4668a7e5cda6255c21558c774d",
  ].map(le);
  const rootDisplay = "4297fb95a0168b959d1469410c7527da5d6243d99699e7d041b7f3916ba93301";
  const header = buildHeader({
    version: 0x20000000,
    prevhashLE: le("000000000000010466f487e7d9c7557fda40b79852b00bee762505f5175f4cd0"),
    merkleRootLE: le(rootDisplay),
    ntime: 1504242100,
    nbits: 0x1a06ca16,
    nonce: 0xd8927c4a,
  });
  assert.equal(reverseHex(sha256d(header).toString("hex")), "0000000000000451fa80fcdb243b84c35eaae215a85a8faa880559e8239e6f20");
  assert.equal(reverseHex(merkleRoot(txids).toString("hex")), rootDisplay);
  const branch = merkleBranch(txids.slice(1));
  assert.equal(branch.length, 4);
  assert.equal(reverseHex(merkleRootFromBranch(txids[0], branch).toString("hex")), rootDisplay);
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
