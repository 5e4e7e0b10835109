/**
 * The pools `bench/compare.ts` measures side by side: this engine (`tbg pool`), ckpool 0.9.9 and
 * public-pool, each built from an upstream source tarball into a cache directory outside the repository
 * (GPL code is never part of this project; it is only built and run for the comparison), each started as a
 * child process on a bench node given to it. Linux only.
 *
 * ckpool: `./autogen.sh && ./configure --without-ckdb CFLAGS="-O2 -fcommon" && make`, run in solo mode
 * (`-B`, usernames are payout addresses it checks with the node's validateaddress), integer difficulty 1,
 * ZMQ hashblock, its default log level. public-pool: `npm ci`, its sqlite3 binding built from source with
 * node-pre-gyp (npm may skip install scripts), `nest build`, configured by `.env`, ZMQ rawblock; it opens
 * its Stratum port 10 s after start.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { ROOT, freePort, procSample, startPoolProcess, type ProcSample } from "./support.ts";

/**
 * The pools compare knows, in the order of the table. `ours_before`: this engine from another checkout
 * (compare's `--baseline DIR`, e.g. a worktree of an earlier commit), for before/after in the same run.
 */
export const POOL_KINDS = ["ours", "ckpool", "public_pool", "ours_before"] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

/** The node a pool under comparison uses (a bench node). */
export interface RivalNode {
  host: string;
  rpcPort: number;
  user: string;
  pass: string;
  zmqPort: number;
}

/** A pool under comparison, running. */
export interface RunningPool {
  kind: PoolKind;
  pid: number;
  url: string;
  sample(): ProcSample;
  close(): Promise<void>;
}

/** Where a pool comes from: ours needs nothing; the others a built tree. */
export interface BuiltRival {
  kind: Exclude<PoolKind, "ours">;
  /** ckpool: the binary; public-pool: the built tree (dist/main.js inside); ours_before: the checkout. */
  path: string;
  /** True when the build was reused from the cache. */
  cached: boolean;
  /** ckpool: built with libzmq (else it must poll the node). */
  zmq?: boolean;
}

/** Default upstream tarballs: the vendored copies next to this repository's checkout, when present. */
export const DEFAULT_TARBALLS: Record<"ckpool" | "public_pool", string> = {
  ckpool: join(ROOT, "..", "shared", "vendor", "ckpool-0.9.9.tar.gz"),
  public_pool: join(ROOT, "..", "shared", "vendor", "public-pool-b971e9c.tar.gz"),
};

/** Default build cache: $XDG_CACHE_HOME/tbg-bench-compare (else ~/.cache/…); never inside the repository. */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tbg-bench-compare");
}

/**
 * An earlier checkout of this engine to run as `ours_before`: `dir` must hold bin/tbg and its node_modules
 * (e.g. `git worktree add DIR REF && (cd DIR && npm ci)`).
 */
export function baselineCheckout(dir: string): BuiltRival {
  if (!existsSync(join(dir, "bin", "tbg"))) throw new RivalUnavailable(`--baseline ${dir}: no bin/tbg there (give a checkout of this repository)`);
  if (!existsSync(join(dir, "node_modules"))) throw new RivalUnavailable(`--baseline ${dir}: no node_modules (run npm ci there)`);
  return { kind: "ours_before", path: dir, cached: true };
}

/** Why a rival cannot be built or run; the compare says so and goes on with the others. */
export class RivalUnavailable extends Error {}

function fileSha(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);
}

/** Runs a shell command in `cwd` with output appended to `logPath`; rejects with the log's tail. */
function sh(cmd: string, cwd: string, logPath: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logPath, "a");
    const child = spawn("/bin/sh", ["-c", cmd], { cwd, stdio: ["ignore", fd, fd], env });
    closeSync(fd);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = readFileSync(logPath, "utf8").split("\n").slice(-15).join("\n");
      reject(new RivalUnavailable(`\`${cmd}\` failed (${signal ? `killed ${signal} after ${timeoutMs / 1000} s` : `exit ${code}`}); log ${logPath}:\n${tail}`));
    });
  });
}

function hasCommand(name: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d && existsSync(join(d, name)));
}

/** Unpacks `tarball` into `dir` (its single top-level folder stripped). */
async function unpack(tarball: string, dir: string, log: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await sh(`tar xzf '${tarball}' -C '${dir}' --strip-components=1`, dir, log, 120_000);
}

/** Builds ckpool from its source tarball into the cache (skipped when built before); returns the binary. */
export async function buildCkpool(tarball: string, cacheDir: string, say: (s: string) => void): Promise<BuiltRival> {
  if (!existsSync(tarball)) throw new RivalUnavailable(`no ckpool source at ${tarball} (pass --ckpool-tarball PATH)`);
  const dir = join(cacheDir, `ckpool-${fileSha(tarball)}`);
  const bin = join(dir, "src", "ckpool");
  // Linked against libzmq: the import shows in the binary's dynamic symbol table.
  const linkedZmq = () => readFileSync(bin).includes(Buffer.from("zmq_socket"));
  if (existsSync(bin)) return { kind: "ckpool", path: bin, cached: true, zmq: linkedZmq() };
  const missing = ["autoconf", "automake", "libtoolize", "pkg-config", "yasm", "make", "gcc"].filter((c) => !hasCommand(c));
  if (missing.length) throw new RivalUnavailable(`cannot build ckpool: missing ${missing.join(", ")} (Debian: apt-get install autoconf automake libtool pkg-config yasm libzmq3-dev build-essential)`);
  await mkdir(cacheDir, { recursive: true });
  const log = join(cacheDir, `ckpool-${fileSha(tarball)}.build.log`);
  await writeFile(log, "");
  say(`building ckpool from ${tarball} in ${dir} (log ${log}) …`);
  await unpack(tarball, dir, log);
  await sh(`./autogen.sh && ./configure --without-ckdb CFLAGS="-O2 -fcommon" && make -j${availableParallelism()}`, dir, log, 15 * 60_000);
  if (!existsSync(bin)) throw new RivalUnavailable(`ckpool build produced no ${bin}; log ${log}`);
  const zmq = linkedZmq();
  if (!zmq) say("ckpool: built without libzmq (Debian: libzmq3-dev): it will poll getbestblockhash every 10 ms instead of ZMQ");
  return { kind: "ckpool", path: bin, cached: false, zmq };
}

/** Builds public-pool from its source tarball into the cache (skipped when built before); returns the tree. */
export async function buildPublicPool(tarball: string, cacheDir: string, say: (s: string) => void): Promise<BuiltRival> {
  if (!existsSync(tarball)) throw new RivalUnavailable(`no public-pool source at ${tarball} (pass --public-pool-tarball PATH)`);
  const dir = join(cacheDir, `public-pool-${fileSha(tarball)}`);
  const marker = join(dir, ".tbg-built");
  if (existsSync(marker)) return { kind: "public_pool", path: dir, cached: true };
  if (!hasCommand("npm") || !hasCommand("make") || !hasCommand("g++") || !hasCommand("python3")) {
    throw new RivalUnavailable("cannot build public-pool: npm, make, g++ and python3 are needed (its sqlite3 binding is built from source)");
  }
  await mkdir(cacheDir, { recursive: true });
  const log = join(cacheDir, `public-pool-${fileSha(tarball)}.build.log`);
  await writeFile(log, "");
  say(`building public-pool from ${tarball} in ${dir} (npm ci, sqlite3 from source, nest build; log ${log}) …`);
  const env = { ...process.env, npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" };
  // Resumable: `npm ci` alone can take over 10 minutes; a later step that failed does not redo it.
  const installed = join(dir, ".tbg-npm-ci");
  if (!existsSync(installed)) {
    await unpack(tarball, dir, log);
    await sh("npm ci", dir, log, 30 * 60_000, env);
    await writeFile(installed, new Date().toISOString());
  }
  // npm 11 skips install scripts it was not told to allow: build the sqlite3 binding from source and apply
  // the project's patch of its RPC client (both are install scripts). zeromq ships a linux-x64 prebuild.
  const sqliteLoads = () => sh(`"${process.execPath}" -e "require('sqlite3')"`, dir, log, 60_000).then(() => true, () => false);
  if (!(await sqliteLoads())) {
    // Builds one binding per N-API version it lists (lib/binding/napi-v*): a few minutes.
    await sh("npx --no-install node-pre-gyp rebuild --build-from-source", join(dir, "node_modules", "sqlite3"), log, 30 * 60_000, env);
    if (!(await sqliteLoads())) throw new RivalUnavailable(`public-pool: its sqlite3 binding does not load after building it; log ${log}`);
  }
  await sh("npx --no-install patch-package", dir, log, 120_000, env);
  await sh("npx --no-install nest build", dir, log, 10 * 60_000, env);
  if (!existsSync(join(dir, "dist", "main.js"))) throw new RivalUnavailable(`public-pool build produced no dist/main.js; log ${log}`);
  await writeFile(marker, new Date().toISOString());
  return { kind: "public_pool", path: dir, cached: false };
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** Starts a child with output to a file and waits until `ready()` (bounded); the pool's pid is the child's. */
async function startChild(kind: PoolKind, cmd: string, args: string[], cwd: string, port: number, timeoutMs: number, ready: (log: string) => boolean): Promise<RunningPool> {
  const logPath = join(cwd, `${kind}.log`);
  const fd = openSync(logPath, "a");
  const child = spawn(cmd, args, { cwd, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited: string | null = null;
  child.on("exit", (code, sig) => (exited = String(code ?? sig)));
  child.on("error", (err) => (exited = err.message));
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  const close = async () => {
    if (exited === null) {
      const done = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await done;
      clearTimeout(timer);
    }
    await rm(cwd, { recursive: true, force: true });
  };
  const deadline = performance.now() + timeoutMs;
  while (!((await canConnect(port)) && ready(readLog()))) {
    if (exited !== null || performance.now() > deadline) {
      const tail = readLog().slice(-1500);
      await close();
      throw new Error(`${kind} ${exited !== null ? `exited (${exited})` : `not ready within ${timeoutMs / 1000} s`}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return { kind, pid, url: `stratum+tcp://127.0.0.1:${port}`, sample: () => procSample(pid), close };
}

/** Starts one pool on `node`. Ours: `tbg pool -c CONFIG`, production defaults with bans off (see docs/benchmarks.md). */
export async function startRival(kind: PoolKind, built: BuiltRival | null, node: RivalNode, opts: { eventsReader?: boolean } = {}): Promise<RunningPool> {
  if (kind === "ours" || kind === "ours_before") {
    if (kind === "ours_before" && !built) throw new RivalUnavailable("ours_before needs --baseline DIR");
    const pool = await startPoolProcess({
      tbg: kind === "ours_before" ? join(built!.path, "bin", "tbg") : undefined,
      eventsReader: opts.eventsReader,
      node: { rpcUrl: `http://${node.host}:${node.rpcPort}`, user: node.user, pass: node.pass, zmqUrl: `tcp://${node.host}:${node.zmqPort}` },
      // The default blockpoll (100 ms; polled at most every 50 ms anyway): new blocks come by ZMQ, as
      // ckpool's do (with notify it checks getbestblockhash only every 5 s).
      stratum: { message_rate_per_sec: 1_000_000, message_burst: 1_000_000 },
      config: { vardiff: { retarget_interval_sec: 3600, target_share_interval_sec: 600 } },
    });
    return { kind, pid: pool.pid, url: pool.url, sample: () => pool.sample(), close: () => pool.close() };
  }
  if (!built) throw new RivalUnavailable(`${kind} is not built`);
  const port = await freePort();
  if (kind === "ckpool") {
    const dir = await mkdtemp(join(tmpdir(), "tbg-compare-ckpool-"));
    const conf = {
      // With ZMQ, notify: true (no polling); a build without libzmq polls getbestblockhash every 10 ms.
      btcd: [{ url: `${node.host}:${node.rpcPort}`, auth: node.user, pass: node.pass, notify: built.zmq !== false }],
      zmqblock: `tcp://${node.host}:${node.zmqPort}`,
      blockpoll: 10,
      serverurl: [`127.0.0.1:${port}`],
      // Integer difficulty ≥ 1; "highdiff" is what ports above 4000 start at (default 1,000,000).
      mindiff: 1,
      startdiff: 1,
      highdiff: 1,
      logdir: join(dir, "logs"),
    };
    await writeFile(join(dir, "ckpool.json"), JSON.stringify(conf, null, 2));
    // -B solo (usernames are payout addresses), -q no console status line, -s its own socket directory.
    return startChild(kind, built.path, ["-B", "-q", "-c", join(dir, "ckpool.json"), "-s", join(dir, "sock")], dir, port, 60_000, (log) => log.includes("Mining solo"));
  }
  const dir = await mkdtemp(join(tmpdir(), "tbg-compare-public-pool-"));
  await mkdir(join(dir, "DB"));
  const apiPort = await freePort();
  const env = [
    `BITCOIN_RPC_URL=http://${node.host}`,
    `BITCOIN_RPC_PORT=${node.rpcPort}`,
    `BITCOIN_RPC_USER=${node.user}`,
    `BITCOIN_RPC_PASSWORD=${node.pass}`,
    "BITCOIN_RPC_TIMEOUT=10000",
    `BITCOIN_ZMQ_HOST=tcp://${node.host}:${node.zmqPort}`,
    `API_PORT=${apiPort}`,
    `STRATUM_PORT=${port}`,
    "NETWORK=mainnet",
    "API_SECURE=false",
    'POOL_IDENTIFIER="Public-Pool"',
  ];
  await writeFile(join(dir, ".env"), env.join("\n") + "\n");
  // Its Stratum server listens 10 s after start (a fixed timer); the template must have arrived by then.
  return startChild(kind, process.execPath, [join(built.path, "dist", "main.js")], dir, port, 90_000, () => true);
}
