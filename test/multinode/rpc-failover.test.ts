/**
 * Issue 4, RPC side, with two real peered nodes: a found block goes to both nodes; node 1's RPC
 * stops and node 2 serves templates within a second while miners keep finding blocks node 2 accepts;
 * node 1 comes back and is preferred again. `blockpoll` 100 ms (ckpool's default).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { startTwoNodePool, type TwoNodePool } from "./two-nodes.ts";
import type { EngineEventMap } from "../../src/core/engine/engine.ts";

describe("two nodes: RPC failover and block submission", () => {
  let t: TwoNodePool;
  const user = `${REGTEST_ADDRESSES.p2wpkh}.failover`;
  before(async () => {
    t = await startTwoNodePool({ zmq: true, overrides: { blockpoll: 100 } });
  });
  after(async () => {
    await t?.close();
  });

  it("a found block is submitted to both nodes, each result reported", async () => {
    const c = await RawClient.connect(t.pool.port);
    try {
      const job = await c.handshake(user);
      const work = c.work(job, Buffer.alloc(c.extranonce2Size));
      const nonce = c.findNonce(work, "block");
      // Subscribed before submitting: a late result may arrive before the submit's reply is read.
      const late: EngineEventMap["blockLateResult"][0][] = [];
      t.pool.app.engine.bus.on("blockLateResult", (e) => late.push(e));
      const r = await c.request("mining.submit", c.submitParams(user, work, nonce));
      assert.equal(r.result, true, JSON.stringify(r.error));
      const block = await waitFor(() => t.blocks.at(-1), "block event", 5_000);
      // The outcome comes with the first accepting node's answer; the other's follows as a late result.
      assert.deepEqual([...block.results.map((x) => x.node), ...block.pending].sort(), [t.name1, t.name2].sort());
      await waitFor(() => late.length >= block.pending.length, "every node's answer", 5_000);
      const all = [...block.results, ...late.filter((e) => e.hashHex === block.hashHex).map((e) => e.result)];
      assert.deepEqual(all.map((x) => x.node).sort(), [t.name1, t.name2].sort());
      for (const x of all) assert.equal(x.accepted, true, `${x.node}: ${x.result}`);
      assert.ok(all.every((x) => x.result === null || x.result === "duplicate"));
      await waitFor(() => t.node1.tipHash() === block.hashHex && t.node2.tipHash() === block.hashHex, "both tips", 5_000);
    } finally {
      c.close();
    }
  });

  it("node 1's RPC stops: node 2 serves within a second, miners keep mining blocks node 2 accepts; node 1 back is preferred again", async () => {
    const nodes = () => t.pool.app.engine.status().nodes;
    const active = () => nodes().find((s) => s.active)?.name;
    assert.equal(active(), t.name1);

    const seen = t.templates.length;
    const t0 = Date.now();
    await t.node1.stopRpc();
    const fromNode2 = await waitFor(() => t.templates.slice(seen).find((e) => e.template.source === t.name2), "a template from node 2", 5_000);
    const failoverMs = Date.now() - t0;
    assert.ok(failoverMs < 1_000, `node 2 served after ${failoverMs} ms`);
    assert.ok(fromNode2);
    assert.equal(active(), t.name2);
    assert.equal(nodes()[0].healthy, false);

    // Mining goes on: blocks found now are accepted by node 2 (node 1's submit fails: connection refused).
    const blocksBefore = t.blocks.length;
    const late: EngineEventMap["blockLateResult"][0][] = [];
    t.pool.app.engine.bus.on("blockLateResult", (e) => late.push(e));
    const h2 = t.node2.height();
    const miner = await startMiner({ url: t.pool.url, user, threads: 0, maxBlocks: 2, durationSec: 30, blockPauseMs: 2_000 });
    const stats = await miner.done;
    assert.equal(stats.blocksAccepted, 2, `miner stopped: ${stats.stopReason}`);
    // The share is answered before the submissions to the nodes finish: wait for their results.
    const mined = await waitFor(() => (t.blocks.length >= blocksBefore + 2 ? t.blocks.slice(blocksBefore) : null), "two block events", 5_000);
    for (const b of mined) {
      // Node 1's refusal may come after node 2's acceptance (then as a late result).
      const r1 = b.results.find((x) => x.node === t.name1) ?? (await waitFor(() => late.find((e) => e.hashHex === b.hashHex)?.result, "node 1's answer", 5_000));
      const r2 = b.results.find((x) => x.node === t.name2)!;
      assert.equal(r2.accepted, true, `node 2: ${r2.result}`);
      assert.equal(r1.accepted, false, "node 1 is down");
      assert.match(r1.result ?? "", /ECONNREFUSED|ECONNRESET|socket hang up/);
      assert.equal(b.accepted, true);
    }
    assert.equal(t.node2.height(), h2 + mined.length, "node 2 accepted them");
    // Work moved on with each of them, served by node 2.
    const last = mined.at(-1)!;
    await waitFor(() => t.templates.find((e) => e.template.prevhashHex === last.hashHex), "work on the last block", 5_000);
    assert.equal(t.templates.find((e) => e.template.prevhashHex === last.hashHex)?.template.source, t.name2);

    // Node 1 comes back: the background probe (1 s) makes it the serving node again.
    const back = t.templates.length;
    await t.node1.startRpc();
    await waitFor(() => active() === t.name1, "node 1 preferred again", 5_000);
    assert.ok(t.templates.slice(back).some((e) => e.template.source === t.name1));
    assert.equal(nodes()[0].healthy, true);
    // It caught up over P2P and serves the same tip.
    await waitFor(() => t.node1.tipHash() === t.node2.tipHash(), "node 1 synced", 5_000);
  });
});
