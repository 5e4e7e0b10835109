import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeBip34Height, scriptNumBytes, pushData } from "../../src/core/bitcoin/script-number.ts";
import { BitcoinValueError } from "../../src/core/bitcoin/errors.ts";

test("BIP34 height push is byte-identical to Bitcoin Core's CScript() << height", () => {
  const cases: Array<[number, string]> = [
    [0, "00"], // OP_0
    [1, "51"], // OP_1
    [16, "60"], // OP_16
    [17, "0111"],
    [127, "017f"],
    [128, "028000"], // sign bit set: extra 0x00
    [255, "02ff00"],
    [256, "020001"],
    [32767, "02ff7f"],
    [32768, "03008000"],
    [8388607, "03ffff7f"],
    [8388608, "0400008000"],
    [840000, "0340d10c"], // mainnet block 840000's coinbase starts 0340d10c
    [2147483647, "04ffffff7f"],
  ];
  for (const [height, hex] of cases) {
    assert.equal(encodeBip34Height(height).toString("hex"), hex, `height ${height}`);
  }
});

test("BIP34 refuses heights outside 0..2^31-1", () => {
  for (const bad of [-1, 1.5, 2147483648, NaN]) {
    assert.throws(
      () => encodeBip34Height(bad),
      (e: unknown) => e instanceof BitcoinValueError && e.code === "HEIGHT_INVALID",
    );
  }
});

test("CScriptNum serialisation: minimal little-endian with sign bit", () => {
  assert.equal(scriptNumBytes(0).toString("hex"), "");
  assert.equal(scriptNumBytes(-1).toString("hex"), "81");
  assert.equal(scriptNumBytes(-128).toString("hex"), "8080");
  assert.equal(scriptNumBytes(-255).toString("hex"), "ff80");
  assert.equal(scriptNumBytes(0x7fff).toString("hex"), "ff7f");
});

test("pushData uses a length opcode up to 75 bytes, then OP_PUSHDATA1/2", () => {
  assert.equal(pushData(Buffer.alloc(0)).toString("hex"), "00");
  assert.equal(pushData(Buffer.alloc(75)).subarray(0, 1).toString("hex"), "4b");
  assert.equal(pushData(Buffer.alloc(76)).subarray(0, 2).toString("hex"), "4c4c");
  assert.equal(pushData(Buffer.alloc(256)).subarray(0, 3).toString("hex"), "4d0001");
});
