import { test } from "node:test";
import assert from "node:assert/strict";
import { startRelayPair } from "../support/relay.ts";
import { proxyRelayPorts } from "../support/delay-proxy.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { prevhashToStratum } from "../../src/core/bitcoin/header.ts";

const USER = `${REGTEST_ADDRESSES.p2wpkh}.relayrig`;

test("fast tip switch: the relay's node announces a block (ZMQ) before the primary's template arrives; miners get an empty-block job on the new tip at once, replaced by the primary's template", async () => {
  let link!: Awaited<ReturnType<typeof proxyRelayPorts>>;
  const pair = await startRelayPair({ zmq: true, failoverSec: 30, via: async (ports) => (link = await proxyRelayPorts(ports)).ports });
  try {
    const engine = pair.relay.app.engine;
    await pair.relayNode.waitForZmqSubscription(1);
    const c = await RawClient.connect(pair.relay.port);
    const first = await c.handshake(USER);
    // The primary's templates now take 1.5 s to reach the relay; blocks cross by P2P at once.
    link.setDelay({ up: 0, down: 1500 });
    const before = c.notifies().length;
    const t0 = Date.now();
    const [hash] = await pair.primaryNode.mine(1);
    const newPrev = prevhashToStratum(hash!);
    const fast = await c.until(() => c.notifies().slice(before).find((n) => n.prevhashStratum === newPrev), 10_000, "work on the new tip");
    const fastMs = Date.now() - t0;
    assert.ok(fast.cleanJobs);
    assert.notEqual(fast.prevhashStratum, first.prevhashStratum);
    assert.match(engine.currentWork()!.node, /fast tip, empty block/);
    assert.equal(engine.currentWork()!.transactions, 0);
    assert.equal(engine.relay!.status().fastTipSwitches, 1);
    assert.ok(fastMs < 1500, `empty-block job after ${fastMs} ms, before the primary's template could arrive`);
    // The primary's full template replaces it (same tip: no clean_jobs).
    await waitFor(() => /^primary /.test(engine.currentWork()!.node), "the primary's template", 10_000);
    const replacedMs = Date.now() - t0;
    assert.equal(engine.currentWork()!.prevHash, hash);
    const fastAt = c.notifies().findIndex((n) => n.jobId === fast.jobId);
    const after = await c.until(() => c.notifies().slice(fastAt + 1).at(-1), 5000, "the replacing job at the miner");
    assert.equal(after.prevhashStratum, newPrev);
    assert.equal(after.cleanJobs, false);
    // The empty-block job was real work: a block on it (still on the tip) is accepted.
    const h = pair.relayNode.height();
    const work = c.work(fast, Buffer.alloc(c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(USER, work, c.findNonce(work, "block")));
    assert.equal(r.result, true, JSON.stringify(r.error));
    await waitFor(() => pair.relayBlocks.length === 1, "block outcome");
    assert.equal(pair.relayBlocks[0]!.outcome, "accepted");
    await pair.relayNode.waitForHeight(h + 1);
    console.log(`# fast tip: empty-block job ${fastMs} ms after the block, primary template ${replacedMs} ms after (1500 ms one-way delay)`);
    c.close();
  } finally {
    await pair.close();
    await link?.close();
  }
});
