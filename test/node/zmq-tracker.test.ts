import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HashblockTracker } from "../../src/core/bitcoind/zmq-tracker.ts";

const A = "tcp://10.12.112.4:28333";
const B = "tcp://10.12.112.3:28333";
const H1 = "11".repeat(32);
const H2 = "22".repeat(32);

function setup() {
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const tracker = new HashblockTracker([{ endpoint: A, source: "btcd[0].zmqnotify", btcdIndex: 0 }, { endpoint: B, source: "btcd[1].zmqnotify", btcdIndex: 1 }], { now: clock.now });
  return { tracker, clock, get: (e: string) => tracker.status().find((s) => s.endpoint === e)! };
}

describe("HashblockTracker", () => {
  it("acts on the first copy of a block only and measures how far behind the others arrive", () => {
    const { tracker, clock, get } = setup();
    const v1 = tracker.onMessage(B, { hashHex: H1, sequence: 0 });
    assert.equal(v1.first, true);
    assert.equal(v1.firstEndpoint, B);
    clock.advance(40);
    const v2 = tracker.onMessage(A, { hashHex: H1, sequence: 0 });
    assert.equal(v2.first, false);
    assert.equal(v2.firstEndpoint, B);
    assert.equal(v2.lagMs, 40);
    // Next block: A first, B 10 ms later.
    assert.equal(tracker.onMessage(A, { hashHex: H2, sequence: 1 }).first, true);
    clock.advance(10);
    assert.equal(tracker.onMessage(B, { hashHex: H2, sequence: 1 }).first, false);

    const a = get(A);
    const b = get(B);
    assert.deepEqual([a.messages, a.first, a.duplicates], [2, 1, 1]);
    assert.deepEqual([b.messages, b.first, b.duplicates], [2, 1, 1]);
    assert.equal(a.avgLagMs, 20, "(40 + 0) / 2");
    assert.equal(b.avgLagMs, 5, "(0 + 10) / 2");
    assert.equal(b.lastLagMs, 10);
    assert.equal(a.lastMessageAtMs, 1_000_040);
    assert.equal(a.source, "btcd[0].zmqnotify");
    assert.equal(b.btcdIndex, 1);
  });

  it("treats the same endpoint announcing a block again as a new event (its tip moved away and back)", () => {
    const { tracker } = setup();
    assert.equal(tracker.onMessage(A, { hashHex: H1, sequence: 0 }).first, true);
    assert.equal(tracker.onMessage(A, { hashHex: H2, sequence: 1 }).first, true);
    assert.equal(tracker.onMessage(A, { hashHex: H1, sequence: 2 }).first, true);
  });

  it("tracks connection transitions, counting a disconnect only after a connection", () => {
    const { tracker, clock, get } = setup();
    assert.equal(get(A).state, "connecting");
    assert.equal(get(A).healthy, false);
    assert.equal(tracker.onRetry(A), true, "first failed attempt: unreachable");
    assert.equal(tracker.onRetry(A), false);
    assert.equal(get(A).reconnectAttempts, 2);
    assert.equal(tracker.onDisconnected(A), false, "was never connected");
    clock.advance(5);
    assert.equal(tracker.onConnected(A), true);
    assert.equal(tracker.onConnected(A), false, "no transition");
    assert.equal(get(A).connected, true);
    assert.equal(get(A).sinceMs, 1_000_005);
    assert.equal(tracker.onDisconnected(A), true);
    assert.equal(tracker.onDisconnected(A), false);
    assert.equal(get(A).state, "disconnected");
    assert.equal(get(A).failures.disconnects, 1);
    assert.equal(get(A).failuresTotal, 1);
  });

  it("counts sequence gaps while connected, not across a reconnect; a sequence back at 0 is a restart", () => {
    const { tracker, get } = setup();
    tracker.onConnected(A);
    assert.equal(tracker.onMessage(A, { hashHex: "01".repeat(32), sequence: 7 }).gap, null, "nothing to compare the first with");
    const v = tracker.onMessage(A, { hashHex: "02".repeat(32), sequence: 10 });
    assert.deepEqual(v.gap, { expected: 8, got: 10, missed: 2 });
    tracker.onDisconnected(A);
    tracker.onConnected(A);
    assert.equal(tracker.onMessage(A, { hashHex: "03".repeat(32), sequence: 20 }).gap, null, "messages sent while down are not a gap");
    const r = tracker.onMessage(A, { hashHex: "04".repeat(32), sequence: 0 });
    assert.equal(r.restarted, true);
    assert.equal(r.gap, null);
    // uint32 wrap-around is not a gap.
    tracker.onMessage(B, { hashHex: "05".repeat(32), sequence: 0xffffffff });
    const w = tracker.onMessage(B, { hashHex: "06".repeat(32), sequence: 0 });
    assert.deepEqual([w.gap, w.restarted], [null, false]);
    tracker.onDecodeError(A);
    const a = get(A);
    assert.deepEqual(a.failures, { disconnects: 1, decodeErrors: 1, sequenceGaps: 1, missed: 2 });
    assert.equal(a.failuresTotal, 3);
  });

  it("a message marks a never-handshaken endpoint connected; forgets old blocks beyond its memory", () => {
    let t = 0;
    const tracker = new HashblockTracker([{ endpoint: A }, { endpoint: B }], { now: () => t++, maxRememberedBlocks: 2 });
    tracker.onMessage(A, { hashHex: "01".repeat(32), sequence: 0 });
    assert.equal(tracker.status()[0].connected, true);
    tracker.onMessage(A, { hashHex: "02".repeat(32), sequence: 1 });
    tracker.onMessage(A, { hashHex: "03".repeat(32), sequence: 2 });
    assert.equal(tracker.onMessage(B, { hashHex: "03".repeat(32), sequence: 0 }).first, false);
    assert.equal(tracker.onMessage(B, { hashHex: "01".repeat(32), sequence: 1 }).first, true, "evicted");
    assert.throws(() => tracker.onConnected("tcp://unknown:1"), RangeError);
  });
});
