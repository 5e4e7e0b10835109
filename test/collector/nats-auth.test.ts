/**
 * Issue 12 §5: every NATS client (the engine's `events.nats` sink, `tbg publisher`, `tbg collector`'s
 * JetStream input) authenticates with the same options, against a nats-server that requires a token or
 * a user and password; the secret appears in no log line and not in /health, also when it is written
 * in the URL.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { DgramSocket } from "node-unix-socket";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startNats, startPostgres } from "../support/servers.ts";
import { makeShares, waitFor } from "../storage/fixtures.ts";
import { redactNatsUrl, redactNatsText, natsSecrets } from "../../src/pipeline/events/nats-options.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;
const TOKEN = "s3cr3t-token-0123456789abcdef";
const PASS = "p4ss-w0rd-fedcba9876543210";

function capture() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: "debug" }, { write: (l: string) => void lines.push(l) }) };
}

test("redaction: a token or user:password in a NATS URL, and any configured secret in error text", () => {
  assert.equal(redactNatsUrl(`nats://${TOKEN}@127.0.0.1:4222`), "nats://***@127.0.0.1:4222");
  assert.equal(redactNatsUrl(`tls://bob:${PASS}@hub:4222`), "tls://***@hub:4222");
  assert.equal(redactNatsUrl("nats://hub:4222"), "nats://hub:4222");
  const secrets = natsSecrets(`nats://bob:${PASS}@hub:4222`, { token: TOKEN });
  assert.equal(redactNatsText(`failed ${TOKEN} at nats://bob:${PASS}@hub`, secrets), "failed *** at nats://bob:***@hub");  // A percent-encoded password is used (and may be echoed) decoded: both forms are hidden.
  const enc = natsSecrets("nats://bob:p%40ss%2Fw0rd@hub:4222");
  assert.equal(redactNatsText("auth failed for p@ss/w0rd", enc), "auth failed for ***");
});

test("token: the engine's events.nats sink, tbg publisher (token in the URL) and the collector's JetStream input all authenticate; the token is in no log line and not in /health; without it the collector is refused", async (t) => {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const [nats, pg] = await Promise.all([startNats({ auth: { token: TOKEN } }), startPostgres()]);
  const dir = await mkdtemp(join(tmpdir(), "tbg-natsauth-"));
  cleanups.push(() => Promise.all([nats.close(), pg.close(), rm(dir, { recursive: true, force: true })]));

  // Without credentials: refused, said so (redacted), never consuming.
  const anon = capture();
  const refused = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, region: "eu", log: anon.logger, defaultMetrics: false });
  await refused.start();
  assert.equal(await refused.natsConsuming(1500), false);
  await refused.close();
  assert.match(anon.lines.join(""), /Authorization Violation|authorization/i);

  // The collector with the token, /health on.
  const logs = capture();
  const collector = new Collector({
    natsUrl: nats.url, nats: { auth: { token: TOKEN } }, databaseUrl: pg.url, region: "eu", log: logs.logger,
    http: { host: "127.0.0.1", port: 0 }, batch: { flushIntervalMs: 100 }, defaultMetrics: false,
  });
  await collector.start();
  cleanups.push(() => collector.close());
  assert.equal(await collector.natsConsuming(15_000), true, "the collector consumes with the token");

  // tbg publisher with the token written in the URL.
  const socket = join(dir, "pub.sock");
  const child = spawn(process.execPath, [TBG, "publisher", "--socket", socket, "--nats-url", `nats://${TOKEN}@127.0.0.1:${nats.port}`, "--region", "asia", "--spool-dir", join(dir, "spool"), "--stats-interval", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(() => { if (child.exitCode === null) child.kill("SIGKILL"); });
  await waitFor(() => out.includes("waiting for events"), "publisher started", 30_000);
  const sock = new DgramSocket();
  cleanups.push(() => sock.close());
  const shares = makeShares(20, { startUs: Date.now() * 1000 });
  for (const e of shares) {
    const buf = Buffer.from(JSON.stringify(e));
    sock.sendTo(buf, 0, buf.length, socket);
  }

  // The engine with events.nats.token.
  const node = await startTestNode();
  cleanups.push(() => node.close());
  const poolLines: string[] = [];
  const pool = await startTestPool({
    node,
    overrides: { region: "us-east", events: { enabled: true, socket_path: join(dir, "none.sock"), nats: { url: nats.url, token: TOKEN } }, health: { enabled: true, host: "127.0.0.1", port: 0 } },
    app: { logger: { logger: pino({ level: "debug" }, { write: (l: string) => void poolLines.push(l) }), reopen: () => {}, flush: () => {} } },
  });
  cleanups.push(() => pool.close());
  const miner = await startMiner({ url: pool.url, user: `${REGTEST_ADDRESSES.p2wpkh}.rig1`, maxBlocks: 1, threads: 0, durationSec: 60 });
  await miner.done;

  const db = collector.eventStore.database;
  await waitFor(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM shares WHERE event_id = ANY($1::uuid[])", [shares.map((e) => e.event_id)])).rows[0].n === 20, "the publisher's 20 shares via JetStream", 30_000);
  await waitFor(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM blocks WHERE region = 'us-east'")).rows[0].n === 1, "the engine's block via JetStream", 30_000);

  const health = await (await fetch(`${collector.httpUrl}/health`)).text();
  const poolHealth = await (await fetch(`${pool.app.obs.health!.url}/health`)).text();
  assert.match(poolHealth, /nats:nats:\/\/127\.0\.0\.1/, "the pool's /health names the NATS sink");
  child.kill("SIGTERM");
  assert.equal(await exited, 0, out);
  for (const [what, text] of [["collector logs", logs.lines.join("")], ["refused collector logs", anon.lines.join("")], ["collector /health", health], ["pool logs", poolLines.join("")], ["pool /health", poolHealth], ["publisher output", out]] as const) {
    assert.ok(!text.includes(TOKEN), `${what} must not contain the token`);
  }
  assert.match(out, /NATS nats:\/\/\*\*\*@127\.0\.0\.1/);
});

test("user/pass: the collector (user:pass in the URL) and tbg publisher (--nats-user, password from TBG_NATS_PASS) authenticate; the password is in no log line and not in /health", async (t) => {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const [nats, pg] = await Promise.all([startNats({ auth: { user: "tbg", pass: PASS } }), startPostgres()]);
  const dir = await mkdtemp(join(tmpdir(), "tbg-natsauth-"));
  cleanups.push(() => Promise.all([nats.close(), pg.close(), rm(dir, { recursive: true, force: true })]));
  const logs = capture();
  const url = `nats://tbg:${PASS}@127.0.0.1:${nats.port}`;
  const collector = new Collector({ natsUrl: url, databaseUrl: pg.url, region: "eu", log: logs.logger, http: { host: "127.0.0.1", port: 0 }, batch: { flushIntervalMs: 100 }, defaultMetrics: false });
  await collector.start();
  cleanups.push(() => collector.close());
  assert.equal(await collector.natsConsuming(15_000), true);

  const socket = join(dir, "pub.sock");
  const child = spawn(process.execPath, [TBG, "publisher", "--socket", socket, "--nats-url", nats.url, "--nats-user", "tbg", "--region", "asia", "--spool-dir", join(dir, "spool"), "--stats-interval", "1"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TBG_NATS_PASS: PASS } });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(() => { if (child.exitCode === null) child.kill("SIGKILL"); });
  await waitFor(() => out.includes("waiting for events"), "publisher started", 30_000);
  const sock = new DgramSocket();
  cleanups.push(() => sock.close());
  for (const e of makeShares(10, { startUs: Date.now() * 1000 })) {
    const buf = Buffer.from(JSON.stringify(e));
    sock.sendTo(buf, 0, buf.length, socket);
  }
  const db = collector.eventStore.database;
  await waitFor(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM shares")).rows[0].n === 10, "10 shares via JetStream", 30_000);
  const health = await (await fetch(`${collector.httpUrl}/health`)).text();
  child.kill("SIGTERM");
  assert.equal(await exited, 0, out);
  for (const [what, text] of [["collector logs", logs.lines.join("")], ["collector /health", health], ["publisher output", out]] as const) {
    assert.ok(!text.includes(PASS), `${what} must not contain the password`);
  }
  assert.match(logs.lines.join(""), /nats:\/\/\*\*\*@127\.0\.0\.1/);
});
