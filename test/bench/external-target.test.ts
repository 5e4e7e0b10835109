/**
 * The benchmark scripts against another pool (`--url` + `--node-rpc`): the template label and the block
 * source come from the bench node, not from flags (regressions: share-throughput labelled every row
 * "0 tx", fanout printed "?" as the source).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { startBenchNode } from "../../src/tools/bench-node/bench-node.ts";
import { blockSourceFromNode, openTarget } from "../../bench/support.ts";

test("an external target's template size and block source are asked of its bench node", async () => {
  const node = await startBenchNode({ txs: 3000 });
  const sub = new zmq.Subscriber({ linger: 0 });
  try {
    const nodeRpc = `http://${node.user}:${node.pass}@127.0.0.1:${node.rpcPort}`;
    // --txs would say 0 (the script's first default); the node serves 3,000.
    const target = await openTarget({ url: "stratum+tcp://127.0.0.1:1", "node-rpc": nodeRpc }, { txs: 0 });
    assert.equal(target.kind, "external");
    assert.equal(target.templateTxs, 3000);
    let stats = await target.nodeStats();
    assert.ok(stats);
    assert.equal(blockSourceFromNode(stats), "poll (no ZMQ subscription)");
    // A pool that subscribes to rawblock only (public-pool).
    sub.connect(node.zmqUrl);
    sub.subscribe("rawblock");
    const deadline = Date.now() + 5000;
    while (node.rawblockSubscribers() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stats = await target.nodeStats();
    assert.equal(blockSourceFromNode(stats!), "zmq rawblock (subscribed)");
    await target.newBlock();
    const [topic] = await sub.receive();
    assert.equal(topic.toString(), "rawblock");
    stats = await target.nodeStats();
    assert.equal(stats!.height, node.chain.height);
    assert.equal(blockSourceFromNode({ ...stats!, zmqSubscriptions: { hashblock: 1, rawblock: 1 } }), "zmq hashblock (subscribed)");
    // Without --node-rpc the label is unknown rather than a guess.
    const blind = await openTarget({ url: "stratum+tcp://127.0.0.1:1" }, { txs: 0 });
    assert.equal(blind.templateTxs, null);
    assert.equal(await blind.nodeStats(), null);
  } finally {
    sub.close();
    await node.close();
  }
});
