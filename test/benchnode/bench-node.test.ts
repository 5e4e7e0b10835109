import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { startBenchNode } from "../../src/tools/bench-node/bench-node.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";

test("answers getblocktemplate with 0 and 3000 transactions through the pool's RPC client", async () => {
  for (const txs of [0, 3000] as const) {
    const node = await startBenchNode({ txs });
    const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
    try {
      const info = await rpc.getBlockchainInfo();
      assert.equal(info.chain, "main");
      const t = await rpc.getBlockTemplate(["segwit"]);
      assert.equal(t.transactions.length, txs);
      assert.equal(t.previousblockhash, await rpc.getBestBlockHash());
      assert.equal(t.height, info.blocks + 1);
      assert.ok(Math.abs(t.curtime - Date.now() / 1000) < 5);
      const header = await rpc.getBlockHeader(t.previousblockhash);
      assert.equal(header.height, info.blocks);
      assert.equal(await rpc.getBlockHash(info.blocks), t.previousblockhash);
      assert.equal(await rpc.submitBlock("00"), "rejected");
      assert.equal(node.chain.submittedCount, 1);
      const v = await rpc.validateAddress("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
      assert.equal(v.isvalid, true);
      assert.equal(v.scriptPubKey, "0014751e76e8199196d454941c45d1b3a323f1433bd6");
      assert.equal((await rpc.validateAddress("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")).isvalid, false);
      await assert.rejects(rpc.call("getblocktemplate", [{ rules: [] }]), (e: { message: string }) => /segwit rule/.test(e.message));
      await assert.rejects(rpc.call("nosuchmethod"));
    } finally {
      rpc.close();
      await node.close();
    }
  }
});

test("wrong credentials get HTTP 401", async () => {
  const node = await startBenchNode({ txs: 0, user: "u", pass: "p" });
  const res = await fetch(node.rpcUrl, { method: "POST", body: '{"method":"getbestblockhash","params":[],"id":1}', headers: { authorization: "Basic " + Buffer.from("u:wrong").toString("base64") } });
  assert.equal(res.status, 401);
  await node.close();
});

test("newBlock advances the tip and a real zeromq Subscriber gets hashblock in Bitcoin Core's 3-frame format", async () => {
  const node = await startBenchNode({ txs: 0 });
  const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
  const sub = new zmq.Subscriber({ linger: 0 });
  try {
    sub.connect(node.zmqUrl);
    sub.subscribe("hashblock");
    await node.waitForSubscribers(1, 5000);
    const before = await rpc.getBlockchainInfo();
    const h1 = await node.newBlock();
    const [topic, body, seq] = await sub.receive();
    assert.equal(topic.toString(), "hashblock");
    assert.equal(body.length, 32);
    assert.equal(body.toString("hex"), h1); // display order, like Core
    assert.equal(seq.readUInt32LE(0), 0);
    assert.equal(await rpc.getBestBlockHash(), h1);
    const t = await rpc.getBlockTemplate(["segwit"]);
    assert.equal(t.previousblockhash, h1);
    assert.equal(t.height, before.blocks + 2);
    // the RPC trigger works too, and the sequence counts up
    const h2 = await rpc.call<string>("bench_newblock");
    const [, body2, seq2] = await sub.receive();
    assert.equal(body2.toString("hex"), h2);
    assert.equal(seq2.readUInt32LE(0), 1);
    assert.notEqual(h1, h2);
    const header = await rpc.getBlockHeader(h2);
    assert.equal(header.previousblockhash, h1);
  } finally {
    sub.close();
    rpc.close();
    await node.close();
  }
});

test("a long-poll getblocktemplate returns when the tip changes", async () => {
  const node = await startBenchNode({ txs: 0, longpollTimeoutMs: 10_000 });
  const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
  try {
    const t = await rpc.call<{ longpollid: string; previousblockhash: string }>("getblocktemplate", [{ rules: ["segwit"] }]);
    const poll = rpc.call<{ previousblockhash: string }>("getblocktemplate", [{ rules: ["segwit"], longpollid: t.longpollid }]);
    const h = await node.newBlock();
    const t2 = await poll;
    assert.equal(t2.previousblockhash, h);
    assert.notEqual(t2.previousblockhash, t.previousblockhash);
  } finally {
    rpc.close();
    await node.close();
  }
});
