/** Listener-level behaviour from config: ckpool's high-difficulty ports and `dropidle`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startBenchPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { MAINNET_ADDRESSES } from "../support/addresses.ts";

const USER = `${MAINNET_ADDRESSES.p2wpkh}.w`;

async function freePortAbove4000(): Promise<number> {
  for (;;) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    if (port > 4000) return port;
  }
}

test("connections on a port above 4000 start at highdiff; others at startdiff", async () => {
  const high = await freePortAbove4000();
  const pool = await startBenchPool({ overrides: { serverurl: ["127.0.0.1:0", `127.0.0.1:${high}`], highdiff: 0.5 } });
  try {
    const low = await RawClient.connect(pool.app.stratumPorts[0]);
    await low.handshake(USER);
    assert.equal(low.difficulty, pool.config.startdiff);
    const hi = await RawClient.connect(high);
    await hi.handshake(USER);
    assert.equal(hi.difficulty, 0.5);
    low.close();
    hi.close();
  } finally {
    await pool.close();
  }
});

test("dropidle: an authorized miner that submits nothing for that long is dropped", async () => {
  const pool = await startBenchPool({ overrides: { dropidle: 1 } });
  try {
    const c = await RawClient.connect(pool.port);
    await c.handshake(USER);
    await c.until(() => c.closed, 6000, "the idle connection to be dropped");
    assert.equal(c.closed, true);
  } finally {
    await pool.close();
  }
});
