import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { topK } from "../../src/util/top-k.ts";

test("topK equals a stable sort by score, descending, cut to k", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 200 }), fc.integer({ min: 0, max: 50 }), (scores, k) => {
      const items = scores.map((s, i) => ({ s, i }));
      const expected = [...items].sort((a, b) => b.s - a.s || a.i - b.i).slice(0, k);
      assert.deepEqual(topK(items, k, (x) => x.s), expected);
    }),
  );
});

test("topK takes any iterable and k larger than the input", () => {
  assert.deepEqual(topK(new Set([3, 1, 2]), 10, (x) => x), [3, 2, 1]);
  assert.deepEqual(topK([], 3, (x: number) => x), []);
});

test("topK breaks score ties by the tie score (higher first), then by input order", () => {
  const items = [{ id: "a", s: 1, t: 5 }, { id: "b", s: 2, t: 0 }, { id: "c", s: 1, t: 9 }, { id: "d", s: 1, t: 9 }, { id: "e", s: -1, t: 99 }];
  assert.deepEqual(topK(items, 4, (x) => x.s, (x) => x.t).map((x) => x.id), ["b", "c", "d", "a"]);
  assert.deepEqual(topK(items, 2, (x) => x.s, (x) => x.t).map((x) => x.id), ["b", "c"]);
});
