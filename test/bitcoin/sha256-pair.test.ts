/** sha256dPair (the JavaScript merkle-node hash on the share path) against node:crypto. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { sha256dPair } from "../../src/core/bitcoin/hash.ts";
import { merkleRootFromBranch } from "../../src/core/bitcoin/merkle.ts";

const ref = (b: Buffer) => createHash("sha256").update(createHash("sha256").update(b).digest()).digest();

test("sha256dPair(a, b) is sha256d(a ‖ b) for random, all-zero, all-ones and edge-bit inputs", () => {
  const fixed = [Buffer.alloc(32), Buffer.alloc(32, 0xff), Buffer.from("80".padEnd(64, "0"), "hex"), Buffer.from("01".padStart(64, "0"), "hex")];
  for (const a of fixed) for (const b of fixed) assert.deepEqual(sha256dPair(a, b), ref(Buffer.concat([a, b])));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
      const l = Buffer.from(a);
      const r = Buffer.from(b);
      assert.deepEqual(sha256dPair(l, r), ref(Buffer.concat([l, r])));
    }),
    { numRuns: 2000 },
  );
});

test("sha256dPair: the merkle root up a 12-level branch matches merkleRootFromBranch; inputs are not modified", () => {
  const branch = Array.from({ length: 12 }, () => randomBytes(32));
  const txid = randomBytes(32);
  const copy = Buffer.from(txid);
  let root: Buffer = txid;
  for (const node of branch) root = sha256dPair(root, node);
  assert.deepEqual(root, merkleRootFromBranch(txid, branch));
  assert.deepEqual(txid, copy);
});

test("sha256dPair refuses inputs that are not 32 bytes", () => {
  assert.throws(() => sha256dPair(Buffer.alloc(31), Buffer.alloc(32)), RangeError);
  assert.throws(() => sha256dPair(Buffer.alloc(32), Buffer.alloc(33)), RangeError);
});
