import { test } from "node:test";
import assert from "node:assert/strict";
import { startRelayPair } from "../support/relay.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { MemorySink } from "../../src/pipeline/events/index.ts";

const USER = `${REGTEST_ADDRESSES.p2wpkh}.relayrig`;

test("passthrough: a relay mines on the primary's templates with its own extranonce1 space; a block it finds goes to both nodes, one block_found with its region", async () => {
  const sink = new MemorySink();
  const pair = await startRelayPair({ relayApp: { observability: { extraEventSinks: [sink] } } });
  try {
    const relayEngine = pair.relay.app.engine;
    assert.equal(relayEngine.relay?.mode, "passthrough");
    assert.match(relayEngine.currentWork()!.node, /^primary /);
    assert.deepEqual(pair.relayStates.map((s) => s.state), ["connecting", "passthrough"]);

    const c = await RawClient.connect(pair.relay.port);
    const job = await c.handshake(USER);
    assert.equal(c.extranonce1.slice(0, 2), "01", "instance_id 1 is the first extranonce1 byte");
    const p = await RawClient.connect(pair.primary.port);
    await p.handshake(USER);
    assert.equal(p.extranonce1.slice(0, 2), "00");
    p.close();

    // A new block on the primary's node: the primary's template reaches the relay's miners.
    const h0 = pair.primaryNode.height();
    await pair.primaryNode.mine(1);
    await c.until(() => c.notifies().find((n) => n.cleanJobs && n.prevhashStratum !== job.prevhashStratum), 10_000, "clean job on the primary's new block");
    assert.equal(relayEngine.currentWork()!.height, h0 + 2);
    // The relay's own node may announce the block first (an empty-block job); the primary's template follows.
    await waitFor(() => /^primary /.test(relayEngine.currentWork()!.node) && relayEngine.currentWork()!.height === h0 + 2, "the primary's template on the new block");

    // The relay's miner finds a block: local node and primary both get it; first success wins.
    const cur = (await c.until(() => c.notifies().at(-1), 1000, "latest job"))!;
    const work = c.work(cur, Buffer.alloc(c.extranonce2Size));
    const nonce = c.findNonce(work, "block");
    const r = await c.request("mining.submit", c.submitParams(USER, work, nonce));
    assert.equal(r.result, true, JSON.stringify(r.error));
    await waitFor(() => pair.relayBlocks.length === 1, "relay block outcome");
    const b = pair.relayBlocks[0]!;
    assert.equal(b.outcome, "accepted");
    await waitFor(() => pair.primaryNode.height() === h0 + 2 && pair.relayNode.height() === h0 + 2, "both nodes on the relay's block");
    assert.equal(pair.primaryNode.tipHash(), b.hashHex);
    await waitFor(() => pair.primary.app.relayServer!.status().blocksFromRelays === 1, "the primary got the block over the control port");
    await waitFor(() => pair.relay.app.engine.relay!.status().blocksToPrimary.accepted + pair.relay.app.engine.relay!.status().blocksToPrimary.failed === 1, "primary answered");
    assert.equal(pair.primaryBlocks.length, 0, "the primary does not report the relay's block as its own");
    const found = sink.events().filter((e) => e.event === "block_found");
    assert.equal(found.length, 1);
    assert.equal(found[0]!.region, "us-east");
    assert.ok(sink.events().some((e) => e.event === "relay_state" && (e.data as { state: string }).state === "passthrough"));
    c.close();
  } finally {
    await pair.close();
  }
});
