/**
 * Multi-region harness: a primary ("eu") and two relays ("us-east", "ap-south") as separate `tbg pool`
 * processes, each region with its own embedded regtest node (the relay nodes peer with the primary's over
 * P2P, so blocks propagate); a NATS hub (JetStream, domain "hub") and one leaf nats-server per relay
 * region (JetStream domain of its own, token-authenticated leafnode link to the hub); the hub's
 * MINING_EVENTS stream sources each leaf's MINING_EVENTS; `tbg collector` stores the hub's stream in
 * PostgreSQL.
 *
 * Inter-region links go through userspace proxies (test/support/delay-proxy.ts: per-direction delay,
 * black-hole; this kernel has no netem): the relay → primary links (control + push) and each leaf → hub
 * link. A partition black-holes and resets a region's proxies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestNode } from "../support/pool.ts";
import { freePort, startPostgres, type PostgresServer } from "../support/servers.ts";
import { startDelayProxy, type DelayProxy } from "../support/delay-proxy.ts";
import { waitFor } from "../support/wait.ts";
import { eventStreamConfig, MINING_EVENTS_STREAM } from "../../src/pipeline/nats/jetstream.ts";
import type { EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;
export const RELAY_TOKEN = "mr-relay-secret-0123456789abcdef";
const LEAF_PASSWORD = "mr-leaf-secret-0123456789abcdef";

/** A child process restarted with the same arguments; stdout/stderr kept (bounded) for failures. */
export class Proc {
  child: ChildProcess | null = null;
  output = "";
  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly ready: RegExp | (() => Promise<boolean>),
  ) {}

  async start(timeoutMs = 60_000): Promise<void> {
    this.output = "";
    const child = spawn(this.command, this.args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
    this.child = child;
    const take = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    const ready = this.ready;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited (${child.exitCode}): ${this.output.slice(-2000)}`);
        return ready instanceof RegExp ? ready.test(this.output) : await ready().catch(() => false);
      },
      `${this.name} ready`,
      timeoutMs,
      100,
    );
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
}

export interface Region {
  name: string;
  node: EmbeddedNode;
  pool: Proc;
  stratumPort: number;
  healthPort: number;
  /** relay regions: proxies on the relay → primary links and the leaf → hub link */
  relayLink?: { control: DelayProxy; push: DelayProxy };
  leaf?: Proc;
  leafPort?: number;
  leafLink?: DelayProxy;
  leafNc?: NatsConnection;
}

export interface Harness {
  dir: string;
  eu: Region;
  us: Region;
  ap: Region;
  hub: Proc;
  hubPort: number;
  hubNc: NatsConnection;
  pg: PostgresServer;
  collector: Proc;
  health(r: Region): Promise<HealthDoc>;
  metrics(r: Region): Promise<string>;
  /** Sets the one-way delay both ways on a relay's links to the primary. */
  setDelay(r: Region, ms: number): void;
  partition(r: Region): void;
  heal(r: Region): void;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Messages in the hub's MINING_EVENTS per subject. */
  hubSubjects(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface HealthDoc {
  status: string;
  relay: null | { mode?: string; independent?: boolean; templateLatencyMs?: { last: number | null; p50: number | null; max: number | null }; link?: { templatesReceived: number; push: { lastRttMs: number | null } } };
}

function natsConf(o: { name: string; port: number; dir: string; domain: string; leafListen?: number; remote?: number }): string {
  const lines = [
    `listen: 127.0.0.1:${o.port}`,
    `server_name: ${o.name}`,
    // Quick detection of a dead inter-region link (default is 2 min).
    `ping_interval: "1s"`,
    `ping_max: 3`,
    `jetstream { store_dir: "${join(o.dir, "js")}", domain: "${o.domain}" }`,
  ];
  // A leaf adds the address the hub advertises for its leafnode listener to its reconnect list; advertise one
  // that refuses connections so leaves reconnect only through their configured URL (the link proxy), as they
  // would across a real partition, never straight to the hub's port on this one machine.
  if (o.leafListen) lines.push(`leafnodes { listen: "127.0.0.1:${o.leafListen}", advertise: "127.0.0.1:1", no_advertise: true, authorization { user: "leaf", password: "${LEAF_PASSWORD}" } }`);
  if (o.remote)
    lines.push(
      // Events reach the hub only by the hub's stream sourcing this leaf's stream (stored here while the link
      // is down, replayed once); the subjects themselves do not cross the link.
      `leafnodes { reconnect: 1, remotes: [ { url: "nats-leaf://leaf:${LEAF_PASSWORD}@127.0.0.1:${o.remote}", deny_exports: ["mining.events.>"], deny_imports: ["mining.events.>"] } ] }`,
    );
  return lines.join("\n") + "\n";
}

export async function startHarness(opts: { failoverSec?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "tbg-mr-"));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    // Nodes: eu listens; us and ap peer with it.
    const euNode = await startTestNode({ listen: true });
    cleanups.push(() => euNode.close());
    const usNode = await startTestNode({ peers: [`127.0.0.1:${euNode.p2pPort}`] });
    cleanups.push(() => usNode.close());
    const apNode = await startTestNode({ peers: [`127.0.0.1:${euNode.p2pPort}`] });
    cleanups.push(() => apNode.close());
    await euNode.mine(1);
    await Promise.all([usNode.waitForHeight(1), apNode.waitForHeight(1)]);

    // NATS hub + leaves (each leaf through its own link proxy).
    const hubPort = await freePort();
    const hubLeafPort = await freePort();
    mkdirSync(join(dir, "hub"));
    writeFileSync(join(dir, "hub", "nats.conf"), natsConf({ name: "hub", port: hubPort, dir: join(dir, "hub"), domain: "hub", leafListen: hubLeafPort }));
    const hub = new Proc("nats hub", "nats-server", ["-c", join(dir, "hub", "nats.conf")], /Server is ready/);
    await hub.start();
    cleanups.push(() => hub.stop("SIGKILL"));
    const hubNc = await connect({ servers: `127.0.0.1:${hubPort}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    cleanups.push(() => hubNc.close());

    const pg = await startPostgres();
    cleanups.push(() => pg.close());

    const mkRegion = async (name: string, node: EmbeddedNode): Promise<Region> => ({ name, node, pool: null as unknown as Proc, stratumPort: await freePort(), healthPort: await freePort() });
    const eu = await mkRegion("eu", euNode);
    const us = await mkRegion("us-east", usNode);
    const ap = await mkRegion("ap-south", apNode);

    for (const r of [us, ap]) {
      r.leafPort = await freePort();
      r.leafLink = await startDelayProxy({ host: "127.0.0.1", port: hubLeafPort });
      cleanups.push(() => r.leafLink!.close());
      const d = join(dir, `leaf-${r.name}`);
      mkdirSync(d);
      writeFileSync(join(d, "nats.conf"), natsConf({ name: `leaf-${r.name}`, port: r.leafPort, dir: d, domain: r.name, remote: r.leafLink.port }));
      r.leaf = new Proc(`nats leaf ${r.name}`, "nats-server", ["-c", join(d, "nats.conf")], /Server is ready/);
      await r.leaf.start();
      cleanups.push(() => r.leaf!.stop("SIGKILL"));
      r.leafNc = await connect({ servers: `127.0.0.1:${r.leafPort}` });
      cleanups.push(() => r.leafNc!.close());
      // The leaf's own stream (the relay's publisher would create the same on first connect).
      await (await jetstreamManager(r.leafNc)).streams.add(eventStreamConfig());
    }
    // The hub's stream: the primary's events directly, each leaf's by sourcing.
    await (await jetstreamManager(hubNc)).streams.add({
      ...eventStreamConfig(),
      sources: [us, ap].map((r) => ({ name: MINING_EVENTS_STREAM, external: { api: `$JS.${r.name}.API`, deliver: "" } })),
    });

    const collector = new Proc("collector", process.execPath, [TBG, "collector", "--nats-url", `nats://127.0.0.1:${hubPort}`, "--database-url", pg.url, "--metrics-port", "off", "--ack-wait-sec", "5", "--region", "eu"], /collector started|listening|ready/i);
    await collector.start();
    cleanups.push(() => collector.stop("SIGKILL"));

    // Pools.
    let controlPort = await freePort();
    let pushPort = await freePort();
    const poolConfig = (r: Region, extra: Record<string, unknown>) => {
      const u = new URL(r.node.rpcUrl);
      const d = join(dir, `pool-${r.name}`);
      mkdirSync(d, { recursive: true });
      const cfg = {
        network: "regtest",
        region: r.name,
        btcd: [{ url: `${u.hostname}:${u.port}`, auth: r.node.rpcUser, pass: r.node.rpcPass, zmqnotify: r.node.zmqUrl }],
        serverurl: [`127.0.0.1:${r.stratumPort}`],
        blockpoll: 250,
        data_dir: d,
        events: { enabled: true, socket_path: join(d, "events.sock"), nats: { url: `nats://127.0.0.1:${r === eu ? hubPort : r.leafPort}` } },
        health: { enabled: true, host: "127.0.0.1", port: r.healthPort },
        bans: { enabled: false },
        ...extra,
      };
      const file = join(d, "config.json");
      writeFileSync(file, JSON.stringify(cfg, null, 2));
      return file;
    };
    const healthUp = (r: Region) => async () => {
      const res = await fetch(`http://127.0.0.1:${r.healthPort}/health`);
      await res.body?.cancel();
      return res.status === 200 || res.status === 503;
    };
    // A port picked by freePort() can be taken (by another test's outgoing connection) before the pool
    // binds it: on PORT_IN_USE pick new ones and start again (bounded).
    const startPool = async (r: Region, make: () => Proc, newPorts: () => Promise<void>) => {
      for (let attempt = 1; ; attempt++) {
        r.pool = make();
        try {
          await r.pool.start();
          return;
        } catch (err) {
          if (attempt >= 3 || !/PORT_IN_USE/.test(String(err))) throw err;
          r.stratumPort = await freePort();
          r.healthPort = await freePort();
          await newPorts();
        }
      }
    };
    const euConfig = () => poolConfig(eu, { instance_id: 0, relay_server: { host: "127.0.0.1", port: controlPort, template_push_port: pushPort, auth_token: RELAY_TOKEN } });
    await startPool(eu, () => new Proc("pool eu", process.execPath, [TBG, "pool", "-c", euConfig()], healthUp(eu)), async () => {
      controlPort = await freePort();
      pushPort = await freePort();
    });
    cleanups.push(() => eu.pool.stop("SIGKILL"));
    for (const [r, id] of [
      [us, 1],
      [ap, 2],
    ] as const) {
      const control = await startDelayProxy({ host: "127.0.0.1", port: controlPort });
      const push = await startDelayProxy({ host: "127.0.0.1", port: pushPort });
      cleanups.push(() => control.close(), () => push.close());
      r.relayLink = { control, push };
      await startPool(
        r,
        () =>
          new Proc(
            `pool ${r.name}`,
            process.execPath,
            [TBG, "pool", "-c", poolConfig(r, { mode: "passthrough", instance_id: id, failover_threshold: opts.failoverSec ?? 10, primary: { host: "127.0.0.1", port: control.port, template_push_port: push.port, auth_token: RELAY_TOKEN, reconnect_interval: 1 } })],
            healthUp(r),
          ),
        async () => undefined,
      );
      cleanups.push(() => r.pool.stop("SIGKILL"));
    }

    const links = (r: Region) => [r.relayLink!.control, r.relayLink!.push, r.leafLink!];
    return {
      dir,
      eu,
      us,
      ap,
      hub,
      hubPort,
      hubNc,
      pg,
      collector,
      async health(r) {
        return (await (await fetch(`http://127.0.0.1:${r.healthPort}/health`)).json()) as HealthDoc;
      },
      async metrics(r) {
        return await (await fetch(`http://127.0.0.1:${r.healthPort}/metrics`)).text();
      },
      setDelay(r, ms) {
        for (const p of [r.relayLink!.control, r.relayLink!.push]) p.delay = { up: ms, down: ms };
      },
      partition(r) {
        for (const p of links(r)) {
          p.blackhole();
          p.dropAll();
        }
      },
      heal(r) {
        for (const p of links(r)) p.heal();
      },
      async query<T>(sql: string, params: unknown[] = []) {
        const pgmod = await import("pg");
        const c = new pgmod.default.Client({ connectionString: pg.url });
        await c.connect();
        try {
          return (await c.query(sql, params)).rows as T[];
        } finally {
          await c.end();
        }
      },
      async hubSubjects() {
        const jsm = await jetstreamManager(hubNc);
        const info = await jsm.streams.info(MINING_EVENTS_STREAM, { subjects_filter: ">" });
        return (info.state.subjects ?? {}) as Record<string, number>;
      },
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
