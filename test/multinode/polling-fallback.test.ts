/**
 * New blocks without ZMQ (polling every `blockpoll`), and with the test harness's ZMQ (`startTestPool({ zmq: true })`,
 * what `tbg dev` configures): the subscription is real and beats a slow poll by far.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { prevhashToStratum } from "../../src/core/bitcoin/header.ts";
import type { EngineEventMap } from "../../src/core/engine/engine.ts";
import { FAST_ZMQ } from "./two-nodes.ts";

const user = `${REGTEST_ADDRESSES.p2wpkh}.poll`;

/** Mines a block on the pool's node (not through the pool) and measures until a miner has clean work on it. */
async function mineAndMeasure(pool: TestPool): Promise<{ ms: number; source: string | undefined }> {
  const tips: EngineEventMap["newBlockNetwork"][0][] = [];
  pool.app.engine.bus.on("newBlockNetwork", (e) => tips.push(e));
  const c = await RawClient.connect(pool.port);
  try {
    await c.handshake(user);
    const t0 = Date.now();
    const [hash] = await pool.node.mine(1);
    const ph = prevhashToStratum(hash);
    await c.until(() => c.notifies().some((n) => n.cleanJobs && n.prevhashStratum === ph), 10_000, "clean notify for the new block");
    return { ms: Date.now() - t0, source: tips.find((e) => e.hash === hash)?.source };
  } finally {
    c.close();
  }
}

describe("new blocks without and with ZMQ", () => {
  it("no ZMQ configured: a new block is picked up by polling within blockpoll", async () => {
    const pool = await startTestPool({ overrides: { blockpoll: 300 } });
    try {
      assert.equal(pool.app.zmq, null, "no subscriber without endpoints");
      const { ms, source } = await mineAndMeasure(pool);
      assert.equal(source, "poll");
      assert.ok(ms < 300 + 500, `clean work after ${ms} ms (blockpoll 300 ms + fetch)`);
    } finally {
      await pool.close();
    }
  });

  it("startTestPool({ zmq: true }) subscribes for real: the block arrives by ZMQ long before a 60 s poll", async () => {
    const pool = await startTestPool({ zmq: true, app: { zmq: FAST_ZMQ }, overrides: { blockpoll: 60_000 } });
    try {
      await pool.node.waitForZmqSubscription(1);
      assert.deepEqual(pool.app.zmq?.endpoints, [pool.node.zmqUrl]);
      const { ms, source } = await mineAndMeasure(pool);
      assert.equal(source, `zmq:${pool.node.zmqUrl}`);
      assert.ok(ms < 1_000, `clean work after ${ms} ms`);
      assert.equal(pool.app.zmq?.status()[0].first, 1);
    } finally {
      await pool.close();
    }
  });
});
