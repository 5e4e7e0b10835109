import { test } from "node:test";
import assert from "node:assert/strict";
import { Extranonce1Allocator } from "../../src/core/stratum/extranonce.ts";

test("extranonce1 values are unique while in use, prefixed with the instance id, and reused after release", () => {
  const a = new Extranonce1Allocator(2, 0x2a, 250); // 1 counter byte: 256 values, starting near the wrap
  const seen = new Set<string>();
  const held = [];
  for (let i = 0; i < 256; i++) {
    const e = a.allocate();
    assert.equal(e[0], 0x2a);
    assert.ok(!seen.has(e.toString("hex")));
    seen.add(e.toString("hex"));
    held.push(e);
  }
  assert.throws(() => a.allocate(), { code: "EXTRANONCE_EXHAUSTED" });
  a.release(held[3]);
  assert.equal(a.allocate().toString("hex"), held[3].toString("hex"));
});

test("two instances never overlap", () => {
  const p = new Extranonce1Allocator(4, 0);
  const r = new Extranonce1Allocator(4, 1);
  const ps = new Set(Array.from({ length: 1000 }, () => p.allocate().toString("hex")));
  for (let i = 0; i < 1000; i++) assert.ok(!ps.has(r.allocate().toString("hex")));
});

test("Stratum worker slices: disjoint within an instance, each wraps inside its own range, never overlapping a relay's", () => {
  // nonce1length 2: one counter byte, 3 workers → 85 values each; exhaust every slice.
  const slices = [0, 1, 2].map((index) => new Extranonce1Allocator(2, 0, 80, { index, count: 3 }));
  const all = new Set<string>();
  for (const [i, a] of slices.entries()) {
    for (let n = 0; n < Extranonce1Allocator.sliceCapacity(2, 3); n++) {
      const e = a.allocate();
      assert.equal(e[0], 0);
      assert.ok(e[1]! >= i * 85 && e[1]! < (i + 1) * 85, `slice ${i}: ${e.toString("hex")}`);
      assert.ok(!all.has(e.toString("hex")));
      all.add(e.toString("hex"));
    }
    assert.throws(() => a.allocate(), { code: "EXTRANONCE_EXHAUSTED" });
  }
  assert.equal(all.size, 255);
  // Default size (4 bytes): the worker index is the counter's high part; a relay (instance 1) never collides.
  const w0 = new Extranonce1Allocator(4, 0, 0xffffff, { index: 0, count: 2 });
  const w1 = new Extranonce1Allocator(4, 0, 0xffffff, { index: 1, count: 2 });
  const relay = new Extranonce1Allocator(4, 1, 0xffffff, { index: 1, count: 2 });
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) for (const a of [w0, w1, relay]) {
    const hex = a.allocate().toString("hex");
    assert.ok(!seen.has(hex), hex);
    seen.add(hex);
  }
  assert.equal(w1.allocate()[1]! >= 0x80, true);
  assert.equal(w0.allocate()[1]! < 0x80, true);
  assert.throws(() => new Extranonce1Allocator(2, 0, 0, { index: 2, count: 2 }), RangeError);
});
