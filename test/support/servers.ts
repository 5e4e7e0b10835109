/**
 * Real servers for integration tests ("tests against real servers that are stopped and
 * restarted mid-test"). Each helper starts a private instance on a free 127.0.0.1 port with its data in
 * a fresh temp dir, never the machine's shared services on 5432/6379/4222.
 *
 * - `startPostgres()`: Debian's PostgreSQL binaries (/usr/lib/postgresql/<v>/bin). initdb refuses to run
 *   as root, so under root the binaries run as the `postgres` user (spawn `uid`/`gid`) on a temp dir
 *   chowned to it. Trust auth, unix socket in the temp dir. fsync is off: committed data survives a
 *   process crash (it is in the OS page cache), just not a machine crash. `timescaledb: true` preloads
 *   TimescaleDB (installed by scripts/build-timescaledb.sh); `timescaledbSkip()` is the skip reason
 *   for tests that need it when it is not installed.
 * - `startRedis()`: `redis-server --save "" --appendonly no` (no persistence unless `persist: true`).
 * - `startNats()`: `nats-server -js` with its JetStream store in the temp dir (kept across restarts).
 *
 * Readiness is the server's own "ready" log line, awaited with a bounded deadline (no sleeps).
 * Cleanup: `close()` in a test's `after`; a process `exit` hook kills whatever is left; and a detached
 * watchdog shell per server kills it and removes its dir if the test process dies without running hooks
 * (SIGKILL, test-runner timeout).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, readdirSync, chownSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** A running (or stopped) test server. */
export interface TestServer {
  /** Connection URL (postgres://…, redis://…, nats://…). Stable across restarts. */
  readonly url: string;
  /** TCP port on 127.0.0.1. Stable across restarts. */
  readonly port: number;
  /** Temp dir holding the server's data; removed by `close()`. */
  readonly dir: string;
  /** True between a successful start and the next stop. */
  readonly running: boolean;
  /**
   * Stops the server and waits for its process to exit. `kill: true` sends SIGKILL (a crash);
   * otherwise the server's fast shutdown signal, escalating to SIGKILL after `timeoutMs` (default 10 s).
   */
  stop(opts?: { kill?: boolean; timeoutMs?: number }): Promise<void>;
  /** Starts it again on the same port with the same data dir (stops it first if it is running). */
  restart(): Promise<void>;
  /** Stops the server (SIGKILL fallback) and removes its temp dir. Idempotent. */
  close(): Promise<void>;
}

/** Options common to every server. */
export interface StartOptions {
  /** How long to wait for the server's "ready" line, ms. Default 30 000. */
  readyTimeoutMs?: number;
}

const live = new Set<ManagedServer>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL what is left and remove the dirs.
  process.on("exit", () => {
    for (const s of live) s.killSync();
  });
}

/** A free TCP port on 127.0.0.1 (bound then released; servers set SO_REUSEADDR). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

interface ProcessSpec {
  command: string;
  args: string[];
  /** Log line that means "accepting connections". */
  ready: RegExp;
  /** Signal for a fast, clean shutdown. */
  stopSignal: NodeJS.Signals;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
}

class ManagedServer implements TestServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private watchdog: ChildProcess | undefined;
  private closed = false;
  private readonly spec: () => ProcessSpec;
  private readonly readyTimeoutMs: number;
  private readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly dir: string;

  constructor(name: string, dir: string, port: number, url: string, spec: () => ProcessSpec, readyTimeoutMs: number) {
    this.name = name;
    this.dir = dir;
    this.port = port;
    this.url = url;
    this.spec = spec;
    this.readyTimeoutMs = readyTimeoutMs;
    installExitHooks();
    live.add(this);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error(`${this.name}: closed`);
    if (this.child) return;
    const spec = this.spec();
    const child = spawn(spec.command, spec.args, {
      stdio: ["ignore", "pipe", "pipe"],
      uid: spec.uid,
      gid: spec.gid,
      env: spec.env ?? process.env,
      cwd: this.dir,
      // Own process group: a crash-stop kills the server's helpers (PostgreSQL backends) with it.
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    if (child.pid) writeFileSync(join(this.dir, "server.pid"), String(child.pid));
    let log = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${this.name} not ready after ${this.readyTimeoutMs} ms:\n${log.slice(-4000)}`)), this.readyTimeoutMs);
        const onData = (buf: Buffer) => {
          log += buf.toString();
          if (spec.ready.test(log)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${this.name} exited during start (code ${code}, signal ${signal}):\n${log.slice(-4000)}`));
        });
      });
    } catch (err) {
      await this.stop({ kill: true });
      throw err;
    }
    // Keep draining the pipes so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    this.ensureWatchdog();
  }

  async stop(opts: { kill?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const child = this.child;
    if (!child) return;
    const spec = this.spec();
    if (opts.kill) killGroup(child, "SIGKILL");
    else child.kill(spec.stopSignal);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(child, "SIGKILL");
      await this.exited;
    }
    this.child = undefined;
    // Wait for the rest of the group (e.g. PostgreSQL backends) so a restart finds the port and
    // shared memory free.
    const deadline = Date.now() + 5_000;
    while (groupAlive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop({ timeoutMs: 5_000 });
    this.closed = true;
    live.delete(this);
    this.watchdog?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort for the process 'exit' hook. */
  killSync(): void {
    if (this.child) killGroup(this.child, "SIGKILL");
    try {
      this.watchdog?.kill("SIGKILL");
    } catch {
      /* already gone */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * A detached shell that outlives us only to clean up: once our pid is gone it SIGKILLs the pid in
   * server.pid and removes the dir. Polling once a second is its whole job, bounded by our lifetime.
   */
  private ensureWatchdog(): void {
    if (this.watchdog) return;
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
      `if [ -f "$1/server.pid" ]; then kill -9 "-$(cat "$1/server.pid")" 2>/dev/null; fi; sleep 1; rm -rf "$1"`;
    const wd = spawn("sh", ["-c", script, "tbg-test-watchdog", this.dir], { detached: true, stdio: "ignore" });
    wd.unref();
    this.watchdog = wd;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* group already gone */
  }
}

function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mkTemp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts the server, retrying once on a port taken between `freePort()` and bind. */
async function startManaged(make: (port: number) => ManagedServer): Promise<ManagedServer> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const srv = make(await freePort());
    try {
      await srv.start();
      return srv;
    } catch (err) {
      lastErr = err;
      await srv.close();
      if (!/address already in use|EADDRINUSE|bind/i.test(String(err))) break;
    }
  }
  throw lastErr;
}

// ---------------------------------------------------------------- PostgreSQL

/** A PostgreSQL test server; `url` points at database `database` as superuser `postgres`. */
export interface PostgresServer extends TestServer {
  readonly database: string;
  /** Directory of the server's unix socket (the temp dir). */
  readonly socketDir: string;
}

function pgBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
  return join(root, versions[0], "bin");
}

/** uid/gid to run PostgreSQL as: ourselves, or `postgres` when we are root (initdb refuses root). */
function pgIdentity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

class PostgresManaged extends ManagedServer implements PostgresServer {
  readonly database: string;
  readonly socketDir: string;
  constructor(dir: string, port: number, database: string, spec: () => ProcessSpec, readyTimeoutMs: number) {
    super("postgres", dir, port, `postgres://postgres@127.0.0.1:${port}/${database}`, spec, readyTimeoutMs);
    this.database = database;
    this.socketDir = dir;
  }
}

/** What {@link timescaledbStatus} found. */
export type TimescaledbStatus = { installed: true; version: string } | { installed: false; reason: string };

/** The script that builds and installs TimescaleDB from the vendored tarball. */
export const TIMESCALEDB_BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/build-timescaledb.sh", import.meta.url));

/**
 * The TimescaleDB source the build script uses: its pinned version and the tarball beside the
 * repository (`<repo>/../shared/vendor/timescaledb-<version>.tar.gz`, or TBG_TIMESCALEDB_TARBALL).
 */
export function vendoredTimescaledb(): { version: string; tarball: string; present: boolean } {
  const version = /^version=(\S+)$/m.exec(readFileSync(TIMESCALEDB_BUILD_SCRIPT, "utf8"))?.[1] ?? "?";
  const tarball = process.env.TBG_TIMESCALEDB_TARBALL ??
    fileURLToPath(new URL(`../../../shared/vendor/timescaledb-${version}.tar.gz`, import.meta.url));
  return { version, tarball, present: existsSync(tarball) };
}

/**
 * Whether TimescaleDB is installed for the PostgreSQL whose binaries are in `bin` (default: the one
 * the tests start): its control file in `pg_config --sharedir`/extension and the library it names in
 * `pg_config --pkglibdir`. The reason says what is missing and how to get it.
 */
export function timescaledbStatus(bin?: string): TimescaledbStatus {
  try {
    bin ??= pgBinDir();
  } catch (err) {
    return { installed: false, reason: (err as Error).message };
  }
  const pgConfig = (flag: string) => execFileSync(join(bin, "pg_config"), [flag]).toString().trim();
  let sharedir: string, pkglibdir: string;
  try {
    [sharedir, pkglibdir] = [pgConfig("--sharedir"), pgConfig("--pkglibdir")];
  } catch (err) {
    return { installed: false, reason: `${join(bin, "pg_config")} failed: ${(err as Error).message}` };
  }
  const vendored = vendoredTimescaledb();
  const hint = vendored.present
    ? `run scripts/build-timescaledb.sh as root (builds ${vendored.tarball})`
    : `the vendored source ${vendored.tarball} is absent, so scripts/build-timescaledb.sh has nothing to build`;
  const control = join(sharedir, "extension", "timescaledb.control");
  if (!existsSync(control)) return { installed: false, reason: `TimescaleDB is not installed (no ${control}); ${hint}` };
  const version = /^default_version\s*=\s*'([^']+)'/m.exec(readFileSync(control, "utf8"))?.[1];
  if (!version) return { installed: false, reason: `${control} names no default_version; ${hint}` };
  const lib = join(pkglibdir, `timescaledb-${version}.so`);
  if (!existsSync(lib)) return { installed: false, reason: `TimescaleDB ${version} is incomplete (no ${lib}); ${hint}` };
  return { installed: true, version };
}

/**
 * The node:test `skip` option for tests that need TimescaleDB: the reason when it is not installed,
 * else false. With TBG_REQUIRE_TIMESCALEDB=1 (.ci/run sets it when the vendored tarball exists) a
 * missing TimescaleDB is not a skip: the tests run and fail, so CI cannot silently lose them.
 */
export function timescaledbSkip(status: TimescaledbStatus = timescaledbStatus()): string | false {
  if (status.installed || process.env.TBG_REQUIRE_TIMESCALEDB === "1") return false;
  return status.reason;
}

/** Options of {@link startPostgres}. */
export interface PostgresStartOptions extends StartOptions {
  /** Database to create. Default `tbg_test`. */
  database?: string;
  /**
   * Start with `shared_preload_libraries=timescaledb` and `timescaledb.telemetry_level=off`. The job
   * scheduler is off (`timescaledb.max_background_workers=0`): policies exist but run only when a
   * test calls `run_job`, so a retention or compression run never lands in the middle of a test.
   * Throws with the reason when TimescaleDB is not installed.
   */
  timescaledb?: boolean;
}

/** Starts a private PostgreSQL cluster and creates database `database` (default `tbg_test`). */
export async function startPostgres(opts: PostgresStartOptions = {}): Promise<PostgresServer> {
  if (opts.timescaledb) {
    const st = timescaledbStatus();
    if (!st.installed) throw new Error(`startPostgres({ timescaledb: true }): ${st.reason}`);
  }
  const bin = pgBinDir();
  const id = pgIdentity();
  const database = opts.database ?? "tbg_test";
  const dir = mkTemp("tbg-pg-");
  if (id.uid !== undefined) chownSync(dir, id.uid, id.gid!);
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  execFileSync(join(bin, "initdb"), ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], {
    uid: id.uid, gid: id.gid, env, cwd: dir, stdio: ["ignore", "ignore", "pipe"],
  });
  const extra = opts.timescaledb
    ? ["shared_preload_libraries=timescaledb", "timescaledb.telemetry_level=off", "timescaledb.max_background_workers=0"]
    : [];
  const srv = (await startManagedPg(dir, database, bin, id, env, opts.readyTimeoutMs ?? 30_000, extra)) as PostgresManaged;
  const { default: pg } = await import("pg");
  const client = new pg.Client({ host: "127.0.0.1", port: srv.port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
  return srv;
}

async function startManagedPg(dir: string, database: string, bin: string, id: { uid?: number; gid?: number }, env: NodeJS.ProcessEnv, readyTimeoutMs: number, settings: string[]): Promise<ManagedServer> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const srv = new PostgresManaged(dir, port, database, () => ({
      command: join(bin, "postgres"),
      args: ["-D", join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
        "-c", "fsync=off", "-c", "full_page_writes=off",
        "-c", "max_connections=50", "-c", "shared_buffers=32MB", "-c", "logging_collector=off",
        ...settings.flatMap((kv) => ["-c", kv])],
      ready: /database system is ready to accept connections/,
      stopSignal: "SIGINT", // PostgreSQL "fast" shutdown: abort sessions, checkpoint, exit
      uid: id.uid, gid: id.gid, env,
    }), readyTimeoutMs);
    try {
      await srv.start();
      return srv;
    } catch (err) {
      lastErr = err;
      await srv.stop({ kill: true });
      live.delete(srv);
      if (!/could not bind|already in use/i.test(String(err))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}

// ---------------------------------------------------------------- Redis

/** Starts a private redis-server. `persist: true` turns on the AOF so `restart()` keeps the data. */
export async function startRedis(opts: StartOptions & { persist?: boolean } = {}): Promise<TestServer> {
  return await startManaged((port) => {
    const dir = mkTemp("tbg-redis-");
    return new ManagedServer("redis", dir, port, `redis://127.0.0.1:${port}`, () => ({
      command: "redis-server",
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", opts.persist ? "yes" : "no",
        "--dir", dir, "--daemonize", "no", "--loglevel", "notice"],
      ready: /Ready to accept connections/,
      stopSignal: "SIGTERM",
    }), opts.readyTimeoutMs ?? 30_000);
  });
}

// ---------------------------------------------------------------- NATS

/**
 * Starts a private nats-server with JetStream; its store dir survives `restart()`. `auth` makes it
 * require a token (`--auth`) or a user and password (`--user`/`--pass`); `url` carries no credentials.
 */
export async function startNats(opts: StartOptions & { auth?: { token: string } | { user: string; pass: string } } = {}): Promise<TestServer> {
  const a = opts.auth;
  const authArgs = !a ? [] : "token" in a ? ["--auth", a.token] : ["--user", a.user, "--pass", a.pass];
  return await startManaged((port) => {
    const dir = mkTemp("tbg-nats-");
    return new ManagedServer("nats", dir, port, `nats://127.0.0.1:${port}`, () => ({
      command: "nats-server",
      args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", join(dir, "js"), "-n", `tbg-test-${port}`, ...authArgs],
      ready: /Server is ready/,
      stopSignal: "SIGTERM",
    }), opts.readyTimeoutMs ?? 30_000);
  });
}

/** Who runs the tests (for messages). */
export function currentUser(): string {
  return userInfo().username;
}
