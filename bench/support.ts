/**
 * Shared pieces of the benchmark scripts in bench/: flags, process CPU and RSS from /proc, the pool as a
 * child process (`tbg pool -c CONFIG`, exactly what an operator runs), tables and the one JSON line each
 * script prints last. Linux only (/proc). Loopback only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { address as baddress } from "bitcoinjs-lib";
import { createHash } from "node:crypto";

/** Repository root (bench/..). */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The CLI entry. */
export const TBG = join(ROOT, "bin", "tbg");

/** A mainnet P2WPKH address (BIP173 test vector): the bench node reports chain "main". */
export const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

/** `n` distinct, deterministic mainnet P2WPKH addresses (solo pool: every user has a coinbase of its own). */
export function mainnetAddresses(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(baddress.toBech32(createHash("sha256").update(`bench-user-${i}`).digest().subarray(0, 20), 0, "bc"));
  return out;
}

/** True when `metaUrl` is the script node was started with (run as a program, not imported). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl;
}

/** node:util parseArgs with string flags only; unknown flags are an error. */
export function flags<const K extends string>(argv: string[], names: readonly K[], booleans: readonly string[] = []): Partial<Record<K, string>> & { json?: boolean } {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const n of names) options[n] = { type: "string" };
  for (const b of booleans) options[b] = { type: "boolean" };
  options.json = { type: "boolean" };
  return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Partial<Record<K, string>> & { json?: boolean };
}

/** Parses a list flag such as `--txs 0,3000`. */
export function numList(v: string | undefined, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  const out = v.split(",").map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isFinite(n) || n < 0)) throw new Error(`not a list of numbers: ${v}`);
  return out;
}

export function num(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative number: ${v}`);
  return n;
}

// ---- /proc

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream Linux. */
const CLK_TCK = 100;

/** CPU time (user + system) and resident set size of a process, from /proc. */
export interface ProcSample {
  /** performance.now() when sampled. */
  atMs: number;
  cpuMs: number;
  rssKiB: number;
}

/** One process's own CPU time (user + system, ms) and RSS (KiB), or null when it has gone. */
function processSample(pid: number): { cpuMs: number; rssKiB: number; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces): state is field 3, ppid 4, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK, rssKiB: m ? Number(m[1]) : 0, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** `pid` and every live process below it (a pool's worker processes, helpers it spawned). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = processSample(Number(name));
    if (!s) continue;
    const list = parents.get(s.ppid) ?? [];
    list.push(Number(name));
    parents.set(s.ppid, list);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]) ?? []));
  return out;
}

/**
 * CPU and RSS of a pool: the process `pid` plus every live process below it, so a pool that runs worker
 * processes is measured whole (ckpool's threads are in its one process). CPU of a child that already
 * exited is not counted.
 */
export function procSample(pid: number): ProcSample {
  let cpuMs = 0;
  let rssKiB = 0;
  for (const p of processTree(pid)) {
    const s = processSample(p);
    if (!s) continue;
    cpuMs += s.cpuMs;
    rssKiB += s.rssKiB;
  }
  return { atMs: performance.now(), cpuMs, rssKiB };
}

/** CPU use between two samples, percent of one core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  return b.atMs > a.atMs ? (100 * (b.cpuMs - a.cpuMs)) / (b.atMs - a.atMs) : 0;
}

/** The soft and hard open-file limits of this process (`ulimit -n`). */
export function fdLimits(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line ?? "").split(/\s{2,}/).slice(1, 3).map((s) => (s === "unlimited" ? Infinity : Number(s)));
  return { soft: soft || 1024, hard: hard || 1024 };
}

/**
 * The largest connection count both ends can hold: each side needs one fd per connection plus a margin
 * (the pool child inherits this process's limit). Returns `wanted` when it fits.
 */
export function connectionsThatFit(wanted: number, marginFds = 200): number {
  return Math.max(1, Math.min(wanted, fdLimits().soft - marginFds));
}

// ---- ports

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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

// ---- the pool as a child process

/** The node a pool child uses (a bench node started in this process, or `tbg bench-node` elsewhere). */
export interface NodeEndpoint {
  rpcUrl: string;
  user: string;
  pass: string;
  zmqUrl?: string;
}

export interface PoolProcessOptions {
  node: NodeEndpoint;
  /** Subscribe to the node's ZMQ hashblock (btcd[].zmqnotify). Default true when the node has one. */
  zmq?: boolean;
  /** `blockpoll`, ms (config minimum 10). */
  blockpollMs?: number;
  /** `stratum` block overrides. */
  stratum?: Record<string, unknown>;
  /** Other top-level config keys. */
  config?: Record<string, unknown>;
  /** Log level (default info, what production runs). */
  logLevel?: string;
  /** Deadline for the pool to come up. */
  startTimeoutMs?: number;
  /** Extra node flags for the child, e.g. ["--cpu-prof", "--cpu-prof-dir=DIR"] to profile the pool. */
  nodeArgs?: string[];
  /** Read the pool's events socket as a collector would (a reader in this process); default false: unread. */
  eventsReader?: boolean;
  /** The `tbg` entry to run (default this checkout's bin/tbg; compare's `--baseline` runs another checkout's). */
  tbg?: string;
}

/** A running `tbg pool` child. */
export interface PoolProcess {
  pid: number;
  port: number;
  url: string;
  configPath: string;
  logPath: string;
  child: ChildProcess;
  sample(): ProcSample;
  /** Parsed JSON log lines so far (pino). */
  logLines(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Starts `node bin/tbg pool -c CONFIG` on a free port against `node`. Its stdout/stderr go to a file (a pipe
 * that this busy process drained late would block the pool's synchronous stdout writes and distort figures).
 */
export async function startPoolProcess(opts: PoolProcessOptions): Promise<PoolProcess> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-bench-pool-"));
  const port = await freePort();
  const u = new URL(opts.node.rpcUrl);
  const zmq = (opts.zmq ?? true) && opts.node.zmqUrl;
  const config = {
    btcd: [{ url: `${u.hostname}:${u.port}`, auth: opts.node.user, pass: opts.node.pass, ...(zmq ? { zmqnotify: opts.node.zmqUrl } : {}) }],
    serverurl: [`127.0.0.1:${port}`],
    blockpoll: opts.blockpollMs ?? 100,
    data_dir: join(dir, "data"),
    // Events on, as in production. Nobody reads the socket unless `eventsReader`: the sink then queues
    // (bounded) and drops the oldest, counted; with a reader it sends every event as to a collector.
    events: { enabled: true, socket_path: join(dir, "events.sock") },
    health: { enabled: false },
    log: { level: opts.logLevel ?? "info" },
    stratum: { max_connections_per_ip: 0, ...opts.stratum },
    // The load generator is one IP sending shares that all fail (invalid mode): bans would end the run.
    bans: { enabled: false },
    ...opts.config,
  };
  const configPath = join(dir, "pool.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const reader = opts.eventsReader ? await drainEvents(join(dir, "events.sock")) : null;
  const logPath = join(dir, "pool.log");
  const fd = openSync(logPath, "a");
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.tbg ?? TBG, "pool", "-c", configPath], { stdio: ["ignore", fd, fd], cwd: dir });
  closeSync(fd);
  let exited: number | string | null = null;
  child.on("exit", (code, sig) => (exited = code ?? sig ?? "exit"));
  const readLog = () => {
    try {
      return readFileSync(logPath, "utf8");
    } catch {
      return "";
    }
  };
  const deadline = performance.now() + (opts.startTimeoutMs ?? 60_000);
  while (!(await canConnect(port))) {
    if (exited !== null) throw new Error(`tbg pool exited (${exited}) before listening:\n${readLog().slice(-2000)}`);
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`tbg pool did not listen within the deadline:\n${readLog().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid!;
  return {
    pid,
    port,
    url: `stratum+tcp://127.0.0.1:${port}`,
    configPath,
    logPath,
    child,
    sample: () => procSample(pid),
    logLines: () =>
      readLog()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    async close() {
      if (exited === null) {
        const done = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await done;
        clearTimeout(timer);
      }
      reader?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A datagram reader on the pool's events socket that only counts what arrives: the pool's sink sends as it
 * does to a collector, instead of queueing for a reader that never comes (which keeps up to `queue_max`
 * events alive and churns the pool's old generation, a cost no deployment has).
 */
async function drainEvents(path: string): Promise<{ received(): number; close(): void }> {
  const { DgramSocket } = await import("node-unix-socket");
  const sock = new DgramSocket();
  let n = 0;
  // One event a datagram, or several, one per line (events.batch_max_bytes).
  sock.on("data", (buf: Buffer) => {
    for (let at = buf.indexOf(0x0a); at !== -1; at = buf.indexOf(0x0a, at + 1)) n++;
    if (buf.length > 0) n++;
  });
  sock.on("error", () => undefined);
  sock.bind(path);
  return { received: () => n, close: () => sock.close() };
}

// ---- output

/** A fixed-width text table. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: Array<string | number>) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** Numbers with a sensible number of digits for a table. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  const a = Math.abs(n);
  return a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : a >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Prints the title and table, then the result as one JSON line (always last). */
export function report(name: string, title: string, text: string, result: Record<string, unknown>): void {
  console.log(`\n== ${name}: ${title}\n${text}`);
  console.log(JSON.stringify({ bench: name, ...result }));
}

/** Machine facts printed with every result. */
export function machine(): Record<string, unknown> {
  // Load average at the start: other work on the machine shows up in every figure.
  return { node: process.version, cpus: availableCpus(), platform: `${process.platform}-${process.arch}`, fdLimit: fdLimits().soft, loadavg1: round(loadavg()[0], 2) };
}

function availableCpus(): number {
  try {
    return readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((l) => l.startsWith("processor")).length;
  } catch {
    return 0;
  }
}

/** Runs a script's main: errors print and exit 1; the process exits when done (open handles never keep a bench alive). */
export function runMain(main: (argv: string[]) => Promise<unknown>): void {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}

// ---- the pool under test: ours (started here) or another one (--url)

/** Flags every socket benchmark takes to measure a pool it did not start. */
export const TARGET_FLAGS = ["url", "node-rpc", "pool-pid"] as const;

/** The pool a socket benchmark drives. */
export interface Target {
  /** Ours: `tbg pool` started by the benchmark. External: `--url`. */
  kind: "ours" | "external";
  host: string;
  port: number;
  url: string;
  /** Makes the node announce a new block (external: the `bench_newblock` RPC of a `tbg bench-node`). */
  newBlock(): Promise<void>;
  /** Transactions in the node's template (external: asked of the node with --node-rpc; null without it). */
  templateTxs: number | null;
  /** The bench node's `bench_stats` (RPC calls by method, ZMQ subscriptions); null when unknown. */
  nodeStats(): Promise<BenchNodeStats | null>;
  /** CPU and RSS of the pool process; null when its pid is unknown (external without --pool-pid). */
  sample(): ProcSample | null;
  /** Our pool's JSON log lines; [] for an external pool. */
  logLines(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** What `bench_stats` of a bench node answers (the parts the benchmarks read). */
export interface BenchNodeStats {
  height: number;
  templateTxs: number;
  zmqSubscriptions: { hashblock: number; rawblock: number };
  calls: Record<string, number>;
}

/** One JSON-RPC call to a node given as `http://USER:PASS@HOST:PORT`. */
export async function nodeRpc<T>(rpcUrl: string, method: string, params: unknown[] = []): Promise<T> {
  const rpc = new URL(rpcUrl);
  const auth = Buffer.from(`${decodeURIComponent(rpc.username)}:${decodeURIComponent(rpc.password)}`).toString("base64");
  const res = await fetch(`${rpc.protocol}//${rpc.host}/`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Basic ${auth}` },
    body: JSON.stringify({ jsonrpc: "1.0", id: 1, method, params }),
  });
  const body = (await res.json().catch(() => null)) as { result: T; error: { message: string } | null } | null;
  if (!res.ok || !body || body.error) throw new Error(`${method} on ${rpc.host}: HTTP ${res.status}${body?.error ? ` ${body.error.message}` : ""}`);
  return body.result;
}

/**
 * How a pool learned of new blocks, as far as the node can tell (for a pool that does not log it): the ZMQ
 * topics it subscribed to, else polling.
 */
export function blockSourceFromNode(s: BenchNodeStats): string {
  if (s.zmqSubscriptions.hashblock > 0) return "zmq hashblock (subscribed)";
  if (s.zmqSubscriptions.rawblock > 0) return "zmq rawblock (subscribed)";
  return "poll (no ZMQ subscription)";
}

/** Options for {@link openTarget}: how to start ours. */
export interface OwnPoolOptions extends Omit<PoolProcessOptions, "node"> {
  txs: 0 | 3000;
}

/**
 * `--url stratum+tcp://HOST:PORT [--node-rpc http://USER:PASS@HOST:PORT] [--pool-pid PID]` selects another
 * pool (its node should be a `tbg bench-node`; --node-rpc is needed to make blocks, --pool-pid for CPU/RSS).
 * Without --url, starts a bench node here and `tbg pool` as a child on it.
 */
export async function openTarget(f: Partial<Record<(typeof TARGET_FLAGS)[number], string>>, own: OwnPoolOptions): Promise<Target> {
  if (f.url) {
    const u = new URL(f.url.replace(/^stratum\+tcp:/, "http:"));
    const pid = f["pool-pid"] ? Number(f["pool-pid"]) : null;
    const rpc = f["node-rpc"];
    const stats = async () => (rpc ? await nodeRpc<BenchNodeStats>(rpc, "bench_stats").catch(() => null) : null);
    return {
      kind: "external",
      host: u.hostname,
      port: Number(u.port),
      url: f.url,
      templateTxs: (await stats())?.templateTxs ?? null,
      nodeStats: stats,
      async newBlock() {
        if (!rpc) throw new Error("--node-rpc http://USER:PASS@HOST:PORT (a tbg bench-node) is needed to make blocks");
        await nodeRpc(rpc, "bench_newblock");
      },
      sample: () => (pid ? procSample(pid) : null),
      logLines: () => [],
      close: async () => undefined,
    };
  }
  const { startBenchNode } = await import("../src/tools/bench-node/bench-node.ts");
  const node = await startBenchNode({ txs: own.txs });
  let pool: PoolProcess;
  try {
    pool = await startPoolProcess({ ...own, node: { rpcUrl: node.rpcUrl, user: node.user, pass: node.pass, zmqUrl: node.zmqUrl } });
  } catch (err) {
    await node.close();
    throw err;
  }
  return {
    kind: "ours",
    host: "127.0.0.1",
    port: pool.port,
    url: pool.url,
    newBlock: async () => void (await node.newBlock()),
    templateTxs: own.txs,
    nodeStats: async () => ({ height: node.chain.height, templateTxs: own.txs, zmqSubscriptions: { hashblock: node.hashblockSubscribers(), rawblock: node.rawblockSubscribers() }, calls: { ...node.chain.calls } }),
    sample: () => pool.sample(),
    logLines: () => pool.logLines(),
    async close() {
      await pool.close();
      await node.close();
    },
  };
}
