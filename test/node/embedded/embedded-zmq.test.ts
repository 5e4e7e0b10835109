import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { startEmbeddedNode, type EmbeddedNode } from "../../../src/tools/regtest-node/embedded-node.ts";
import { RpcClient } from "../../../src/core/bitcoind/rpc-client.ts";
import { decodeHashblock } from "../../../src/core/bitcoind/zmq-format.ts";

/** One reader loop per socket (zeromq allows a single pending receive); `next()` waits with a deadline. */
class Collector {
  readonly #queue: Buffer[][] = [];
  #waiter: ((msg: Buffer[]) => void) | undefined;
  constructor(readonly sub: zmq.Subscriber) {
    void (async () => {
      try {
        for await (const msg of sub) {
          if (this.#waiter) {
            const w = this.#waiter;
            this.#waiter = undefined;
            w(msg);
          } else this.#queue.push(msg);
        }
      } catch {
        // closed
      }
    })();
  }
  next(timeoutMs = 5_000): Promise<Buffer[]> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no ZMQ message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (msg) => {
        clearTimeout(timer);
        resolve(msg);
      };
    });
  }
  get pending(): number {
    return this.#queue.length;
  }
}

describe("embedded node: ZMQ hashblock publisher", () => {
  let node: EmbeddedNode;
  let sub: zmq.Subscriber;
  let collector: Collector;
  before(async () => {
    node = await startEmbeddedNode();
    sub = new zmq.Subscriber({ reconnectInterval: 20, linger: 0 });
    sub.connect(node.zmqUrl);
    sub.subscribe("hashblock");
    collector = new Collector(sub);
    await node.waitForZmqSubscription(1);
  });
  after(async () => {
    sub?.close();
    await node?.close();
  });

  it("publishes Bitcoin Core's 3-frame hashblock for every new tip with a LE sequence", async () => {
    const hashes = await node.mine(3);
    const seqs: number[] = [];
    for (const hash of hashes) {
      const frames = await collector.next();
      assert.equal(frames.length, 3);
      assert.equal(frames[0].toString(), "hashblock");
      assert.equal(frames[1].length, 32);
      assert.equal(frames[1].toString("hex"), hash, "hash in display (RPC) byte order");
      assert.equal(frames[2].length, 4);
      seqs.push(frames[2].readUInt32LE(0));
      assert.deepEqual(decodeHashblock(frames), { hashHex: hash, sequence: seqs.at(-1) });
    }
    assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
    assert.equal(seqs[0], 0, "the first message of a fresh node has sequence 0");
  });

  it("publishes a block accepted through submitblock, and after a reorg only the new tip", async () => {
    const other = await startEmbeddedNode();
    const otherRpc = new RpcClient({ url: other.rpcUrl, user: other.rpcUser, pass: other.rpcPass });
    const rpc = new RpcClient({ url: node.rpcUrl, user: node.rpcUser, pass: node.rpcPass });
    try {
      // `other` builds a longer chain from genesis: 5 blocks vs our 3.
      const theirs = await other.mine(node.height() + 2);
      for (const [i, hash] of theirs.entries()) {
        const hex = await otherRpc.call<string>("getblock", [hash, false]);
        const result = await rpc.submitBlock(hex);
        assert.ok(result === null || result === "inconclusive", `block ${i}: ${result}`);
      }
      assert.equal(node.tipHash(), theirs.at(-1));
      // The reorg happened when their 4th block arrived (more work than our 3), then the 5th extended it.
      const first = decodeHashblock(await collector.next());
      const second = decodeHashblock(await collector.next());
      assert.equal(first?.hashHex, theirs[3], "the reorg announces only the new tip");
      assert.equal(second?.hashHex, theirs[4]);
      assert.equal(collector.pending, 0);
    } finally {
      rpc.close();
      otherRpc.close();
      await other.close();
    }
  });

  it("closeZmq() stops announcements; reopenZmq() binds the same endpoint and subscribers come back", async () => {
    const endpoint = node.zmqUrl;
    const subscriptions = node.zmqSubscriptionCount();
    await node.closeZmq();
    const [missed] = await node.mine(1); // published into the void: PUB/SUB has no replay
    await node.reopenZmq();
    assert.equal(node.zmqUrl, endpoint);
    await node.waitForZmqSubscription(subscriptions + 1); // libzmq reconnected and re-sent the subscription
    const [seen] = await node.mine(1);
    const msg = decodeHashblock(await collector.next());
    assert.equal(msg?.hashHex, seen);
    assert.notEqual(msg?.hashHex, missed);
  });

  it("reopenZmq({resetSequence}) restarts the sequence at 0 like a restarted bitcoind", async () => {
    const subscriptions = node.zmqSubscriptionCount();
    await node.closeZmq();
    await node.reopenZmq({ resetSequence: true });
    await node.waitForZmqSubscription(subscriptions + 1);
    await node.mine(1);
    assert.equal(decodeHashblock(await collector.next())?.sequence, 0);
  });
});
