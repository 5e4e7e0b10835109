/**
 * deploy/compose/*.yml agree with themselves and with the engine: every file they mount exists, every
 * service, network and volume they name is defined, and each tbg service's config (loaded with the
 * engine's own loaders) points at the right services and ports: Stratum and health ports published, the
 * event socket shared with the region's publisher, bitcoind RPC/ZMQ ports and credentials as in the
 * mounted bitcoin.conf, NATS URLs at the NATS servers' listen ports, the collector's database credentials
 * as the database container's, the relays' primary reachable through the latency bridge, and the
 * monitor's regions at the pools' real ports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { parseConfig } from "../../src/config/load.ts";
import type { PoolConfig } from "../../src/config/types.ts";
import { HEALTH_DEFAULTS } from "../../src/config/defaults.ts";
import { parseCollectorConfig } from "../../src/pipeline/collector/config.ts";
import { parseMonitorConfig } from "../../src/tools/monitor/config.ts";
import {
  DEPLOY, boundFile, cliCommands, existsSync, flag, hostPort, interpolate, loadCompose, mountsOf, networksOf, parseBitcoinConf, publishedPorts, read, unknownFlags,
  type ComposeFile, type ComposeService,
} from "./helpers.ts";

const FILES = ["compose/region.yml", "compose/multi-region.yml"];
const isTbg = (s: ComposeService) => s.image === "tbg-engine:local";
const env = { hostname: "test", openFileLimit: 1_048_576 };

function poolConfig(c: ComposeFile, s: ComposeService): PoolConfig {
  const file = boundFile(c, s, flag(s.command!, "-c")!);
  assert.ok(file, `the pool's -c file is mounted`);
  return parseConfig(JSON.parse(read(file)), file, env);
}
function natsListenPort(confPath: string): number {
  return Number(/^listen:\s*[\d.]+:(\d+)/m.exec(read(confPath))![1]);
}

for (const rel of FILES) {
  test(`${rel}: files, services, networks, volumes and commands exist`, async () => {
    const c = loadCompose(rel);
    const commands = await cliCommands();
    const names = Object.keys(c.services);
    for (const [name, s] of Object.entries(c.services)) {
      assert.ok(s.image || s.build, `${name}: image or build`);
      if (s.build) assert.ok(existsSync(`${c.dir}/${s.build.context}/${s.build.dockerfile}`), `${name}: ${s.build.dockerfile}`);
      for (const m of mountsOf(c, s)) {
        if (m.bind) assert.ok(existsSync(m.source), `${name}: mounted ${m.source} exists`);
        else assert.ok(c.volumes && m.source in c.volumes, `${name}: volume ${m.source} is declared`);
      }
      for (const d of s.depends_on ?? []) assert.ok(names.includes(d), `${name}: depends_on ${d}`);
      for (const n of networksOf(s)) assert.ok(n === "default" || (c.networks && n in c.networks), `${name}: network ${n} declared`);
      if (!Array.isArray(s.networks) && s.networks) {
        for (const [n, v] of Object.entries(s.networks)) {
          const subnet = c.networks![n].ipam!.config![0].subnet.replace(/0\/24$/, "");
          if (v?.ipv4_address) assert.ok(v.ipv4_address.startsWith(subnet), `${name}: ${v.ipv4_address} in ${n} ${subnet}0/24`);
        }
      }
      if (isTbg(s)) {
        const [cmd, ...args] = s.command!;
        assert.ok(commands.includes(cmd), `${name}: tbg ${cmd} is a command`);
        assert.deepEqual(unknownFlags(cmd, args), [], `${name}: tbg ${cmd} accepts ${args.join(" ")}`);
        const healthUrl = s.environment?.TBG_HEALTH_URL;
        if (s.healthcheck?.disable) assert.equal(healthUrl, undefined, `${name}: no health URL for a disabled healthcheck`);
        else assert.ok(healthUrl, `${name}: TBG_HEALTH_URL for the image's HEALTHCHECK`);
      }
    }
  });

  test(`${rel}: each pool's config matches its ports, volumes, node, publisher and NATS`, () => {
    const c = loadCompose(rel);
    const pools = Object.entries(c.services).filter(([, s]) => isTbg(s) && s.command![0] === "pool");
    assert.ok(pools.length >= 1);
    for (const [name, s] of pools) {
      const cfg = poolConfig(c, s);
      assert.equal(name, `pool-${cfg.region}`, "service named after the region");
      const stratumPort = cfg.serverurl[0].port;
      const ports = publishedPorts(s);
      assert.ok(ports.includes(stratumPort), `${name}: Stratum ${stratumPort} published`);
      assert.ok(ports.includes(cfg.health.port), `${name}: health ${cfg.health.port} published`);
      assert.equal(cfg.health.port, HEALTH_DEFAULTS.port);
      assert.equal(new URL(s.environment!.TBG_HEALTH_URL).port, String(cfg.health.port), `${name}: HEALTHCHECK polls health.port`);
      const mounts = mountsOf(c, s);
      assert.ok(mounts.some((m) => !m.bind && m.target === cfg.data_dir), `${name}: data_dir ${cfg.data_dir} is a volume`);
      const socketDir = dirname(cfg.events.socket_path);
      const eventsVolume = mounts.find((m) => !m.bind && m.target === socketDir);
      assert.ok(eventsVolume, `${name}: the event socket's directory ${socketDir} is a volume`);

      // The region's publisher binds that socket, in that volume, and publishes under the same region.
      const pub = c.services[`publisher-${cfg.region}`];
      assert.ok(pub, `publisher-${cfg.region}`);
      assert.equal(flag(pub.command!, "--socket"), cfg.events.socket_path);
      assert.equal(flag(pub.command!, "--region"), cfg.region);
      assert.ok(mountsOf(c, pub).some((m) => m.source === eventsVolume.source && m.target === socketDir), "same events volume");
      assert.ok(s.depends_on?.includes(`publisher-${cfg.region}`), "the socket's reader starts first");
      const natsTarget = hostPort(flag(pub.command!, "--nats-url")!);
      const natsSvc = c.services[natsTarget.host];
      assert.ok(natsSvc, `publisher's NATS ${natsTarget.host} is a service`);
      assert.equal(natsTarget.port, natsListenPort(boundFile(c, natsSvc, natsSvc.command![1])!));
      assert.ok(networksOf(pub).some((n) => networksOf(natsSvc).includes(n)), "publisher and NATS share a network");

      // bitcoind: RPC port, ZMQ port and credentials as in the bitcoin.conf it runs with; pruned on relays.
      const node = cfg.btcd[0];
      const rpc = hostPort(node.url);
      const btc = c.services[rpc.host];
      assert.ok(btc, `${name}: btcd host ${rpc.host} is a service`);
      assert.ok(networksOf(btc).some((n) => networksOf(s).includes(n)), "pool and its node share a network");
      const conf = parseBitcoinConf(read(boundFile(c, btc, "/etc/bitcoin/bitcoin.conf")!));
      const chain = conf.top.get("chain")![0];
      assert.equal(cfg.network, chain);
      assert.equal(Number(conf.sections.get(chain)!.get("rpcport")![0]), rpc.port, "rpcport");
      assert.equal(conf.top.get("rpcuser")![0], node.auth);
      assert.equal(conf.top.get("rpcpassword")![0], node.pass);
      const zmq = hostPort(conf.top.get("zmqpubhashblock")![0]);
      assert.deepEqual(hostPort(node.zmqnotify!), { host: rpc.host, port: zmq.port }, "zmqnotify");
      const pruned = Number(conf.top.get("prune")![0]) > 0;
      assert.equal(pruned, cfg.mode === "passthrough", "relays run pruned nodes, the primary a full one");
    }
  });

  test(`${rel}: the collector reaches NATS, the database and Redis with the containers' settings`, () => {
    const c = loadCompose(rel);
    const s = c.services.collector;
    const file = boundFile(c, s, flag(s.command!, "-c")!)!;
    const cfg = parseCollectorConfig(read(file), file);
    const db = new URL(cfg.database_url!);
    const pg = c.services[db.hostname];
    assert.ok(pg, `database host ${db.hostname}`);
    assert.deepEqual([decodeURIComponent(db.username), decodeURIComponent(db.password), db.pathname.slice(1), db.port], [pg.environment!.POSTGRES_USER, pg.environment!.POSTGRES_PASSWORD, pg.environment!.POSTGRES_DB, "5432"]);
    assert.match(pg.image!, /^timescale\/timescaledb:/);
    assert.ok(c.services[new URL(cfg.redis_url!).hostname], "redis service");
    const nats = hostPort(cfg.nats_url!);
    const hub = c.services[nats.host];
    assert.equal(nats.port, natsListenPort(boundFile(c, hub, hub.command![1])!));
    assert.ok(publishedPorts(s).includes(cfg.metrics_port!));
    assert.equal(new URL(s.environment!.TBG_HEALTH_URL).port, String(cfg.metrics_port));
    assert.ok(mountsOf(c, s).some((m) => !m.bind && m.target === cfg.data_dir));
  });
}

test("compose/region.yml is the EU part of the simulation: same services, commands and files", () => {
  const one = loadCompose("compose/region.yml");
  const multi = loadCompose("compose/multi-region.yml");
  for (const [name, s] of Object.entries(one.services)) {
    const m = multi.services[name];
    assert.ok(m, `${name} in multi-region.yml`);
    assert.deepEqual(m.command, s.command, `${name} command`);
    assert.deepEqual(mountsOf(multi, m).filter((x) => x.bind).map((x) => x.source), mountsOf(one, s).filter((x) => x.bind).map((x) => x.source), `${name} files`);
    assert.deepEqual(m.environment, s.environment, `${name} environment`);
  }
});

test("compose/multi-region.yml: relays reach the primary and the NATS hub only through the latency bridge", () => {
  const c = loadCompose("compose/multi-region.yml");
  const bridge = c.services["latency-bridge"];
  assert.ok(bridge.cap_add?.includes("NET_ADMIN"), "tc netem needs NET_ADMIN");
  const script = boundFile(c, bridge, bridge.entrypoint!.at(-1)!)!;
  assert.match(read(script), /tc qdisc replace dev "\$dev" root netem delay "\$\{out_us\}us"/);
  assert.match(read(script), /tc qdisc replace dev "\$ifb" root netem delay "\$\{in_us\}us"/);
  const forwards = new Map(bridge.environment!.FORWARDS.split(/\s+/).map((f) => [Number(f.split("=")[0]), f.split("=")[1]]));
  const delays = bridge.environment!.DELAYS.split(/\s+/).map((d) => d.split("=")[0]);
  for (const [port, target] of forwards) {
    const t = hostPort(target);
    assert.ok(c.services[t.host], `forward :${port} → ${target}: a service`);
    assert.ok(networksOf(c.services[t.host]).some((n) => networksOf(bridge).includes(n)));
  }
  const eu = poolConfig(c, c.services["pool-eu"]);
  assert.equal(eu.mode, "primary");
  const hub = c.services["nats-hub"];
  const hubConf = read(boundFile(c, hub, hub.command![1])!);
  const leafPort = Number(/leafnodes\s*\{\s*listen:\s*[\d.]+:(\d+)/.exec(hubConf)![1]);
  const leafUser = /user:\s*(\S+)/.exec(hubConf)![1];
  const relays = ["us", "asia"];
  for (const region of relays) {
    const pool = c.services[`pool-${region}`];
    const cfg = poolConfig(c, pool);
    assert.equal(cfg.mode, "passthrough");
    assert.equal(cfg.region, region);
    assert.notEqual(cfg.instance_id, eu.instance_id, "disjoint extranonce spaces");
    const p = cfg.primary!;
    assert.equal(p.host, "latency-bridge");
    assert.equal(forwards.get(p.port), `pool-eu:${eu.relay_server!.port}`);
    assert.equal(forwards.get(p.template_push_port), `pool-eu:${eu.relay_server!.template_push_port}`);
    assert.equal(p.auth_token, eu.relay_server!.auth_token);
    const net = networksOf(pool)[0];
    assert.deepEqual(networksOf(pool), [net], `${region}'s pool is only on its own network`);
    const subnet = c.networks![net].ipam!.config![0].subnet.replace(/0\/24$/, "");
    assert.ok(delays.includes(subnet), `${region}: the bridge delays ${subnet}*`);
    // NATS leaf: to the hub's leaf port through the bridge, with the hub's leaf user and the same password.
    const leaf = c.services[`nats-${region}`];
    const url = new URL(interpolate(leaf.environment!.NATS_HUB_LEAF_URL));
    assert.equal(url.hostname, "latency-bridge");
    assert.equal(forwards.get(Number(url.port)), `nats-hub:${leafPort}`);
    assert.equal(url.username, leafUser);
    assert.equal(leaf.environment!.NATS_HUB_LEAF_URL.includes("${NATS_LEAF_PASSWORD"), true);
    assert.equal(interpolate(hub.environment!.NATS_LEAF_PASSWORD), decodeURIComponent(url.password));
    assert.equal(leaf.environment!.NATS_SERVER_NAME, `tbg-nats-${region}`);
  }

  // The monitor: on every region network, watching every pool at its real ports, and the hub's leaf count.
  const mon = c.services.monitor;
  const file = boundFile(c, mon, flag(mon.command!, "-c")!)!;
  const mc = parseMonitorConfig(read(file), file);
  assert.deepEqual(networksOf(mon).sort(), Object.keys(c.networks!).sort());
  assert.ok(publishedPorts(mon).includes(mc.port));
  assert.equal(new URL(mon.environment!.TBG_HEALTH_URL).port, String(mc.port));
  for (const r of mc.regions) {
    const pool = c.services[r.stratumHost];
    assert.ok(pool, `monitor region ${r.name}: ${r.stratumHost} is a service`);
    const cfg = poolConfig(c, pool);
    assert.equal(cfg.region, r.name);
    assert.equal(r.role, cfg.mode === "primary" ? "primary" : "relay");
    assert.equal(r.stratumPort, cfg.serverurl[0].port);
    assert.deepEqual(hostPort(r.healthUrl), { host: r.stratumHost, port: cfg.health.port });
  }
  assert.deepEqual(mc.regions.map((r) => r.name).sort(), ["asia", "eu", "us"]);
  const natsMon = new URL(mc.nats!.monitorUrl);
  assert.equal(natsMon.hostname, "nats-hub");
  assert.equal(Number(natsMon.port), Number(/^http:\s*[\d.]+:(\d+)/m.exec(hubConf)![1]));
  assert.equal(mc.nats!.expectedLeafnodes, relays.length);

  // Prometheus scrapes each pool with its region label; Grafana gets the dashboards.
  const prom = c.services.prometheus;
  assert.ok(boundFile(c, prom, "/etc/prometheus/alerts.yml"));
  const graf = c.services.grafana;
  assert.ok(existsSync(`${boundFile(c, graf, "/var/lib/grafana/dashboards")}/tbg-multi-region.json`));
});

/** Runs the latency bridge's script with logging stand-ins for ip, tc and socat (the kernel here has no netem). */
async function runBridge(delays: string, ifb: boolean): Promise<{ code: number | null; calls: string[]; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-bridge-"));
  try {
    const log = join(dir, "calls.log");
    const stub = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> ${log}\n${body}\n`;
    await writeFile(join(dir, "ip"), stub(`case "$*" in
  "-o -4 addr show") printf '2: eth0    inet 172.20.1.2/24 brd 172.20.1.255 scope global eth0\\n3: eth1    inet 172.20.2.2/24 brd 172.20.2.255 scope global eth1\\n4: eth2    inet 172.20.3.2/24 brd 172.20.3.255 scope global eth2\\n' ;;
  "link add"*) ${ifb ? "exit 0" : "exit 1"} ;;
  "link show"*) exit 1 ;;
esac`), { mode: 0o755 });
    await writeFile(join(dir, "tc"), stub("exit 0"), { mode: 0o755 });
    await writeFile(join(dir, "socat"), stub("exit 0"), { mode: 0o755 });
    const r = spawnSync("sh", [`${DEPLOY}latency-bridge/entrypoint.sh`], { encoding: "utf8", env: { PATH: `${dir}:${process.env.PATH}`, DELAYS: delays, FORWARDS: "", LATENCY_BRIDGE_NO_APK: "1" } });
    const calls = existsSync(log) ? (await readFile(log, "utf8")).trim().split("\n") : [];
    return { code: r.status, calls, stderr: r.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("latency bridge: each region's round trip is split half per direction (egress netem + ingress via ifb); without ifb, a warning", async () => {
  const r = await runBridge("172.20.2.=80ms 172.20.3.=201ms", true);
  assert.equal(r.code, 0, r.stderr);
  const tc = r.calls.filter((c) => c.startsWith("tc "));
  for (const want of [
    "tc qdisc replace dev eth1 handle ffff: ingress",
    "tc filter replace dev eth1 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ifb-eth1",
    "tc qdisc replace dev eth1 root netem delay 40000us",
    "tc qdisc replace dev ifb-eth1 root netem delay 40000us",
    "tc qdisc replace dev eth2 root netem delay 100500us",
    "tc qdisc replace dev ifb-eth2 root netem delay 100500us",
  ]) assert.ok(tc.includes(want), `${want}\nin:\n${tc.join("\n")}`);
  assert.ok(!tc.some((c) => c.includes("eth0")), "the primary's network gets no delay");

  const noIfb = await runBridge("172.20.2.=80ms", false);
  assert.equal(noIfb.code, 0, noIfb.stderr);
  assert.ok(noIfb.calls.includes("tc qdisc replace dev eth1 root netem delay 80000us"));
  assert.match(noIfb.stderr, /no ifb device.*on the way to the region only/);

  const bad = await runBridge("172.20.2.=0.08s", true);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /DELAYS entry 172\.20\.2\.=0\.08s: the round trip must be whole milliseconds/);
});
