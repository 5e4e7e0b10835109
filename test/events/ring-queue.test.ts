import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RingQueue } from "../../src/pipeline/events/ring-queue.ts";

describe("RingQueue", () => {
  it("is FIFO across wrap-around, refuses pushes when full, and puts retried items back at the head", () => {
    const q = new RingQueue<number>(3);
    assert.equal(q.push(1) && q.push(2) && q.push(3), true);
    assert.equal(q.push(4), false);
    assert.equal(q.shift(), 1);
    assert.equal(q.push(4), true); // wraps
    assert.equal(q.shift(), 2);
    assert.equal(q.unshift(2), true);
    assert.equal(q.unshift(0), false);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [2, 3, 4, undefined]);
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
  });

  it("matches an array model under random operations", () => {
    const q = new RingQueue<number>(5);
    const model: number[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 3;
    for (let i = 0; i < 10_000; i++) {
      const op = rnd();
      if (op === 0) assert.equal(q.push(i), model.length < 5 && model.push(i) > 0);
      else if (op === 1) assert.equal(q.shift(), model.shift());
      else assert.equal(q.unshift(-i), model.length < 5 && model.unshift(-i) > 0);
      assert.equal(q.length, model.length);
      assert.equal(q.peek(), model[0]);
    }
  });

  it("refuses a capacity below 1", () => {
    assert.throws(() => new RingQueue(0), RangeError);
  });
});
