/**
 * Issue 4 with two real nodes, each publishing hashblock: the first notification of a block gives
 * every miner clean work once (copies only counted), and one publisher going away does not stop
 * notifications. `blockpoll` is 60 s here, so only ZMQ can explain new work within seconds.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { startTwoNodePool, type TwoNodePool } from "./two-nodes.ts";
import { prevhashToStratum } from "../../src/core/bitcoin/header.ts";

describe("two nodes, two ZMQ endpoints", () => {
  let t: TwoNodePool;
  const miners: RawClient[] = [];
  const user = `${REGTEST_ADDRESSES.p2wpkh}.zmq`;
  before(async () => {
    t = await startTwoNodePool({ zmq: true, overrides: { blockpoll: 60_000, health: { enabled: true, port: 0 } } });
    await waitFor(() => t.zmq(t.node1).connected && t.zmq(t.node2).connected, "both ZMQ endpoints connected", 5_000);
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(t.pool.port);
      await c.handshake(`${user}${i}`);
      miners.push(c);
    }
  });
  after(async () => {
    for (const c of miners) c.close();
    await t?.close();
  });

  /** Clean notifies per miner for this block, once every miner has at least one (bounded wait). */
  async function cleanNotifiesFor(hashHex: string, timeoutMs = 5_000): Promise<number[]> {
    const ph = prevhashToStratum(hashHex);
    const count = (c: RawClient) => c.notifies().filter((n) => n.cleanJobs && n.prevhashStratum === ph).length;
    await Promise.all(miners.map((c) => c.until(() => count(c) > 0, timeoutMs, `clean notify for ${hashHex}`)));
    return miners.map(count);
  }

  /** A request/reply round trip per miner: everything the pool sent before it has been read. */
  async function flush(): Promise<void> {
    await Promise.all(miners.map((c) => c.request("mining.suggest_difficulty", [c.difficulty])));
  }

  it("a block mined on node 2 gives every miner clean work once, and the stats credit node 2's endpoint", async () => {
    const before2 = t.zmq(t.node2);
    const before1 = t.zmq(t.node1);
    const t0 = Date.now();
    const [hash] = await t.node2.mine(1); // not through the pool
    await cleanNotifiesFor(hash);
    const ms = Date.now() - t0;
    assert.ok(ms < 3_000, `clean work after ${ms} ms (the poll would take up to 60 s)`);
    // Node 1 learns the block over P2P and announces it too: counted, never acted on.
    await waitFor(() => t.zmq(t.node1).messages === before1.messages + 1, "node 1's copy of the notification", 5_000);
    await flush();
    assert.deepEqual(await cleanNotifiesFor(hash), [1, 1, 1], "exactly one clean notify per miner");

    const s2 = t.zmq(t.node2);
    const s1 = t.zmq(t.node1);
    assert.equal(s2.first, before2.first + 1, "node 2 announced it first");
    assert.equal(s1.first, before1.first);
    assert.equal(s1.duplicates, before1.duplicates + 1);
    assert.ok(s1.lastLagMs !== null && s1.lastLagMs >= 0);
    const tip = t.tips.find((e) => e.hash === hash);
    assert.equal(tip?.source, `zmq:${t.node2.zmqUrl}`, "new_block_network names the first endpoint");
    // Templates still come from node 1 (first healthy): the hint was retried until node 1 had the block.
    const work = t.templates.find((e) => e.newBlock && e.template.prevhashHex === hash);
    assert.equal(work?.template.source, t.name1);
  });

  it("node 1's publisher closed: notifications keep arriving through node 2 and node 1 shows disconnected; reopened, it reconnects by itself", async () => {
    await t.node1.closeZmq();
    await waitFor(() => t.zmq(t.node1).state === "disconnected", "node 1's endpoint disconnected", 5_000);
    const s1 = t.zmq(t.node1);
    assert.equal(s1.connected, false);
    assert.ok(s1.failures.disconnects >= 1);

    const firstBefore = t.zmq(t.node2).first;
    const [hash] = await t.node1.mine(1); // node 1's own block, announced only by node 2
    assert.deepEqual(await cleanNotifiesFor(hash), [1, 1, 1]);
    assert.equal(t.zmq(t.node2).first, firstBefore + 1);
    assert.equal(t.tips.find((e) => e.hash === hash)?.source, `zmq:${t.node2.zmqUrl}`);

    const subs = t.node1.zmqSubscriptionCount();
    await t.node1.reopenZmq({ resetSequence: true }); // like a restarted bitcoind
    await t.node1.waitForZmqSubscription(subs + 1, 5_000);
    await waitFor(() => t.zmq(t.node1).connected, "node 1's endpoint reconnected", 5_000);
    const messages1 = t.zmq(t.node1).messages;
    const [next] = await t.node1.mine(1);
    assert.deepEqual(await cleanNotifiesFor(next), [1, 1, 1]);
    await waitFor(() => t.zmq(t.node1).messages === messages1 + 1, "node 1 announces again", 5_000);
    assert.equal(t.zmq(t.node1).failures.sequenceGaps, 0, "a restarted publisher's sequence is not a gap");
  });

  it("/health-style status lists both endpoints with counters; nothing failed on node 2", async () => {
    await waitFor(() => t.zmq(t.node2).messages >= 3, "node 2 announced the three blocks", 5_000);
    const status = t.pool.app.zmq!.status();
    assert.deepEqual(status.map((s) => s.endpoint), [t.node1.zmqUrl, t.node2.zmqUrl]);
    assert.deepEqual(status.map((s) => s.source), ["btcd[0].zmqnotify", "btcd[1].zmqnotify"]);
    const s2 = status[1];
    assert.equal(s2.failuresTotal, 0);
    assert.equal(s2.messages, 3);

    const url = t.pool.app.obs.health!.url;
    const health = (await (await fetch(`${url}/health`)).json()) as { zmq: Array<Record<string, unknown>> };
    assert.deepEqual(health.zmq.map((z) => [z.endpoint, z.healthy, z.messages]), [[t.node1.zmqUrl, true, status[0].messages], [t.node2.zmqUrl, true, 3]]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const ep = t.node2.zmqUrl;
    assert.match(metrics, new RegExp(`tbg_zmq_endpoint_up\\{endpoint="${ep}"\\} 1`));
    assert.match(metrics, new RegExp(`tbg_zmq_notifications_total\\{endpoint="${ep}"\\} 3`));
    assert.match(metrics, new RegExp(`tbg_zmq_first_total\\{endpoint="${ep}"\\} 2`));
    assert.match(metrics, new RegExp(`tbg_zmq_failures_total\\{endpoint="${t.node1.zmqUrl}",kind="disconnect"\\} [1-9]`));
    assert.match(metrics, new RegExp(`tbg_zmq_lag_behind_first_seconds\\{endpoint="${ep}"\\} `));
  });
});
