import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { StratumClient, parseStratumUrl, type JobContext } from "../../src/tools/stratum-client/stratum-client.ts";
import { runHandshake, PROFILES } from "../../src/tools/stratum-client/profiles.ts";
import { FakePool, FAKE_EN1 } from "./fake-pool.ts";

const NOTIFY_PARAMS = [
  "job1",
  "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000",
  "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008",
  "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000",
  [],
  "00000002",
  "1c2ac4af",
  "504e86b9",
  false,
];

/** A raw TCP server that writes `script` to the first client in the chunks given. */
async function rawServer(onConn: (s: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test("parseStratumUrl accepts stratum+tcp, tcp, bare host:port and IPv6", () => {
  assert.deepEqual(parseStratumUrl("stratum+tcp://pool.example:3333"), { host: "pool.example", port: 3333 });
  assert.deepEqual(parseStratumUrl("tcp://127.0.0.1:1"), { host: "127.0.0.1", port: 1 });
  assert.deepEqual(parseStratumUrl("localhost:3334"), { host: "localhost", port: 3334 });
  assert.deepEqual(parseStratumUrl("stratum+tcp://[::1]:3333"), { host: "::1", port: 3333 });
  assert.throws(() => parseStratumUrl("stratum+tcp://nohost"), { code: "CLIENT_BAD_URL" });
});

test("answers and notifications split byte by byte are all delivered in order", async () => {
  const lines = [
    JSON.stringify({ id: null, method: "mining.set_difficulty", params: [0.25] }),
    JSON.stringify({ id: null, method: "mining.notify", params: NOTIFY_PARAMS }),
  ];
  const srv = await rawServer((s) => {
    s.on("data", (d) => {
      const req = JSON.parse(d.toString().trim()) as { id: number };
      const reply = JSON.stringify({ id: req.id, result: [[["mining.notify", "ab"]], "0badf00d", 8], error: null }) + "\n";
      const all = Buffer.from(reply + lines.join("\n") + "\n");
      // one byte per write, each flushed separately
      let i = 0;
      const tick = () => {
        if (i >= all.length || s.destroyed) return;
        s.write(all.subarray(i, i + 1));
        i++;
        setImmediate(tick);
      };
      tick();
    });
  });
  const c = new StratumClient({ host: "127.0.0.1", port: srv.port });
  await c.connect();
  const jobP = once(c, "notify") as Promise<[JobContext]>;
  const a = await c.request("mining.subscribe", ["test"]);
  assert.deepEqual(a.result, [[["mining.notify", "ab"]], "0badf00d", 8]);
  assert.equal(a.error, null);
  assert.ok(a.rttMs >= 0);
  const [ctx] = await jobP;
  assert.equal(ctx.job.jobId, "job1");
  assert.equal(ctx.difficulty, 0.25);
  assert.equal(c.difficulty, 0.25);
  await c.close();
  await srv.close();
});

test("a request with no answer rejects with CLIENT_REQUEST_TIMEOUT; late answers are ignored", async () => {
  const pool = await FakePool.start((req) => req.method === "mining.subscribe");
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  await assert.rejects(c.request("mining.subscribe", ["x"], { timeoutMs: 50 }), { code: "CLIENT_REQUEST_TIMEOUT" });
  assert.equal(c.pendingCount, 0);
  pool.conns[0].reply(1, true); // late
  const a = await c.request("mining.authorize", ["u", "x"]);
  assert.equal(a.result, true);
  await c.close();
  await pool.close();
});

test("outstanding requests reject with CLIENT_CONNECTION_CLOSED when the server hangs up", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method === "mining.subscribe") conn.socket.destroy();
    return true;
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  await c.connect();
  const closed = once(c, "close");
  await assert.rejects(c.request("mining.subscribe", ["x"]), { code: "CLIENT_CONNECTION_CLOSED" });
  await closed;
  assert.equal(c.isOpen, false);
  await assert.rejects(c.request("mining.authorize", []), { code: "CLIENT_CONNECTION_CLOSED" });
  await pool.close();
});

test("connect to a closed port rejects with CLIENT_CONNECT_FAILED", async () => {
  const srv = await rawServer(() => undefined);
  const port = srv.port;
  await srv.close();
  const c = new StratumClient({ host: "127.0.0.1", port });
  await assert.rejects(c.connect(), { code: "CLIENT_CONNECT_FAILED" });
});

test("an oversized server line closes the connection with CLIENT_LINE_TOO_LONG", async () => {
  const srv = await rawServer((s) => s.write("x".repeat(5000)));
  const c = new StratumClient({ host: "127.0.0.1", port: srv.port, maxLineBytes: 1024 });
  const errP = once(c, "protocolError");
  const closeP = once(c, "close");
  await c.connect();
  const [err] = (await errP) as [{ code: string }];
  assert.equal(err.code, "CLIENT_LINE_TOO_LONG");
  await closeP;
  await srv.close();
});

test("bad JSON and bad notify params are reported, the connection stays usable", async () => {
  const pool = await FakePool.start((req, conn) => {
    if (req.method !== "mining.subscribe") return false;
    conn.socket.write("not json\n");
    conn.send({ id: null, method: "mining.notify", params: ["only", "three", 1] });
    conn.send({ id: null, method: "mining.set_difficulty", params: [-1] });
    return false;
  });
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port });
  const errors: string[] = [];
  c.on("protocolError", (e) => errors.push(e.code));
  await c.connect();
  await c.request("mining.subscribe", ["x"]);
  const a = await c.request("mining.authorize", ["u", "x"]);
  assert.equal(a.result, true);
  assert.deepEqual(errors, ["CLIENT_PROTOCOL", "CLIENT_PROTOCOL", "CLIENT_PROTOCOL"]);
  await c.close();
  await pool.close();
});

test("set_difficulty as a bare number, set_version_mask, set_extranonce (applies from the next notify), client.reconnect", async () => {
  const pool = await FakePool.start();
  const c = new StratumClient({ host: "127.0.0.1", port: pool.port, userAgent: "ua/1" });
  await c.connect();
  await runHandshake(c, PROFILES.cpuminer, { user: "addr.w" });
  const conn = pool.conns[0];
  const reconnectP = once(c, "reconnect");
  conn.send({ id: null, method: "mining.set_difficulty", params: 0.001 });
  conn.send({ id: null, method: "mining.set_version_mask", params: ["00ffe000"] });
  conn.send({ id: null, method: "mining.set_extranonce", params: ["aabbccdd", 6] });
  conn.send({ id: 77, method: "client.get_version", params: [] });
  conn.send({ id: null, method: "client.reconnect", params: ["other.host", "3334", 2] });
  const [rec] = await reconnectP;
  assert.deepEqual(rec, { host: "other.host", port: 3334, waitSec: 2 });
  assert.equal(c.difficulty, 0.001);
  assert.equal(c.versionMask, 0x00ffe000);
  assert.equal(c.extranonce1Hex, FAKE_EN1); // not yet: applies from the next notify
  const notifyP = once(c, "notify") as Promise<[JobContext]>;
  conn.send({ id: null, method: "mining.notify", params: NOTIFY_PARAMS });
  const [ctx] = await notifyP;
  assert.equal(ctx.extranonce1Hex, "aabbccdd");
  assert.equal(ctx.extranonce2Size, 6);
  assert.equal(ctx.difficulty, 0.001);
  await c.close();
  await pool.close();
});

test("client answers client.get_version with its user agent", async () => {
  const answers: unknown[] = [];
  const srv = await rawServer((s) => {
    s.write(JSON.stringify({ id: 9, method: "client.get_version", params: [] }) + "\n");
    s.on("data", (d) => answers.push(JSON.parse(d.toString())));
  });
  const c = new StratumClient({ host: "127.0.0.1", port: srv.port, userAgent: "ua/1" });
  await c.connect();
  const deadline = Date.now() + 3000;
  while (answers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(answers[0], { id: 9, result: "ua/1", error: null });
  await c.close();
  await srv.close();
});
