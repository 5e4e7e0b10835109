/** The share replies built as text (messages.ts) are byte for byte what JSON.stringify gives for the object. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeError, encodeResult, encodeTrue, type RequestId } from "../../src/core/stratum/messages.ts";
import { REJECT_WIRE, errorTuple } from "../../src/core/stratum/errors.ts";

const ids: fc.Arbitrary<RequestId> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ unit: "binary" }),
  fc.constantFrom<RequestId>(null, 0, -0, 1e21, 1e-7, Infinity, -Infinity, NaN, Number.MAX_SAFE_INTEGER + 2, '"', "\\", "\u2028", "\ud800"),
);

test("encodeTrue / encodeResult(id, true) = JSON.stringify({id, result: true, error: null}) + newline", () => {
  fc.assert(
    fc.property(ids, (id) => {
      const want = JSON.stringify({ id, result: true, error: null }) + "\n";
      assert.equal(encodeTrue(id), want);
      assert.equal(encodeResult(id, true), want);
    }),
    { numRuns: 3000 },
  );
});

test("encodeError = JSON.stringify({id, result: null, error: [code, message, null]}) + newline", () => {
  const codes = fc.oneof(fc.constantFrom(...Object.values(REJECT_WIRE).map((w) => w.code)), fc.integer());
  fc.assert(
    fc.property(ids, codes, fc.string({ unit: "binary" }), (id, code, message) => {
      assert.equal(encodeError(id, errorTuple(code, message)), JSON.stringify({ id, result: null, error: [code, message, null] }) + "\n");
    }),
    { numRuns: 3000 },
  );
});

test("other results still go through JSON.stringify", () => {
  assert.equal(encodeResult(7, false), '{"id":7,"result":false,"error":null}\n');
  assert.equal(encodeResult("a", [1, "x"]), '{"id":"a","result":[1,"x"],"error":null}\n');
  assert.equal(encodeResult(1, undefined), '{"id":1,"error":null}\n');
});
