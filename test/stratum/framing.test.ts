import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LineDecoder } from "../../src/core/stratum/framing.ts";

function collect(max = 4096) {
  const lines: string[] = [];
  const violations: number[] = [];
  const d = new LineDecoder({ maxLineBytes: max, onLine: (l) => lines.push(l), onViolation: (v) => violations.push(v.bytes) });
  return { d, lines, violations };
}

const INPUT = '{"id":1,"method":"mining.subscribe","params":[]}\n{"id":2,"method":"mining.authorize","params":["a","b"]}\r\n\n';

test("delivers the same lines whether fed whole, byte by byte, or in any split", () => {
  const whole = collect();
  whole.d.push(Buffer.from(INPUT));
  assert.equal(whole.lines.length, 2);
  const bytes = collect();
  for (const b of Buffer.from(INPUT)) bytes.d.push(Buffer.from([b]));
  assert.deepEqual(bytes.lines, whole.lines);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: INPUT.length - 1 }), { maxLength: 8 }), (cuts) => {
      const c = collect();
      const buf = Buffer.from(INPUT);
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...points, buf.length]) {
        c.d.push(buf.subarray(prev, p));
        prev = p;
      }
      assert.deepEqual(c.lines, whole.lines);
    }),
  );
});

test("strips a trailing CR and skips blank lines", () => {
  const c = collect();
  c.d.push(Buffer.from("a\r\n\r\n\nb\n"));
  assert.deepEqual(c.lines, ["a", "b"]);
});

test("a multi-byte UTF-8 character split across reads survives", () => {
  const c = collect();
  const buf = Buffer.from('{"x":"€"}\n');
  c.d.push(buf.subarray(0, 7));
  c.d.push(buf.subarray(7));
  assert.deepEqual(c.lines, ['{"x":"€"}']);
});

test("a line over the limit is a violation, reported once, and nothing more is delivered", () => {
  const c = collect(16);
  c.d.push(Buffer.from("0123456789"));
  c.d.push(Buffer.from("0123456789"));
  c.d.push(Buffer.from("\nok\n"));
  assert.deepEqual(c.violations, [20]);
  assert.deepEqual(c.lines, []);
});

test("an unterminated flood is cut at the limit without buffering it", () => {
  const c = collect(1024);
  for (let i = 0; i < 1000; i++) c.d.push(Buffer.alloc(1000, 0x41));
  assert.equal(c.violations.length, 1);
  assert.equal(c.d.pendingBytes, 0);
});
