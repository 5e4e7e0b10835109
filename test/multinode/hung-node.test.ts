/**
 * A hung node (it keeps its connections open but answers nothing, as under SIGSTOP): node 1's RPC goes
 * through a proxy that freezes. Miners get work on a new block from node 2 within `blockpoll` + 1 s
 * (with ZMQ and with polling only), and a found block's outcome is reported as soon as node 2 accepts
 * it, not after node 1's RPC time-out; node 1's answer, once it thaws, follows as a late result.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { EngineEventMap } from "../../src/core/engine/engine.ts";
import { startTestNode, startTestPool, btcdFor } from "../support/pool.ts";
import { startFreezeProxy } from "../support/freeze-proxy.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { FAST_ZMQ } from "./two-nodes.ts";

const BLOCKPOLL_MS = 100;
const user = `${REGTEST_ADDRESSES.p2wpkh}.hung`;

async function scenario(zmq: boolean, blockAfterMs = 0): Promise<void> {
  const node1 = await startTestNode({ listen: true });
  const node2 = await startTestNode({ peers: [`127.0.0.1:${node1.p2pPort}`] });
  const cleanup: Array<() => Promise<unknown> | void> = [() => node1.close(), () => node2.close()];
  try {
    await node1.mine(1);
    await node2.waitForHeight(1);
    const rpc1 = new URL(node1.rpcUrl);
    const proxy = await startFreezeProxy({ host: rpc1.hostname, port: Number(rpc1.port) });
    cleanup.unshift(() => proxy.close());
    const viaProxy = { url: `127.0.0.1:${proxy.port}`, auth: node1.rpcUser, pass: node1.rpcPass, ...(zmq ? { zmqnotify: node1.zmqUrl } : {}) };
    const pool = await startTestPool({ node: node1, zmq, app: { zmq: FAST_ZMQ }, overrides: { btcd: [viaProxy, btcdFor(node2, zmq)], blockpoll: BLOCKPOLL_MS } });
    cleanup.unshift(() => pool.close());
    const [name1, name2] = pool.app.engine.status().nodeNames;
    if (zmq) await Promise.all([node1.waitForZmqSubscription(1), node2.waitForZmqSubscription(1)]);
    const blocks: EngineEventMap["block"][0][] = [];
    const late: EngineEventMap["blockLateResult"][0][] = [];
    pool.app.engine.bus.on("block", (b) => blocks.push(b));
    pool.app.engine.bus.on("blockLateResult", (e) => late.push(e));
    const templates: EngineEventMap["template"][0][] = [];
    pool.app.engine.bus.on("template", (e) => templates.push(e));

    const c = await RawClient.connect(pool.port);
    cleanup.unshift(() => c.close());
    const job0 = await c.handshake(user);
    assert.equal(pool.app.engine.status().nodes.find((s) => s.active)?.name, name1, "node 1 serves first");

    // Node 1 hangs; node 2 learns of a new block.
    proxy.freeze();
    // A scenario parameter, not synchronisation: the block reaches node 2 only after the first hedge
    // of node 1's hung poll asked node 2 (the backup must keep being polled, not asked once).
    if (blockAfterMs > 0) await new Promise((r) => setTimeout(r, blockAfterMs));
    const t0 = Date.now();
    await node2.mine(1);
    const job1 = await c.until(() => c.notifies().find((n) => n.cleanJobs && n.prevhashStratum !== job0.prevhashStratum), 15_000, "work on node 2's block");
    const failoverMs = Date.now() - t0;
    console.log(`# ${zmq ? "zmq" : "poll only"}: work on the new block ${failoverMs} ms after node 2 mined it (node 1 hung)`);
    assert.ok(failoverMs <= BLOCKPOLL_MS + 1000, `work on the new block after ${failoverMs} ms (bound: blockpoll + 1 s)`);

    // A block found now: node 2 accepts it at once; the outcome does not wait for node 1.
    const work = c.work(job1, Buffer.alloc(c.extranonce2Size));
    const nonce = c.findNonce(work, "block");
    const t1 = Date.now();
    const r = await c.request("mining.submit", c.submitParams(user, work, nonce));
    assert.equal(r.result, true, JSON.stringify(r.error));
    const b = await waitFor(() => blocks[0], "the block outcome", 15_000);
    const outcomeMs = Date.now() - t1;
    console.log(`# ${zmq ? "zmq" : "poll only"}: block outcome ${outcomeMs} ms after the submit`);
    assert.equal(b.outcome, "accepted");
    assert.deepEqual(b.results.map((x) => [x.node, x.accepted]), [[name2, true]]);
    assert.deepEqual(b.pending, [name1]);
    assert.ok(outcomeMs < 1000, `outcome after ${outcomeMs} ms (node 1's RPC time-out is 10 s)`);
    // Miners move onto the pool's own block at once, from node 2, while node 1 still hangs.
    const own = await waitFor(() => templates.find((e) => e.template.prevhashHex === b.hashHex), "work on the pool's own block", 15_000);
    const ownMs = Date.now() - t1;
    console.log(`# ${zmq ? "zmq" : "poll only"}: work on the pool's own block ${ownMs} ms after the submit`);
    assert.equal(own.template.source, name2);
    assert.ok(ownMs <= BLOCKPOLL_MS + 1000, `work on the pool's block after ${ownMs} ms`);

    // Node 1 thaws: its answer arrives as a late result.
    proxy.thaw();
    const l = await waitFor(() => late.find((e) => e.hashHex === b.hashHex), "node 1's late answer", 15_000);
    assert.equal(l.result.node, name1);
    assert.equal(l.result.accepted, true, String(l.result.result));
  } finally {
    for (const f of cleanup) await f();
  }
}

describe("a hung node (frozen RPC) holds up neither work nor block outcomes", () => {
  it("with ZMQ", () => scenario(true));
  it("polling only", () => scenario(false));
  it("polling only, the block reaching node 2 1 s after node 1 hung", () => scenario(false, 1000));
});
