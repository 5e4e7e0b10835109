/**
 * The monitor's probes against real sockets: a Stratum port that refuses, hangs, or answers with an error;
 * /health bodies of a degraded pool and of a relay (relay fields read when present, tolerated when absent);
 * the NATS hub's /leafz with a real hub and leaf node. And the HTTP API's edges (404, 405, HEAD, metrics).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { probeHealth, probeNatsLeafnodes, probeStratum, readPoolSummary } from "../../src/tools/monitor/probes.ts";
import { parseMonitorConfig } from "../../src/tools/monitor/config.ts";
import { startMonitorService } from "../../src/tools/monitor/service.ts";
import type { HealthProbeResult, StratumProbeResult } from "../../src/tools/monitor/probes.ts";
import { freePort } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

async function tcpServer(onConn: (s: Socket) => void): Promise<{ server: TcpServer; port: number }> {
  const server = createTcpServer(onConn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}
async function httpServer(status: number, body: string): Promise<{ server: HttpServer; url: string }> {
  const server = createHttpServer((_req, res) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health` };
}

test("Stratum probe: refused, silent (bounded by the timeout), refused subscribe and a malformed result all fail with a reason", async () => {
  const refusedPort = await freePort();
  const refused = await probeStratum("127.0.0.1", refusedPort, 1000);
  assert.equal(refused.ok, false);
  assert.match(refused.error!, /ECONNREFUSED/);

  const silent = await tcpServer((s) => s.resume());
  const t0 = Date.now();
  const hung = await probeStratum("127.0.0.1", silent.port, 300);
  assert.equal(hung.ok, false);
  assert.match(hung.error!, /mining\.subscribe/);
  assert.ok(Date.now() - t0 < 3000, "bounded by the timeout");

  const answer = (reply: (id: number) => unknown) => tcpServer((s) => {
    s.on("data", (d) => {
      const req = JSON.parse(d.toString().split("\n")[0]) as { id: number };
      s.write(JSON.stringify(reply(req.id)) + "\n");
    });
  });
  const errSrv = await answer((id) => ({ id, result: null, error: [20, "go away", null] }));
  assert.match((await probeStratum("127.0.0.1", errSrv.port, 1000)).error!, /subscribe refused/);
  const junk = await answer((id) => ({ id, result: "nope", error: null }));
  assert.equal((await probeStratum("127.0.0.1", junk.port, 1000)).ok, false);
  const good = await answer((id) => ({ id, result: [[["mining.notify", "1"]], "00000001", 8], error: null }));
  const ok = await probeStratum("127.0.0.1", good.port, 1000);
  assert.equal(ok.ok, true, ok.error ?? "");
  assert.ok(ok.rttMs !== null && ok.rttMs >= 0);
  for (const s of [silent, errSrv, junk, good]) s.server.close();
});

test("/health probe: a 503 body is read (problems named); non-JSON and no answer fail; relay fields are read when present", async () => {
  const degraded = await httpServer(503, JSON.stringify({ status: "degraded", problems: ["no healthy node"], region: "us", miners: 3, relay: null }));
  const r = await probeHealth(degraded.url, 1000);
  assert.deepEqual([r.ok, r.httpStatus, r.error], [false, 503, "HTTP 503: no healthy node"]);
  assert.equal(r.pool?.miners, 3);
  assert.equal(r.pool?.relay, null);

  const html = await httpServer(200, "<html>");
  assert.match((await probeHealth(html.url, 1000)).error!, /not JSON/);
  const notOk = await httpServer(200, JSON.stringify({ status: "starting" }));
  assert.match((await probeHealth(notOk.url, 1000)).error!, /status is "starting"/);

  const relay = await httpServer(200, JSON.stringify({
    status: "ok", region: "asia", mode: "passthrough", hashrate_hs: { "5m": 1e12 }, template: { height: 10, age_seconds: 2.5 },
    relay: { state: "independent", primary_connected: false, template_latency_ms: 640, primary_rtt_ms: 210, stale_share_percent: 0.4, future_field: 1 },
  }));
  const rr = await probeHealth(relay.url, 1000);
  assert.equal(rr.ok, true);
  assert.deepEqual(rr.pool?.relay, { state: "independent", independent: true, primaryConnected: false, templateLatencyMs: 640, primaryRttMs: 210, staleSharePercent: 0.4 });
  assert.equal(rr.pool?.hashrate5mHs, 1e12);
  assert.equal(rr.pool?.templateAgeSeconds, 2.5);
  // Wrong types are ignored, not trusted.
  assert.deepEqual(readPoolSummary({ status: "ok", miners: "many", relay: { state: 3, template_latency_ms: "fast" } })?.relay, { state: null, independent: null, primaryConnected: null, templateLatencyMs: null, primaryRttMs: null, staleSharePercent: null });
  assert.equal(readPoolSummary("text"), null);

  const closed = await probeHealth(`http://127.0.0.1:${await freePort()}/health`, 1000);
  assert.equal(closed.ok, false);
  assert.match(closed.error!, /ECONNREFUSED|fetch failed/);
  for (const s of [degraded, html, notOk, relay]) s.server.close();
});

/** A nats-server from a config file (its monitoring/leaf ports chosen by the test), ready when it says so. */
async function natsServer(dir: string, name: string, conf: string): Promise<ChildProcess> {
  const file = join(dir, `${name}.conf`);
  await writeFile(file, conf);
  const child = spawn("nats-server", ["-c", file], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  child.stdout!.resume();
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`nats-server ${name} exited: ${log}`);
    return log.includes("Server is ready");
  }, `nats-server ${name} ready`, 20_000);
  return child;
}

test("NATS hub probe: /leafz counts the relay leaf nodes; a leaf going away is seen; the monitor exports it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-monitor-nats-"));
  const [clientPort, httpPort, leafPort, leafClientPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  try {
    procs.push(await natsServer(dir, "hub", `server_name: hub\nlisten: 127.0.0.1:${clientPort}\nhttp: 127.0.0.1:${httpPort}\nleafnodes { listen: 127.0.0.1:${leafPort}\n  authorization { user: relay, password: "relay-password-for-tests" } }\n`));
    const hubMon = `http://127.0.0.1:${httpPort}`;
    assert.deepEqual(await probeNatsLeafnodes(hubMon, 1000), { ok: true, leafnodes: 0, error: null });
    const leaf = await natsServer(dir, "leaf", `server_name: leaf-us\nlisten: 127.0.0.1:${leafClientPort}\nleafnodes { remotes [ { url: "nats://relay:relay-password-for-tests@127.0.0.1:${leafPort}" } ] }\n`);
    procs.push(leaf);
    await waitFor(async () => (await probeNatsLeafnodes(hubMon, 1000)).leafnodes === 1, "the leaf node connected", 20_000, 50);

    // The monitor reports it (no regions reachable here: they are down, which does not matter for NATS).
    const cfg = parseMonitorConfig(JSON.stringify({
      listen: { host: "127.0.0.1", port: 0 }, interval_sec: 0.6, timeout_ms: 500, default_region: "eu",
      regions: [{ name: "eu", role: "primary", stratum: `127.0.0.1:${await freePort()}`, health_url: `http://127.0.0.1:${await freePort()}/health` }],
      nats: { monitor_url: hubMon, expected_leafnodes: 1 },
    }));
    const svc = await startMonitorService(cfg, { log: pino({ level: "silent" }) });
    try {
      let m = await (await fetch(`${svc.url}/metrics`)).text();
      assert.match(m, /^tbg_monitor_nats_leafnodes 1$/m);
      assert.match(m, /^tbg_monitor_nats_leafnodes_expected 1$/m);
      leaf.kill("SIGKILL");
      await once(leaf, "exit");
      await waitFor(async () => /^tbg_monitor_nats_leafnodes 0$/m.test(await (await fetch(`${svc.url}/metrics`)).text()), "leafnodes 0 in the metrics", 20_000, 50);
      const o = (await (await fetch(`${svc.url}/regions`)).json()) as { nats: { leafnodes: number; expected_leafnodes: number } };
      assert.deepEqual([o.nats.leafnodes, o.nats.expected_leafnodes], [0, 1]);
      m = await (await fetch(`${svc.url}/metrics`)).text();
      assert.match(m, /^tbg_monitor_nats_up 1$/m);
    } finally {
      await svc.close();
    }
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) {
      p.kill("SIGKILL");
      await once(p, "exit");
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test("HTTP API: unknown region 404, POST 405, HEAD without a body, relay gauges only for regions reporting them; /health stalls when rounds stop", async () => {
  let nowMs = 1_700_000_000_000;
  let monoMs = 5_000;
  const relayBody = { status: "ok", relay: { state: "passthrough", template_latency_ms: 120 } };
  let usHealthGone = false;
  const probes = {
    stratum: async (): Promise<StratumProbeResult> => ({ ok: true, rttMs: 1, error: null }),
    health: async (url: string): Promise<HealthProbeResult> => {
      if (usHealthGone && url.includes("us")) return { ok: false, httpStatus: null, rttMs: null, error: "no answer within 4000 ms", pool: null };
      return { ok: true, httpStatus: 200, rttMs: 1, error: null, pool: readPoolSummary(url.includes("us") ? relayBody : { status: "ok", relay: null }) };
    },
  };
  const cfg = parseMonitorConfig(JSON.stringify({
    listen: { host: "127.0.0.1", port: 0 }, interval_sec: 3600, default_region: "eu",
    regions: [{ name: "eu", role: "primary", stratum: "eu:3333", health_url: "http://eu/health", failover: ["us"] }, { name: "us", role: "relay", stratum: "us:3333", health_url: "http://us/health", failover: ["eu"] }],
  }));
  const svc = await startMonitorService(cfg, { log: pino({ level: "silent" }), probes, now: () => nowMs, monotonic: () => monoMs });
  try {
    assert.equal((await fetch(`${svc.url}/regions/mars/health`)).status, 404);
    assert.equal((await fetch(`${svc.url}/route/mars`)).status, 404);
    assert.equal((await fetch(`${svc.url}/nope`)).status, 404);
    const post = await fetch(`${svc.url}/regions`, { method: "POST" });
    assert.deepEqual([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
    const head = await fetch(`${svc.url}/regions/us/health`, { method: "HEAD" });
    assert.deepEqual([head.status, await head.text()], [200, ""]);
    const routes = (await (await fetch(`${svc.url}/route`)).json()) as { default: { route_to: string }; regions: Record<string, { route_to: string; stratum: string }> };
    assert.deepEqual([routes.default.route_to, routes.regions.us.route_to, routes.regions.us.stratum], ["eu", "us", "us:3333"]);
    const m = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(m, /tbg_monitor_relay_template_latency_seconds\{region="us"\} 0\.12/);
    assert.doesNotMatch(m, /tbg_monitor_relay_template_latency_seconds\{region="eu"\}/);
    assert.match(m, /tbg_monitor_relay_independent\{region="us"\} 0/);
    assert.equal((await fetch(`${svc.url}/health`)).status, 200);

    // us's /health stops answering: the JSON keeps the last body (with its time), the gauges drop it (no stale values).
    usHealthGone = true;
    const firstAt = nowMs;
    nowMs += 1000;
    await svc.monitor.round();
    const us = ((await (await fetch(`${svc.url}/regions/us`)).json()) as { pool: { at: string; relay: { template_latency_ms: number } }; last_probe: { at: string } });
    assert.equal(us.pool.at, new Date(firstAt).toISOString());
    assert.equal(us.last_probe.at, new Date(nowMs).toISOString());
    assert.equal(us.pool.relay.template_latency_ms, 120);
    assert.doesNotMatch(await (await fetch(`${svc.url}/metrics`)).text(), /tbg_monitor_relay_template_latency_seconds\{region="us"\}/);
    monoMs += 1000;
    await svc.monitor.round();
    // No round for four intervals while the wall clock steps back a day: the stall check runs on the
    // monotonic clock, so /health says stalled (a wall-clock age would be negative and pass).
    monoMs += 4 * 3600_000;
    nowMs -= 86_400_000;
    const stalled = await fetch(`${svc.url}/health`);
    assert.equal(stalled.status, 503);
    const body = (await stalled.json()) as { status: string; last_round_age_ms: number };
    assert.equal(body.status, "stalled");
    assert.equal(body.last_round_age_ms, 4 * 3600_000);
  } finally {
    await svc.close();
  }
});

test("the probe loop is scheduled on the monotonic clock: a wall clock stepping back an hour does not stop the rounds", async () => {
  let nowMs = 1_700_000_000_000;
  const cfg = parseMonitorConfig(JSON.stringify({
    listen: { host: "127.0.0.1", port: 0 }, interval_sec: 0.05, timeout_ms: 20, default_region: "eu",
    regions: [{ name: "eu", role: "primary", stratum: "eu:3333", health_url: "http://eu/health" }],
  }));
  let rounds = 0;
  const probes = {
    stratum: async (): Promise<StratumProbeResult> => ({ ok: true, rttMs: 1, error: null }),
    health: async (): Promise<HealthProbeResult> => {
      if (++rounds === 3) throw new Error("probe blew up"); // a throwing round is logged, the loop goes on
      return { ok: true, httpStatus: 200, rttMs: 1, error: null, pool: null };
    },
  };
  const lines: string[] = [];
  const log = pino({ level: "error" }, { write: (l: string) => void lines.push(l) });
  const svc = await startMonitorService(cfg, { log, probes, now: () => nowMs });
  try {
    nowMs -= 3600_000; // NTP steps the clock back an hour after the first round
    await waitFor(() => svc.monitor.status().rounds >= 5, "five rounds despite the wall clock stepping back", 10_000);
    assert.equal((await fetch(`${svc.url}/health`)).status, 200);
    assert.ok(lines.some((l) => l.includes("monitor round failed") && l.includes("probe blew up")), "the failed round is logged");
  } finally {
    await svc.close();
  }
});

test("drain: a drained region answers 503 on its health endpoint and is routed around while still probed and still healthy (no alert)", async () => {
  const probes = {
    stratum: async (): Promise<StratumProbeResult> => ({ ok: true, rttMs: 1, error: null }),
    health: async (): Promise<HealthProbeResult> => ({ ok: true, httpStatus: 200, rttMs: 1, error: null, pool: null }),
  };
  const cfg = parseMonitorConfig(JSON.stringify({
    listen: { host: "127.0.0.1", port: 0 }, interval_sec: 3600, default_region: "eu",
    regions: [
      { name: "eu", role: "primary", stratum: "eu:3333", health_url: "http://eu/health", failover: ["us"] },
      { name: "us", role: "relay", stratum: "us:3333", health_url: "http://us/health", failover: ["eu"], drain: true },
    ],
  }));
  const svc = await startMonitorService(cfg, { log: pino({ level: "silent" }), probes });
  try {
    const h = await fetch(`${svc.url}/regions/us/health`);
    assert.equal(h.status, 503);
    assert.deepEqual(await h.json(), { region: "us", state: "healthy", drained: true, healthy: false, since: (await (await fetch(`${svc.url}/regions/us`)).json() as { since: string }).since, route_to: "eu" });
    assert.equal((await fetch(`${svc.url}/regions/eu/health`)).status, 200);
    const route = (await (await fetch(`${svc.url}/route/us`)).json()) as { route_to: string; stratum: string };
    assert.deepEqual([route.route_to, route.stratum], ["eu", "eu:3333"]);
    const m = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(m, /tbg_monitor_region_drained\{region="us"\} 1/);
    assert.match(m, /tbg_monitor_region_drained\{region="eu"\} 0/);
    assert.match(m, /tbg_monitor_region_state\{region="us",role="relay",state="healthy"\} 1/, "still probed as healthy: no alert for maintenance");
  } finally {
    await svc.close();
  }
});

test("health probe: an oversized body fails at once with its reason (not later as a timeout)", async () => {
  const big = Buffer.alloc(2 << 20, 0x20);
  const server = createHttpServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.write("{\"status\":\"ok\",\"pad\":\"");
    res.end(big);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const r = await probeHealth(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, 30_000);
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /body larger than 1048576 bytes/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
