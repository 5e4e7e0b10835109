import { test } from "node:test";
import assert from "node:assert/strict";
import { startRelayPair } from "../support/relay.ts";
import { proxyRelayPorts } from "../support/delay-proxy.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";

const USER = `${REGTEST_ADDRESSES.p2wpkh}.relayrig`;

test("independent mode: a partitioned relay makes its own templates after failover_threshold and returns to the primary's when the link heals; miners stay connected; /health and /metrics show it", async () => {
  let link!: Awaited<ReturnType<typeof proxyRelayPorts>>;
  const pair = await startRelayPair({
    failoverSec: 1,
    via: async (ports) => (link = await proxyRelayPorts(ports)).ports,
    relayOverrides: { health: { enabled: true, port: 0 } },
  });
  try {
    const engine = pair.relay.app.engine;
    const health = pair.relay.app.obs.health!;
    const c = await RawClient.connect(pair.relay.port);
    await c.handshake(USER);
    let closed = false;
    c.socket.on("close", () => (closed = true));
    assert.equal(engine.relay!.mode, "passthrough");
    let m = await (await fetch(`${health.url}/metrics`)).text();
    assert.match(m, /^tbg_relay_independent_mode 0$/m);

    // Partition: the relay hears nothing from the primary.
    const t0 = Date.now();
    link.blackhole();
    await waitFor(() => engine.relay!.mode === "independent", "independent mode", 10_000);
    const failoverMs = Date.now() - t0;
    assert.ok(failoverMs >= 900 && failoverMs < 5000, `independent after ${failoverMs} ms (threshold 1000)`);
    assert.match(engine.currentWork()!.node, /^btcd\[0\]/);
    const h = (await (await fetch(`${health.url}/health`)).json()) as { relay: { mode: string; independent: boolean; state: string; primary_connected: boolean } };
    assert.equal(h.relay.mode, "independent");
    assert.equal(h.relay.independent, true);
    // The flat fields the region monitor reads (src/monitor/probes.ts).
    assert.equal(h.relay.state, "independent");
    assert.equal(h.relay.primary_connected, false);
    m = await (await fetch(`${health.url}/metrics`)).text();
    assert.match(m, /^tbg_relay_independent_mode 1$/m);

    // While independent, a new block (it reaches the relay's node over P2P) gives clean local work.
    const before = c.notifies().length;
    const h0 = pair.relayNode.height();
    await pair.primaryNode.mine(1);
    await pair.relayNode.waitForHeight(h0 + 1);
    await c.until(() => c.notifies().slice(before).find((n) => n.cleanJobs), 10_000, "clean job from the local node");
    assert.equal(engine.currentWork()!.height, h0 + 2);
    assert.match(engine.currentWork()!.node, /^btcd\[0\]/);

    // Heal: back to the primary's templates.
    const t1 = Date.now();
    link.heal();
    await waitFor(() => engine.relay!.mode === "passthrough", "passthrough again", 15_000);
    const recoverMs = Date.now() - t1;
    assert.match(engine.currentWork()!.node, /^primary /);
    assert.deepEqual(
      pair.relayStates.map((s) => `${s.state}:${s.reason}`),
      ["connecting:starting", "passthrough:primary_connected", "independent:primary_unreachable", "passthrough:primary_restored"],
    );
    // The miner never lost its connection and can still submit.
    assert.equal(closed, false);
    const last = c.notifies().at(-1)!;
    const work = c.work(last, Buffer.alloc(c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(USER, work, c.findNonce(work, "block")));
    assert.equal(r.result, true, JSON.stringify(r.error));
    m = await (await fetch(`${health.url}/metrics`)).text();
    assert.match(m, /^tbg_relay_independent_mode 0$/m);
    assert.match(m, /^tbg_relay_independent_switches 1$/m);
    assert.match(m, /^tbg_relay_template_latency_ms_count [1-9]/m);
    console.log(`# failover ${failoverMs} ms (threshold 1000 ms); back to passthrough ${recoverMs} ms after the link healed`);
    c.close();
  } finally {
    await pair.close();
    await link?.close();
  }
});
