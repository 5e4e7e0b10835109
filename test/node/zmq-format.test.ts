import { it } from "node:test";
import assert from "node:assert/strict";
import { decodeHashblock, encodeHashblock, encodeRawblock } from "../../src/core/bitcoind/zmq-format.ts";

const hash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"; // regtest genesis, display order

it("encodes Bitcoin Core's hashblock: topic, hash bytes as displayed (not reversed), uint32 LE sequence", () => {
  const [topic, body, seq] = encodeHashblock(hash, 0x01020304);
  assert.equal(topic.toString("ascii"), "hashblock");
  assert.equal(body.toString("hex"), hash);
  assert.deepEqual([...seq], [0x04, 0x03, 0x02, 0x01]);
});

it("wraps the sequence at 2^32", () => {
  assert.deepEqual([...encodeHashblock(hash, 2 ** 32)[2]], [0, 0, 0, 0]);
  assert.deepEqual([...encodeHashblock(hash, 2 ** 32 - 1)[2]], [0xff, 0xff, 0xff, 0xff]);
});

it("decodes what it encodes and rejects other shapes", () => {
  assert.deepEqual(decodeHashblock(encodeHashblock(hash, 7)), { hashHex: hash, sequence: 7 });
  const [topic, body, seq] = encodeHashblock(hash, 7);
  assert.equal(decodeHashblock([topic, body]), undefined);
  assert.equal(decodeHashblock([Buffer.from("hashtx"), body, seq]), undefined);
  assert.equal(decodeHashblock([topic, body.subarray(1), seq]), undefined);
  assert.equal(decodeHashblock([topic, body, seq.subarray(1)]), undefined);
  assert.throws(() => encodeHashblock("zz", 0), RangeError);
});

it("encodeRawblock: [rawblock, the block as given, uint32 LE sequence]; refuses a body shorter than a header + count", () => {
  const block = Buffer.alloc(81 + 60, 7);
  const [topic, body, seq] = encodeRawblock(block, 0x01020304);
  assert.equal(topic.toString("ascii"), "rawblock");
  assert.equal(body, block);
  assert.deepEqual([...seq], [4, 3, 2, 1]);
  assert.throws(() => encodeRawblock(Buffer.alloc(80), 0), RangeError);
});
