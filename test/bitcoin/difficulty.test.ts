import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DIFF1_TARGET,
  MAX_TARGET,
  nbitsToTarget,
  targetToNbits,
  nbitsToDifficulty,
  difficultyToTarget,
  targetToDifficulty,
  hashToDifficulty,
  hashMeetsTarget,
  hashToBigInt,
  targetToBufferLE,
} from "../../src/core/bitcoin/difficulty.ts";
import { BitcoinValueError } from "../../src/core/bitcoin/errors.ts";

const close = (a: number, b: number, rel = 1e-12): void =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} !~ ${b}`);

test("nbits 1d00ffff is DIFF1_TARGET = 0xFFFF·2^208 and difficulty 1", () => {
  assert.equal(DIFF1_TARGET, 0x00000000ffff0000000000000000000000000000000000000000000000000000n);
  assert.equal(nbitsToTarget(0x1d00ffff), DIFF1_TARGET);
  assert.equal(nbitsToDifficulty(0x1d00ffff), 1);
  assert.equal(targetToNbits(DIFF1_TARGET), 0x1d00ffff);
});

test("known mainnet nbits give known difficulties", () => {
  // Block 100000: bits 1b04864c, difficulty 14484.1623612254.
  close(nbitsToDifficulty(0x1b04864c), 14484.1623612254, 1e-13);
  // Block 840000: bits 17034219, difficulty 86388558925171.02.
  close(nbitsToDifficulty(0x17034219), 86388558925171.02, 1e-13);
  // Regtest powLimit 207fffff.
  assert.equal(nbitsToTarget(0x207fffff), 0x7fffffn << 232n);
});

test("nbitsToTarget follows SetCompact for small exponents and refuses negative or overflow", () => {
  assert.equal(nbitsToTarget(0x01123456), 0x12n);
  assert.equal(nbitsToTarget(0x02123456), 0x1234n);
  assert.equal(nbitsToTarget(0x03123456), 0x123456n);
  assert.equal(nbitsToTarget(0x04123456), 0x12345600n);
  assert.equal(nbitsToTarget(0x00000000), 0n);
  assert.equal(nbitsToTarget(0x04800000), 0n); // sign bit with zero mantissa is zero
  for (const bad of [0x04923456, 0xff123456]) {
    assert.throws(() => nbitsToTarget(bad), (e: unknown) => e instanceof BitcoinValueError && e.code === "NBITS_INVALID");
  }
  // GetCompact round trips for every normalised encoding.
  for (const bits of [0x1d00ffff, 0x1b04864c, 0x17034219, 0x207fffff, 0x05009234, 0x04123456]) {
    assert.equal(targetToNbits(nbitsToTarget(bits)), bits);
  }
});

test("difficultyToTarget is exact bigint division, including fractional and huge difficulties", () => {
  assert.equal(difficultyToTarget(1), DIFF1_TARGET);
  assert.equal(difficultyToTarget(2), DIFF1_TARGET / 2n);
  assert.equal(difficultyToTarget(0.5), DIFF1_TARGET * 2n);
  assert.equal(difficultyToTarget(1024), DIFF1_TARGET / 1024n);
  assert.equal(difficultyToTarget(3), DIFF1_TARGET / 3n);
  // 0.0001 is not exactly representable: compare with the rational value of the double.
  close(targetToDifficulty(difficultyToTarget(0.0001)), 0.0001);
  close(targetToDifficulty(difficultyToTarget(1e-9)), 1e-9);
  close(targetToDifficulty(difficultyToTarget(1e15)), 1e15);
  assert.equal(difficultyToTarget(1e-300), MAX_TARGET);
  assert.equal(difficultyToTarget(5e-324), MAX_TARGET);
  for (const bad of [0, -1, NaN, Infinity]) {
    assert.throws(() => difficultyToTarget(bad), (e: unknown) => e instanceof BitcoinValueError && e.code === "DIFFICULTY_INVALID");
  }
});

test("hashToDifficulty: DIFF1 / H with H little-endian; a hash equal to the target has its difficulty", () => {
  for (const d of [0.0001, 1, 65536, 1234567.5, 1e12]) {
    const hash = targetToBufferLE(difficultyToTarget(d));
    close(hashToDifficulty(hash), d, 1e-12);
  }
  assert.equal(hashToDifficulty(Buffer.alloc(32)), Infinity);
  // The genesis hash (display 000000000019d668…) has difficulty ≈ 2536.
  const genesisLE = Buffer.from("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", "hex").reverse();
  close(hashToDifficulty(genesisLE), Number(DIFF1_TARGET) / Number(hashToBigInt(genesisLE)));
});

test("hashMeetsTarget agrees with bigint comparison on random hashes and targets", () => {
  const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
  const target = fc.bigInt({ min: 0n, max: MAX_TARGET });
  fc.assert(
    fc.property(bytes32, target, (h, t) => {
      assert.equal(hashMeetsTarget(h, t), hashToBigInt(h) <= t);
    }),
    { numRuns: 2000 },
  );
  // Hashes close to the target: equal, one below, one above.
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: MAX_TARGET - 1n }), (t) => {
      assert.equal(hashMeetsTarget(targetToBufferLE(t), t), true);
      assert.equal(hashMeetsTarget(targetToBufferLE(t - 1n), t), true);
      assert.equal(hashMeetsTarget(targetToBufferLE(t + 1n), t), false);
    }),
    { numRuns: 500 },
  );
  assert.equal(hashMeetsTarget(Buffer.alloc(32, 0xff), MAX_TARGET), true);
  assert.equal(hashMeetsTarget(Buffer.alloc(32), 0n), true);
});
