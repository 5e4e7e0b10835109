import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect as netConnect } from "node:net";
import pg from "pg";
import { createClient } from "redis";
import { connect as natsConnect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startPostgres, startRedis, startNats } from "./servers.ts";

async function portOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

test("postgres: private cluster keeps its data across a graceful and a crash restart on the same port", async (t) => {
  const srv = await startPostgres();
  t.after(() => srv.close());
  assert.notEqual(srv.port, 5432);
  const q = async (sql: string) => {
    const c = new pg.Client({ connectionString: srv.url });
    await c.connect();
    try { return (await c.query(sql)).rows; } finally { await c.end(); }
  };
  await q("CREATE TABLE t (n int)");
  await q("INSERT INTO t VALUES (1)");
  await srv.restart();
  assert.deepEqual(await q("SELECT n FROM t"), [{ n: 1 }]);
  // A crash stop with an open session: backends die with the postmaster, the restart recovers.
  const held = new pg.Client({ connectionString: srv.url });
  held.on("error", () => {});
  await held.connect();
  await q("INSERT INTO t VALUES (2)");
  await srv.stop({ kill: true });
  assert.equal(srv.running, false);
  assert.equal(await portOpen(srv.port), false);
  await srv.restart();
  assert.deepEqual(await q("SELECT n FROM t ORDER BY n"), [{ n: 1 }, { n: 2 }]);
  await held.end().catch(() => {});
  const dir = srv.dir;
  await srv.close();
  assert.equal(existsSync(dir), false);
});

test("redis: stop makes the port refuse, restart serves again on the same URL", async (t) => {
  const srv = await startRedis();
  t.after(() => srv.close());
  assert.notEqual(srv.port, 6379);
  const c = createClient({ url: srv.url });
  await c.connect();
  assert.equal(await c.ping(), "PONG");
  c.destroy();
  await srv.stop();
  assert.equal(await portOpen(srv.port), false);
  await srv.restart();
  const c2 = createClient({ url: srv.url });
  await c2.connect();
  assert.equal(await c2.ping(), "PONG");
  c2.destroy();
});

test("nats: JetStream streams survive a restart (store dir kept)", async (t) => {
  const srv = await startNats();
  t.after(() => srv.close());
  assert.notEqual(srv.port, 4222);
  let nc = await natsConnect({ servers: srv.url });
  let jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "T", subjects: ["t.>"] });
  await nc.close();
  await srv.restart();
  nc = await natsConnect({ servers: srv.url });
  jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info("T");
  assert.deepEqual(info.config.subjects, ["t.>"]);
  await nc.close();
});

test("a test process killed with SIGKILL leaves no server behind (watchdog)", async () => {
  const { spawn } = await import("node:child_process");
  const servers = new URL("./servers.ts", import.meta.url).href;
  const code = `const { startNats } = await import(${JSON.stringify(servers)}); const s = await startNats();` +
    `console.log(JSON.stringify({ port: s.port, dir: s.dir })); process.kill(process.pid, "SIGKILL");`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  await new Promise((resolve) => child.once("exit", resolve));
  const { port, dir } = JSON.parse(out) as { port: number; dir: string };
  const deadline = Date.now() + 10_000;
  while ((await portOpen(port)) || existsSync(dir)) {
    assert.ok(Date.now() < deadline, "server still running 10 s after its test process died");
    await new Promise((r) => setTimeout(r, 100));
  }
});
