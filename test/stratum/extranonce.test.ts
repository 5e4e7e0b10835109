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
