/**
 * MR-08 (GeoDNS failover): `tbg monitor -c CONFIG` against three real `tbg pool` processes (regions eu,
 * us, asia) on the embedded regtest node. Asia's /health is frozen behind a proxy, then us is stopped,
 * then eu: each region's state changes only after the configured threshold, its health endpoint answers
 * 503, the routing answer moves along the failover order (EU→US, US→EU, Asia→US, default EU), and
 * everything returns to healthy and to its own region when the regions come back.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestNode } from "../support/pool.ts";
import { freePort } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";
import { BlackholeProxy as FreezeProxy } from "../support/blackhole-proxy.ts";
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;
const FAILURE_THRESHOLD = 3;
const RECOVERY_THRESHOLD = 2;
const INTERVAL_SEC = 1.5;
/** Generous for a loaded machine (a healthy probe must never time out, a frozen one always does), and shorter than the interval as the config requires. */
const TIMEOUT_MS = 1400;
/** Bound on any one state change: threshold rounds of at most timeout + interval each, plus slack. */
const CHANGE_BOUND_MS = 30_000;

let node: EmbeddedNode;
let dir: string;

interface PoolProc {
  region: string;
  stratumPort: number;
  healthPort: number;
  configFile: string;
  child: ChildProcess | null;
  stderr: string;
}

const pools = new Map<string, PoolProc>();
let monitor: ChildProcess | null = null;
let monitorOut = "";
let monitorUrl = "";
let proxy: FreezeProxy;

async function startPool(p: PoolProc): Promise<void> {
  p.stderr = "";
  const child = spawn(process.execPath, [TBG, "pool", "-c", p.configFile], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (p.stderr += d.toString()));
  p.child = child;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`tbg pool (${p.region}) exited early (${child.exitCode}): ${p.stderr}`);
    const r = await fetch(`http://127.0.0.1:${p.healthPort}/health`).catch(() => null);
    return r?.status === 200;
  }, `pool ${p.region} healthy`, 60_000, 100);
}

async function stopPool(p: PoolProc): Promise<void> {
  const child = p.child!;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const [code] = await exited;
  assert.equal(code, 0, `pool ${p.region} exit: ${p.stderr}`);
  p.child = null;
}

before(async () => {
  node = await startTestNode();
  dir = await mkdtemp(join(tmpdir(), "tbg-mr08-"));
  const u = new URL(node.rpcUrl);
  for (const [i, region] of ["eu", "us", "asia"].entries()) {
    const p: PoolProc = { region, stratumPort: await freePort(), healthPort: await freePort(), configFile: join(dir, `${region}.json`), child: null, stderr: "" };
    await writeFile(p.configFile, JSON.stringify({
      network: "regtest",
      region,
      instance: `mr08-${region}`,
      instance_id: i,
      btcd: [{ url: `${u.hostname}:${u.port}`, auth: node.rpcUser, pass: node.rpcPass }],
      serverurl: [`127.0.0.1:${p.stratumPort}`],
      data_dir: join(dir, region),
      events: { enabled: false },
      health: { host: "127.0.0.1", port: p.healthPort },
      log: { level: "warn" },
    }, null, 2));
    pools.set(region, p);
  }
  await Promise.all([...pools.values()].map((p) => startPool(p)));

  proxy = new FreezeProxy("127.0.0.1", pools.get("asia")!.healthPort);
  await proxy.start();
  const listenPort = await freePort();
  const region = (name: string, role: string, failover: string[]) => {
    const p = pools.get(name)!;
    const healthPort = name === "asia" ? proxy.port : p.healthPort;
    return { name, role, stratum: `127.0.0.1:${p.stratumPort}`, public_stratum: `${name}.mine.example.com:3333`, health_url: `http://127.0.0.1:${healthPort}/health`, failover };
  };
  const monitorConfig = join(dir, "monitor.json");
  await writeFile(monitorConfig, JSON.stringify({
    listen: { host: "127.0.0.1", port: listenPort },
    interval_sec: INTERVAL_SEC,
    timeout_ms: TIMEOUT_MS,
    failure_threshold: FAILURE_THRESHOLD,
    recovery_threshold: RECOVERY_THRESHOLD,
    default_region: "eu",
    regions: [region("eu", "primary", ["us"]), region("us", "relay", ["eu"]), region("asia", "relay", ["us"])],
  }, null, 2));
  monitor = spawn(process.execPath, [TBG, "monitor", "-c", monitorConfig], { stdio: ["ignore", "pipe", "pipe"] });
  monitor.stdout!.on("data", (d: Buffer) => (monitorOut += d.toString()));
  monitor.stderr!.on("data", (d: Buffer) => (monitorOut += d.toString()));
  monitorUrl = `http://127.0.0.1:${listenPort}`;
  await waitFor(async () => {
    if (monitor!.exitCode !== null) throw new Error(`tbg monitor exited early: ${monitorOut}`);
    return (await fetch(`${monitorUrl}/health`).catch(() => null))?.status === 200;
  }, "tbg monitor to answer /health", 60_000, 100);
});

after(async () => {
  if (monitor && monitor.exitCode === null) {
    const exited = once(monitor, "exit");
    monitor.kill("SIGTERM");
    await exited;
  }
  for (const p of pools.values()) if (p.child && p.child.exitCode === null) await stopPool(p).catch(() => p.child?.kill("SIGKILL"));
  await proxy?.close();
  await node?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface RegionJson {
  name: string;
  state: string;
  healthy: boolean;
  pending_observations: number;
  route: { route_to: string; stratum: string };
  last_probe: { observation: string; stratum: { ok: boolean }; health: { ok: boolean; error: string | null } } | null;
  pool: { region: string | null; mode: string | null } | null;
  transitions: Array<{ from: string; to: string; observations: number; reason: string }>;
}
interface Overview {
  routing: Record<string, string>;
  regions: RegionJson[];
}

async function overview(): Promise<Overview> {
  const r = await fetch(`${monitorUrl}/regions`);
  assert.equal(r.status, 200);
  return (await r.json()) as Overview;
}
async function region(name: string): Promise<RegionJson> {
  return (await overview()).regions.find((r) => r.name === name)!;
}
async function healthCode(name: string): Promise<number> {
  return (await fetch(`${monitorUrl}/regions/${name}/health`)).status;
}
async function routeTo(name: string): Promise<{ route_to: string; stratum: string; available: boolean }> {
  const r = await fetch(`${monitorUrl}/route/${name}`);
  assert.equal(r.status, 200);
  return (await r.json()) as { route_to: string; stratum: string; available: boolean };
}
async function waitState(name: string, state: string): Promise<RegionJson> {
  return waitFor(async () => {
    const r = await region(name);
    return r.state === state ? r : null;
  }, `${name} to be ${state} (monitor output: ${monitorOut.slice(-2000)})`, CHANGE_BOUND_MS, 50);
}
/** The last transition into `state` waited for the threshold (never decided on fewer observations). */
function assertAfterThreshold(r: RegionJson, to: string, threshold: number): void {
  const t = r.transitions.filter((x) => x.to === to).at(-1);
  assert.ok(t, `${r.name}: a transition to ${to}`);
  assert.ok(t.observations >= threshold, `${r.name} → ${to} after ${t.observations} observations, threshold ${threshold}`);
}
async function metrics(): Promise<string> {
  return (await fetch(`${monitorUrl}/metrics`)).text();
}

test("MR-08: a frozen /health degrades a region, a stopped pool takes it down; health checks answer 503, routing fails over EU→US, US→EU, Asia→US, and all come back", async () => {
  // 1. All healthy: every region keeps its own miners; unknown locations go to eu.
  await waitFor(async () => (await overview()).regions.every((r) => r.state === "healthy"), "all regions healthy", CHANGE_BOUND_MS, 50);
  let o = await overview();
  assert.deepEqual(o.routing, { eu: "eu", us: "us", asia: "asia", default: "eu" });
  for (const name of ["eu", "us", "asia"]) {
    assert.equal(await healthCode(name), 200, name);
    const r = o.regions.find((x) => x.name === name)!;
    assert.equal(r.pool?.region, name, "the /health body of the region's own pool was read");
    assert.equal(r.pool?.mode, "primary");
  }
  assert.equal((await routeTo("default")).stratum, "eu.mine.example.com:3333");

  // 2. Freeze asia's /health: Stratum still answers, so asia is degraded (not down) after the threshold.
  proxy.freeze();
  // Before the threshold: failed probes are counted but the state, the health check and the route hold.
  const counting = await waitFor(async () => {
    const r = await region("asia");
    return r.state === "healthy" && r.pending_observations >= 1 ? r : null;
  }, "asia to count a failed /health probe while still healthy", CHANGE_BOUND_MS, 20);
  assert.ok(counting.pending_observations < FAILURE_THRESHOLD);
  assert.equal(counting.last_probe?.observation, "degraded");
  assert.equal(await healthCode("asia"), 200, "one or two failures do not fail the health check");
  assert.equal((await routeTo("asia")).route_to, "asia");
  const asia = await waitState("asia", "degraded");
  assertAfterThreshold(asia, "degraded", FAILURE_THRESHOLD);
  assert.ok(proxy.heldTotal >= FAILURE_THRESHOLD, "the monitor's probes reached the frozen proxy");
  assert.match(asia.transitions.at(-1)!.reason, /health: no answer within/);
  assert.equal(asia.last_probe?.stratum.ok, true);
  assert.equal(await healthCode("asia"), 503);
  const ra = await routeTo("asia");
  assert.equal(ra.route_to, "us");
  assert.equal(ra.stratum, "us.mine.example.com:3333", "the answer names the target's public Stratum address");
  assert.equal(ra.available, true);
  assert.equal(await healthCode("us"), 200);

  // 3. Stop the us pool: us is down after the threshold; US→EU, and Asia (its first choice us gone) → the default, EU.
  await stopPool(pools.get("us")!);
  const us = await waitState("us", "down");
  assertAfterThreshold(us, "down", FAILURE_THRESHOLD);
  assert.equal(await healthCode("us"), 503);
  assert.equal((await routeTo("us")).route_to, "eu");
  assert.equal((await routeTo("asia")).route_to, "eu");
  o = await overview();
  assert.deepEqual(o.routing, { eu: "eu", us: "eu", asia: "eu", default: "eu" });
  const m = await metrics();
  assert.match(m, /tbg_monitor_region_state\{region="us",role="relay",state="down"\} 1/);
  assert.match(m, /tbg_monitor_region_state\{region="asia",role="relay",state="degraded"\} 1/);
  assert.match(m, /tbg_monitor_route\{region="asia",target="eu"\} 1/);
  assert.match(m, /tbg_monitor_region_transitions_total\{region="us",to="down"\} 1/);

  // 4. us comes back: healthy after the recovery threshold; Asia→US again.
  await startPool(pools.get("us")!);
  const usBack = await waitState("us", "healthy");
  assertAfterThreshold(usBack, "healthy", RECOVERY_THRESHOLD);
  assert.equal(await healthCode("us"), 200);
  assert.equal((await routeTo("us")).route_to, "us");
  assert.equal((await routeTo("asia")).route_to, "us");

  // 5. asia's /health thaws: asia healthy, keeps its miners.
  proxy.thaw();
  await waitState("asia", "healthy");
  assert.equal(await healthCode("asia"), 200);
  assert.equal((await routeTo("asia")).route_to, "asia");

  // 6. Stop the primary (eu): EU→US, and unknown locations follow eu's route.
  await stopPool(pools.get("eu")!);
  await waitState("eu", "down");
  assert.equal(await healthCode("eu"), 503);
  assert.equal((await routeTo("eu")).route_to, "us");
  assert.equal((await routeTo("default")).route_to, "us");
  assert.match(await metrics(), /tbg_monitor_region_state\{region="eu",role="primary",state="down"\} 1/);

  // 7. eu comes back: all healthy, every region its own, default eu.
  await startPool(pools.get("eu")!);
  await waitFor(async () => (await overview()).regions.every((r) => r.state === "healthy"), "all regions healthy again", CHANGE_BOUND_MS, 50);
  o = await overview();
  assert.deepEqual(o.routing, { eu: "eu", us: "us", asia: "asia", default: "eu" });
  for (const name of ["eu", "us", "asia"]) assert.equal(await healthCode(name), 200, name);

  // The monitor logged every change.
  for (const re of [/region asia: healthy → degraded/, /region us: \w+ → down/, /region eu: \w+ → down/, /region asia: degraded → healthy/]) assert.match(monitorOut, re);
});
