// Cases written for the client side; the client and the server share one decoder (src/core/stratum/framing.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { LineDecoder } from "../../src/core/stratum/framing.ts";

function collect(maxLineBytes = 1024) {
  const lines: string[] = [];
  let overflows = 0;
  const d = new LineDecoder({ maxLineBytes, onLine: (l) => lines.push(l), onViolation: () => overflows++ });
  return { d, lines, overflows: () => overflows };
}

const INPUT = '{"id":1,"result":true,"error":null}\n{"id":null,"method":"mining.set_difficulty","params":[0.5]}\r\n\n{"id":2,"result":"é€"}\n';
const EXPECTED = ['{"id":1,"result":true,"error":null}', '{"id":null,"method":"mining.set_difficulty","params":[0.5]}', '{"id":2,"result":"é€"}'];

test("whole input in one chunk yields every line, CR stripped, blanks skipped", () => {
  const { d, lines } = collect();
  d.push(Buffer.from(INPUT));
  assert.deepEqual(lines, EXPECTED);
});

test("byte-by-byte input yields the same lines (multi-byte UTF-8 split across chunks)", () => {
  const { d, lines } = collect();
  for (const b of Buffer.from(INPUT)) d.push(Buffer.from([b]));
  assert.deepEqual(lines, EXPECTED);
});

test("every two-way split yields the same lines", () => {
  const buf = Buffer.from(INPUT);
  for (let i = 0; i <= buf.length; i++) {
    const { d, lines } = collect();
    d.push(buf.subarray(0, i));
    d.push(buf.subarray(i));
    assert.deepEqual(lines, EXPECTED, `split at ${i}`);
  }
});

test("a partial line is held until its newline arrives", () => {
  const { d, lines } = collect();
  d.push(Buffer.from('{"id":1'));
  assert.equal(lines.length, 0);
  assert.equal(d.pendingBytes, 7);
  d.push(Buffer.from("}\n"));
  assert.deepEqual(lines, ['{"id":1}']);
  assert.equal(d.pendingBytes, 0);
});

test("a line over the limit triggers one overflow and stops output, even when split", () => {
  const { d, lines, overflows } = collect(10);
  d.push(Buffer.from("0123456789\n"));
  assert.deepEqual(lines, ["0123456789"]);
  d.push(Buffer.from("012345"));
  d.push(Buffer.from("67890"));
  assert.equal(overflows(), 1);
  d.push(Buffer.from("\nok\n"));
  assert.deepEqual(lines, ["0123456789"]);
  assert.equal(overflows(), 1);
});
