import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startTestPool } from "../support/pool.ts";
import { RELAY_TOKEN } from "../support/relay.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";

/** A port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test("a relay whose primary cannot be reached starts independent after failover_threshold, on its local node's templates", async () => {
  const port = await closedPort();
  const states: string[] = [];
  const t0 = Date.now();
  const pool = await startTestPool({
    app: { relayLink: { pingIntervalMs: 100 }, onEngine: (e) => e.bus.on("relayState", (s) => states.push(`${s.state}:${s.reason}`)) },
    overrides: { mode: "passthrough", region: "ap-south", instance_id: 7, failover_threshold: 0.5, primary: { host: "127.0.0.1", port, template_push_port: port, auth_token: RELAY_TOKEN, reconnect_interval: 0.1 } },
  });
  try {
    const waitedMs = Date.now() - t0;
    assert.deepEqual(states, ["connecting:starting", "independent:primary_unreachable_at_start"]);
    assert.ok(waitedMs >= 500, `waited ${waitedMs} ms`);
    const engine = pool.app.engine;
    assert.equal(engine.relay?.mode, "independent");
    assert.match(engine.currentWork()!.node, /^btcd\[0\]/);
    const c = await RawClient.connect(pool.port);
    await c.handshake(`${REGTEST_ADDRESSES.p2wpkh}.x`);
    assert.equal(c.extranonce1.slice(0, 2), "07");
    c.close();
  } finally {
    await pool.close();
  }
});
