import { test } from "node:test";
import assert from "node:assert/strict";
import { startRelayPair, RELAY_TOKEN } from "../support/relay.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";

const USER = `${REGTEST_ADDRESSES.p2wpkh}.refused`;

// Regression: the Refuse frame the primary sends before closing counted as "contact", so with a
// reconnect interval below the failover threshold a relay with a wrong token never went independent
// and (at startup) never opened Stratum.
test("a relay refused by the primary (wrong token) goes independent after failover_threshold and serves local work", { timeout: 60_000 }, async () => {
  const t0 = Date.now();
  const pair = await startRelayPair({
    failoverSec: 1,
    relayToken: `${RELAY_TOKEN}-rotated`,
    reconnectSec: 0.3,
  });
  try {
    const engine = pair.relay.app.engine;
    assert.equal(engine.relay!.mode, "independent");
    assert.ok(pair.relayStates.some((s) => s.state === "independent" && s.reason === "primary_unreachable_at_start"), JSON.stringify(pair.relayStates));
    assert.ok(Date.now() - t0 < 30_000);
    assert.match(engine.currentWork()!.node, /^btcd\[0\]/);
    const link = engine.relay!.status().link;
    assert.equal(link.lastContactMs, null, "refusals are not contact");
    assert.match(String(link.push.lastError), /RELAY_BAD_TOKEN/);
    const c = await RawClient.connect(pair.relay.port);
    await c.handshake(USER);
    assert.ok(c.notifies().length >= 1, "the miner gets work");
    c.close();
  } finally {
    await pair.close();
  }
});
