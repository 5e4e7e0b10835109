/**
 * Smoke test of `npm run bench -- compare --quick` as a user runs it (`tbg bench-suite compare`): every
 * measure once against this engine (each script driving it through --url, --node-rpc and --pool-pid, as it
 * drives ckpool), and, when ckpool's source tarball is next to this checkout and the build tools are
 * installed, ckpool built into a temporary cache and measured too. Tiny loads: the figures are not checked,
 * only that every one is there and the last line is the compare's JSON.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_TARBALLS, defaultCacheDir } from "../../bench/rivals.ts";

const TBG = fileURLToPath(new URL("../../bin/tbg", import.meta.url));

interface CompareLine {
  bench: string;
  rows: Array<{ measure: string; ours: number | null; ckpool: number | null; ratio: number | null; runs: Record<string, number> }>;
  pools: Record<string, string>;
  failures: string[];
  loadavg: { start: number };
}

async function compare(args: string[], timeoutMs: number): Promise<{ line: CompareLine; out: string }> {
  const child = spawn(process.execPath, [TBG, "bench-suite", "compare", "--quick", "--runs", "1", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 0, `compare exited ${code}: ${err.slice(-3000)}`);
  const last = out.trim().split("\n").pop() ?? "";
  return { line: JSON.parse(last) as CompareLine, out };
}

test("compare --quick against ours alone: every measure measured, the table, and the JSON last line", { timeout: 280_000 }, async () => {
  const { line, out } = await compare(["--pools", "ours"], 270_000);
  assert.equal(line.bench, "compare");
  assert.deepEqual(line.failures, []);
  for (const m of ["share_cpu_us_0tx", "share_cpu_us_3000tx", "fanout_last_p50_ms_10k", "rtt_p99_ms_1k_over_10k", "rss_idle_mib", "rss_per_conn_kib"]) {
    const row = line.rows.find((r) => r.measure === m);
    assert.ok(row, `row ${m}`);
    // Measured: a number. A per-connection RSS delta over 300 connections can come out below zero when the
    // pool's heap shrinks during the ramp (seen on a loaded machine: -3.95 KiB); the others are positive.
    if (m === "rss_per_conn_kib") assert.ok(typeof row.ours === "number" && Number.isFinite(row.ours), `${m}: ours ${row.ours}`);
    else assert.ok(typeof row.ours === "number" && row.ours > 0, `${m}: ours ${row.ours}`);
    assert.equal(row.runs.ours, 1);
    assert.equal(row.ckpool, null);
    assert.equal(row.ratio, null);
  }
  assert.match(out, /load average \(1 min\): [\d.]+ at start/);
  assert.match(out, /share_cpu_us_0tx\s+µs\/share/);
});

const ckpoolTools = ["autoconf", "automake", "libtoolize", "yasm", "pkg-config"].every((c) => (process.env.PATH ?? "").split(":").some((d) => existsSync(join(d, c))));
const ckpoolSkip = !existsSync(DEFAULT_TARBALLS.ckpool)
  ? `no ckpool source tarball at ${DEFAULT_TARBALLS.ckpool}`
  : !ckpoolTools
    ? "ckpool's build tools are not installed (autoconf automake libtool pkg-config yasm libzmq3-dev)"
    : false;

test("compare --quick builds ckpool from its tarball (or reuses the cache) and measures it with ZMQ hashblock", { skip: ckpoolSkip, timeout: 280_000 }, async () => {
  // The user's compare cache when there is one (a ckpool build there is reused: a minute saved); else a temporary one.
  const temp = await mkdtemp(join(tmpdir(), "tbg-compare-cache-"));
  const cacheDir = existsSync(defaultCacheDir()) ? defaultCacheDir() : temp;
  try {
    const { line } = await compare(["--pools", "ckpool", "--measures", "share,fanout", "--cache-dir", cacheDir], 270_000);
    assert.deepEqual(line.failures, []);
    assert.match(line.pools.ckpool, /^(built|cached): /);
    for (const m of ["share_cpu_us_0tx", "share_cpu_us_3000tx", "fanout_last_p50_ms_10k"]) {
      const row = line.rows.find((r) => r.measure === m);
      assert.ok(row && typeof row.ckpool === "number" && row.ckpool > 0, `${m}: ${JSON.stringify(row)}`);
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
});

test("a pool that cannot be built is reported with the reason and left out; the JSON still comes last", { timeout: 60_000 }, async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), "tbg-compare-cache-"));
  try {
    // public-pool left out on purpose too: only the unbuildable ckpool is asked for, so nothing runs.
    const { line, out } = await compare(["--pools", "ckpool", "--measures", "share", "--ckpool-tarball", join(cacheDir, "no-such-ckpool.tar.gz"), "--cache-dir", cacheDir], 50_000);
    assert.match(line.pools.ckpool, /^unavailable: no ckpool source at .*no-such-ckpool\.tar\.gz/);
    assert.match(out, /ckpool: unavailable: no ckpool source/);
    const row = line.rows.find((r) => r.measure === "share_cpu_us_0tx");
    assert.ok(row);
    assert.equal(row.ckpool, null);
    assert.equal(row.runs.ckpool, 0);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
