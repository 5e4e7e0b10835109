import { it } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { HashblockPublisher } from "../../../src/tools/regtest-node/zmq-publisher.ts";
import { decodeHashblock } from "../../../src/core/bitcoind/zmq-format.ts";

/** Subscribes with a reader loop running (zeromq.js only processes reconnects while a receive is pending). */
function subscriber(endpoint: string) {
  const sub = new zmq.Subscriber({ reconnectInterval: 10, linger: 0 });
  sub.connect(endpoint);
  sub.subscribe("hashblock");
  const received: Buffer[][] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    try {
      for await (const msg of sub) {
        received.push(msg);
        wake?.();
      }
    } catch {
      // closed
    }
  })();
  const nextCount = (n: number) =>
    new Promise<void>((resolve, reject) => {
      if (received.length >= n) return resolve();
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${n} messages`)), 5_000);
      wake = () => {
        if (received.length < n) return;
        clearTimeout(timer);
        resolve();
      };
    });
  return { sub, received, nextCount };
}

it("publishes hashblock frames with a per-topic sequence and counts subscriptions", async () => {
  const pub = new HashblockPublisher({ port: 0 });
  await pub.start();
  assert.match(pub.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const a = subscriber(pub.endpoint);
  const b = subscriber(pub.endpoint);
  try {
    await pub.waitForSubscriptions(2); // both subscribers counted (XPUB verbose)
    await pub.publishHashblock("aa".repeat(32));
    await pub.publishHashblock("bb".repeat(32));
    await a.nextCount(2);
    await b.nextCount(2);
    assert.deepEqual(a.received.map(decodeHashblock), [
      { hashHex: "aa".repeat(32), sequence: 0 },
      { hashHex: "bb".repeat(32), sequence: 1 },
    ]);
    assert.equal(pub.sequence, 2);
  } finally {
    a.sub.close();
    b.sub.close();
    await pub.dispose();
  }
});

it("waitForSubscriptions rejects with ZMQ_WAIT_TIMEOUT when nobody subscribes", async () => {
  const pub = new HashblockPublisher({ port: 0 });
  await pub.start();
  try {
    await assert.rejects(pub.waitForSubscriptions(1, 50), { code: "ZMQ_WAIT_TIMEOUT" });
  } finally {
    await pub.dispose();
  }
});

// Regression: unbind() before close() on the verbose XPUB made libzmq 4.3.5 abort the whole process
// ("Assertion failed: _state == term_ack_sent || _state == term_req_sent2 (pipe.cpp:355)") or segfault
// when an in-process subscriber closed first — which is what every test teardown does.
it("survives subscribers closing first and publisher restarts, repeatedly, in one process", async () => {
  for (let i = 0; i < 60; i++) {
    const pub = new HashblockPublisher({ port: 0 });
    await pub.start();
    const s = subscriber(pub.endpoint);
    await pub.waitForSubscriptions(1);
    await pub.publishHashblock("cd".repeat(32));
    await s.nextCount(1);
    await pub.close();
    await pub.start(); // same port
    await pub.waitForSubscriptions(2); // the subscriber reconnected and re-subscribed
    await pub.publishHashblock("ef".repeat(32));
    await s.nextCount(2);
    s.sub.close();
    await pub.dispose();
  }
});
