/**
 * deploy/'s Dockerfile, NATS configs, bitcoind configs and systemd units, checked by the tools that run
 * them where those are installed (`nats-server -t`, `systemd-analyze verify`) and against the engine's
 * config keys and defaults.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULTS, HEALTH_DEFAULTS } from "../../src/config/defaults.ts";
import { parseConfig } from "../../src/config/load.ts";
import { DEFAULT_MIGRATIONS_DIR } from "../../src/pipeline/storage/migrate.ts";
import { DEPLOY, ROOT, cliCommands, existsSync, flag, parseBitcoinConf, parseDockerfile, parseUnit, read, unknownFlags } from "./helpers.ts";

const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

test("Dockerfile: node 20, production deps only (tsx among them), sources copied, a non-root user, a HEALTHCHECK on health.port, bin/tbg as entrypoint", async () => {
  const ins = parseDockerfile(read(`${DEPLOY}Dockerfile`));
  const ops = ins.map((i) => i.op);
  assert.match(ins.find((i) => i.op === "FROM")!.args, /^node:20/);
  for (const copy of ins.filter((i) => i.op === "COPY")) {
    const srcs = copy.args.split(/\s+/).slice(0, -1);
    for (const s of srcs) assert.ok(existsSync(`${ROOT}${s}`), `COPY ${s} exists`);
  }
  const copied = ins.filter((i) => i.op === "COPY").flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  // tsconfig.json: tsx reads it (module resolution, .ts import extensions) when bin/tbg loads src/.
  for (const needed of ["bin", "src", "package.json", "package-lock.json", "tsconfig.json"]) assert.ok(copied.includes(needed), `COPY ${needed}`);
  assert.ok(copied.includes(DEFAULT_MIGRATIONS_DIR.slice(ROOT.length).replace(/\/$/, "")), "the collector's migrations are in the image");
  assert.ok(ins.some((i) => i.op === "RUN" && /npm ci --omit=dev/.test(i.args)));
  const pkg = JSON.parse(read(`${ROOT}package.json`)) as { dependencies: Record<string, string> };
  assert.ok("tsx" in pkg.dependencies, "bin/tbg runs through tsx: a runtime dependency, kept by --omit=dev");

  const user = ins.filter((i) => i.op === "USER").at(-1);
  assert.ok(user && !["root", "0", "0:0"].includes(user.args), "runs as a non-root user");
  assert.ok(ops.lastIndexOf("USER") < ops.indexOf("ENTRYPOINT"));
  const expose = ins.filter((i) => i.op === "EXPOSE").flatMap((i) => i.args.split(/\s+/).map(Number));
  assert.ok(expose.includes(Number(DEFAULTS.serverurl[0].split(":")[1])), "Stratum port");
  assert.ok(expose.includes(HEALTH_DEFAULTS.port), "health port");
  const envUrl = /TBG_HEALTH_URL=(\S+)/.exec(ins.find((i) => i.op === "ENV" && i.args.includes("TBG_HEALTH_URL"))!.args)![1];
  assert.equal(new URL(envUrl).port, String(HEALTH_DEFAULTS.port));
  const hc = ins.find((i) => i.op === "HEALTHCHECK")!;
  assert.match(hc.args, /CMD \[/);
  assert.match(hc.args, /TBG_HEALTH_URL/);
  const entry = JSON.parse(ins.find((i) => i.op === "ENTRYPOINT")!.args) as string[];
  assert.deepEqual(entry, ["node", "bin/tbg"]);
  assert.ok(existsSync(`${ROOT}bin/tbg`));
  const cmd = JSON.parse(ins.find((i) => i.op === "CMD")!.args) as string[];
  assert.ok((await cliCommands()).includes(cmd[0]));
  assert.equal(ins.find((i) => i.op === "STOPSIGNAL")?.args, "SIGTERM");
  const ignore = read(`${DEPLOY}Dockerfile.dockerignore`);
  assert.match(ignore, /^node_modules$/m, "host node_modules (other platform's binaries) stay out");
});

test("NATS hub and leaf configs: nats-server --config F -t accepts them; leaf nodes authenticate with the hub's user and password", (t) => {
  if (!which("nats-server")) return t.skip("nats-server is not installed (.ci/run installs it)");
  const envs: Record<string, Record<string, string>> = {
    "hub.conf": { NATS_LEAF_PASSWORD: "test-password" },
    "leaf.conf": { NATS_SERVER_NAME: "tbg-nats-us", NATS_JS_DOMAIN: "us", NATS_HUB_LEAF_URL: "nats://relay:test-password@nats-hub:7422" },
  };
  for (const [file, env] of Object.entries(envs)) {
    const r = spawnSync("nats-server", ["--config", `${DEPLOY}nats/${file}`, "-t"], { encoding: "utf8", env: { ...process.env, ...env } });
    assert.equal(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /is valid/);
    // Without its environment a config must fail loudly, not start with an empty secret.
    const bare = spawnSync("nats-server", ["--config", `${DEPLOY}nats/${file}`, "-t"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    assert.notEqual(bare.status, 0, `${file} without its variables`);
  }
  const hub = read(`${DEPLOY}nats/hub.conf`);
  assert.match(hub, /jetstream\s*\{/);
  assert.match(hub, /leafnodes\s*\{[\s\S]*authorization\s*\{[\s\S]*password:\s*\$NATS_LEAF_PASSWORD/);
  assert.doesNotMatch(hub, /^\s*token:/m, "nats-server does not take a token for leaf node authorization");
});

test("bitcoind configs: signet; network-only keys inside [signet]; full = txindex, unpruned, rawtx too; pruned = prune ≥ 550 MiB, no txindex", () => {
  // Bitcoin Core reads these only from the chain's section when the chain is not mainnet (bitcoin.conf docs).
  const NETWORK_ONLY = ["addnode", "connect", "port", "bind", "rpcport", "rpcbind", "wallet"];
  const full = parseBitcoinConf(read(`${DEPLOY}bitcoind/bitcoin-full.conf`));
  const pruned = parseBitcoinConf(read(`${DEPLOY}bitcoind/bitcoin-pruned.conf`));
  for (const [name, c] of [["full", full], ["pruned", pruned]] as const) {
    const chain = c.top.get("chain")?.[0];
    assert.equal(chain, "signet", name);
    for (const k of NETWORK_ONLY) assert.ok(!c.top.has(k), `${name}: ${k} outside [signet] would be ignored`);
    const sec = c.sections.get("signet")!;
    assert.equal(sec.get("rpcport")?.[0], "38332", `${name}: signet's RPC port`);
    assert.equal(c.top.get("server")?.[0], "1");
    assert.match(c.top.get("zmqpubhashblock")![0], /^tcp:\/\/[\d.]+:\d+$/);
    assert.ok(c.top.has("rpcuser") && c.top.has("rpcpassword"));
  }
  assert.deepEqual([full.top.get("txindex")?.[0], full.top.get("prune")?.[0]], ["1", "0"]);
  assert.ok(full.top.has("zmqpubrawtx"));
  assert.ok(Number(pruned.top.get("prune")![0]) >= 550, "Bitcoin Core's minimum prune target is 550 MiB");
  assert.equal(pruned.top.get("txindex")?.[0], "0", "-prune is incompatible with -txindex");
  assert.equal(pruned.top.get("blocksonly")?.[0], "0", "keeps a mempool: independent-mode templates carry transactions");
});

test("systemd units: restart policy, hardening (no MemoryDenyWriteExecute: V8 needs W+X pages), tbg commands and paths that match the engine's config", async (t) => {
  const dir = `${DEPLOY}systemd/`;
  const units = readdirSync(dir).filter((f) => f.endsWith(".service")).sort();
  assert.deepEqual(units, ["tbg-collector.service", "tbg-monitor.service", "tbg-pool.service", "tbg-publisher.service"]);
  const commands = await cliCommands();
  const pool = parseConfig(JSON.parse(read(`${dir}pool.json`)), "pool.json", { hostname: "test", openFileLimit: 1_048_576 });
  const env = Object.fromEntries(read(`${dir}publisher.env`).split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")));
  for (const file of units) {
    const u = parseUnit(read(`${dir}${file}`));
    const svc = u.get("Service")!;
    const one = (k: string) => svc.get(k)?.[0];
    assert.equal(one("Restart"), "always", `${file}: Restart`);
    assert.ok(Number(one("RestartSec")) > 0);
    assert.equal(u.get("Unit")!.get("StartLimitIntervalSec")?.[0], "0", `${file}: never gives up restarting`);
    assert.equal(one("User"), "tbg");
    for (const [k, v] of [["NoNewPrivileges", "yes"], ["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"], ["PrivateDevices", "yes"], ["RestrictNamespaces", "yes"], ["CapabilityBoundingSet", ""]]) {
      assert.equal(one(k), v, `${file}: ${k}=${v}`);
    }
    assert.notEqual(one("MemoryDenyWriteExecute"), "yes", `${file}: Node.js cannot run with MemoryDenyWriteExecute`);
    assert.equal(one("KillSignal"), "SIGTERM");
    assert.ok(Number(one("TimeoutStopSec")) > 10, `${file}: longer than the commands' own 10 s shutdown bound`);
    assert.equal(u.get("Install")!.get("WantedBy")?.[0], "multi-user.target");
    const exec = one("ExecStart")!.split(/\s+/);
    assert.deepEqual(exec.slice(0, 2), ["/usr/bin/node", "/opt/tbg/bin/tbg"]);
    const [cmd, ...args] = exec.slice(2).map((a) => a.replace(/^\$\{(\w+)\}$/, (_m, v: string) => env[v] ?? `\${${v}}`));
    assert.ok(commands.includes(cmd), `${file}: tbg ${cmd}`);
    assert.equal(file, `tbg-${cmd}.service`);
    assert.deepEqual(unknownFlags(cmd, args), [], `${file}: flags`);
    if (cmd === "pool") {
      // The config it expects: data_dir under StateDirectory, the event socket under RuntimeDirectory, logs under LogsDirectory.
      assert.equal(pool.data_dir, `/var/lib/${one("StateDirectory")}`);
      assert.equal(dirname(pool.events.socket_path), `/run/${one("RuntimeDirectory")}`);
      assert.equal(pool.logdir, `/var/log/${one("LogsDirectory")}`);
      assert.equal(one("RuntimeDirectoryPreserve"), "yes", "the socket's directory survives the engine's restarts");
      assert.ok(Number(one("LimitNOFILE")) >= 65_536, "one descriptor per miner");
      assert.match(one("ExecReload")!, /-USR1/, "reload re-opens the log file");
    }
    if (cmd === "publisher") {
      assert.equal(flag(args, "--socket"), pool.events.socket_path, "the publisher binds the engine's socket");
      assert.equal(one("EnvironmentFile"), "/etc/tbg/publisher.env");
      assert.ok(args.every((a) => !a.includes("${")), "every variable set in publisher.env");
    }
    if (cmd === "collector") assert.ok(u.get("Unit")!.get("Before")?.[0].includes("tbg-pool.service"), "binds the socket before the engine starts");
  }
  // systemd's own check (unknown keys, bad values), where systemd-analyze exists.
  if (!which("systemd-analyze")) return t.skip("systemd-analyze is not installed");
  const r = spawnSync("systemd-analyze", ["verify", ...units.map((f) => `${dir}${f}`)], { encoding: "utf8" });
  const problems = (r.stdout + r.stderr).split("\n").filter((l) => l.includes(DEPLOY));
  assert.deepEqual(problems, [], "systemd-analyze verify");
});
