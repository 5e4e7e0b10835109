import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256, sha256d, reverseHex, reverseBytes, hexToBuffer } from "../../src/core/bitcoin/hash.ts";
import {
  buildHeader,
  writeHeader,
  prevhashToStratum,
  prevhashFromStratum,
  prevhashDisplayToLE,
  HEADER_SIZE,
} from "../../src/core/bitcoin/header.ts";

test("sha256 matches FIPS 180-2 'abc' vector and sha256d is sha256 twice", () => {
  assert.equal(
    sha256(Buffer.from("abc")).toString("hex"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const b = Buffer.from("hello");
  const twice = createHash("sha256").update(createHash("sha256").update(b).digest()).digest();
  assert.deepEqual(sha256d(b), twice);
});

test("reverseHex and reverseBytes flip byte order without touching the input", () => {
  assert.equal(reverseHex("0011aabb"), "bbaa1100");
  const b = Buffer.from([1, 2, 3]);
  assert.deepEqual(reverseBytes(b), Buffer.from([3, 2, 1]));
  assert.deepEqual(b, Buffer.from([1, 2, 3]));
  assert.throws(() => hexToBuffer("abc"), TypeError);
  assert.throws(() => hexToBuffer("zz"), TypeError);
});

const GENESIS = {
  version: 1,
  prevhashLE: Buffer.alloc(32),
  merkleRootLE: hexToBuffer("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b").reverse(),
  ntime: 1231006505,
  nbits: 0x1d00ffff,
  nonce: 2083236893,
};

test("genesis block header hashes to the genesis block hash", () => {
  const header = buildHeader(GENESIS);
  assert.equal(header.length, HEADER_SIZE);
  assert.equal(
    header.toString("hex"),
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
  );
  assert.equal(
    reverseBytes(sha256d(header)).toString("hex"),
    "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
  );
});

test("writeHeader writes into a preallocated buffer at an offset and wraps signed uint32s", () => {
  const out = Buffer.alloc(90, 0xee);
  writeHeader(out, { ...GENESIS, version: 0x20000000 | 0x1fffe000, nonce: -1 }, 5);
  assert.equal(out[4], 0xee);
  assert.equal(out[85], 0xee);
  assert.equal(out.readUInt32LE(5), 0x3fffe000);
  assert.equal(out.readUInt32LE(5 + 76), 0xffffffff);
  assert.deepEqual(out.subarray(5 + 36, 5 + 68), GENESIS.merkleRootLE);
});

test("prevhashToStratum reverses the eight 4-byte words, keeping bytes inside words", () => {
  // Mainnet block 840000's previousblockhash (block 839999).
  const display = "0000000000000000000172014ba58d66455762add0512355ad651207918494ab";
  const stratum = prevhashToStratum(display);
  assert.equal(stratum, "918494abad651207d0512355455762ad4ba58d66000172010000000000000000");
  assert.ok(stratum.endsWith("0000000000000000"));
  assert.equal(prevhashFromStratum(stratum), display);
  // Equivalently: internal byte order with every 4-byte word byte-swapped.
  const le = prevhashDisplayToLE(display);
  const swapped = Buffer.from(le).swap32().toString("hex");
  assert.equal(swapped, stratum);
  assert.throws(() => prevhashToStratum("00"), RangeError);
});
