import { test } from "node:test";
import assert from "node:assert/strict";
import { StratumClient } from "../../src/tools/stratum-client/stratum-client.ts";
import { runHandshake, PROFILES } from "../../src/tools/stratum-client/profiles.ts";
import { FakePool, FAKE_EN1 } from "./fake-pool.ts";

test("bitaxe handshake: configure ffffffff, subscribe, authorize, suggest [1000], all sent before any answer", async () => {
  let released: () => void = () => undefined;
  const gate = new Promise<void>((r) => (released = r));
  // Hold every answer until all four requests have arrived: proves pipelining.
  const pool = await FakePool.start((req, conn) => {
    if (conn.requests.length === 4) released();
    const answer = () => {
      if (req.method === "mining.configure") conn.reply(req.id, { "version-rolling": true, "version-rolling.mask": "1fffe000" });
      if (req.method === "mining.subscribe") conn.reply(req.id, [[["mining.notify", "1"]], FAKE_EN1, 8]);
      if (req.method === "mining.authorize") conn.reply(req.id, true);
    };
    void gate.then(answer);
    return true;
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  const r = await runHandshake(c, PROFILES.bitaxe, { user: "bc1qaddr.bitaxe" });
  assert.deepEqual(
    pool.requests.map((q) => [q.method, q.params]),
    [
      ["mining.configure", [["version-rolling"], { "version-rolling.mask": "ffffffff" }]],
      ["mining.subscribe", ["bitaxe/BM1370/v2.7.0"]],
      ["mining.authorize", ["bc1qaddr.bitaxe", "x"]],
      ["mining.suggest_difficulty", [1000]],
    ],
  );
  assert.equal(r.versionMask, 0x1fffe000);
  assert.equal(r.extranonce1Hex, FAKE_EN1);
  assert.equal(r.extranonce2Size, 8);
  assert.ok(r.handshakeMs >= 0);
  await c.close();
  await pool.close();
});

test("cpuminer waits for the subscribe answer before authorizing", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.subscribe") {
      setTimeout(() => {
        assert.equal(conn.requests.length, 1, "authorize must not be sent before the subscribe answer");
        conn.reply(req.id, [[["mining.notify", "1"]], FAKE_EN1, 4]);
      }, 30);
      return true;
    }
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  const r = await runHandshake(c, PROFILES.cpuminer, { user: "addr" });
  assert.deepEqual(pool.requests.map((q) => q.method), ["mining.subscribe", "mining.authorize"]);
  assert.equal(r.versionMask, 0);
  await c.close();
  await pool.close();
});

test("cgminer sends extranonce.subscribe; antminer configures 1fffe000 with min-bit-count 2", async () => {
  const pool = await FakePool.start();
  const c1 = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c1.connect();
  await runHandshake(c1, PROFILES.cgminer, { user: "a" });
  const c2 = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c2.connect();
  await runHandshake(c2, PROFILES.antminer, { user: "a" });
  await pool.waitFor(() => pool.conns.length === 2 && pool.conns[1].requests.length === 4);
  assert.deepEqual(pool.conns[0].requests.map((q) => q.method), ["mining.subscribe", "mining.extranonce.subscribe", "mining.authorize"]);
  assert.deepEqual(pool.conns[1].requests[0].params, [["version-rolling"], { "version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2 }]);
  await c1.close();
  await c2.close();
  await pool.close();
});

test("nerdminer suggests [0.0001] and repeats it on its interval", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const pool = await FakePool.start();
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  await runHandshake(c, PROFILES.nerdminer, { user: "a" });
  await pool.waitFor(() => pool.requests.length === 3);
  assert.deepEqual(pool.requests[2].params, [0.0001]);
  t.mock.timers.tick(30_000);
  t.mock.timers.tick(30_000);
  await pool.waitFor(() => pool.requests.length === 5);
  assert.deepEqual(pool.requests.map((q) => q.method).slice(2), Array(3).fill("mining.suggest_difficulty"));
  await c.close();
  await pool.close();
});

test("authorize false throws CLIENT_AUTHORIZE_FAILED; a refused subscribe throws CLIENT_SUBSCRIBE_FAILED", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.authorize") return conn.reply(req.id, null, [20, "Authorization validation error", null]), true;
    if (req.method === "mining.subscribe" && conn === pool.conns[1]) return conn.reply(req.id, "Initialising"), true;
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  await assert.rejects(runHandshake(c, PROFILES.bitaxe, { user: "bad" }), { code: "CLIENT_AUTHORIZE_FAILED" });
  const c2 = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c2.connect();
  await assert.rejects(runHandshake(c2, PROFILES.cpuminer, { user: "bad" }), { code: "CLIENT_SUBSCRIBE_FAILED" });
  await c.close();
  await c2.close();
  await pool.close();
});

test("a pool that answers configure with an error gives mask 0", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.configure") return conn.reply(req.id, null, [20, "Not supported.", null]), true;
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  const r = await runHandshake(c, PROFILES.bitaxe, { user: "a", suggestDifficulty: 2 });
  assert.equal(r.versionMask, 0);
  assert.deepEqual(pool.requests[3].params, [2]);
  await c.close();
  await pool.close();
});
