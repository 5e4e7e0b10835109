/**
 * Issue 8 item 3: miners that never read cannot make the server buffer without bound. 1,000 connections
 * (in a child process, so their memory is not ours) handshake, then stop reading while the pool keeps
 * sending them jobs. The kernel buffers fill, then each connection's send queue; every one of them is
 * dropped by `send_queue_full` (or `write_timeout`; send-queue.test.ts covers that one on its own),
 * the pool's memory growth stays below the cap (connections × send_queue_max_bytes) and far below what
 * was written, it returns once they are gone, and a normal miner is served after.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { RawClient } from "../support/stratum.ts";
import { startHardenedPool, stats, assertServesNormalMiner, USER } from "./helpers.ts";

const SOCKETS = 1000;
const SEND_QUEUE_MAX_BYTES = 65_536;
const MiB = 1024 * 1024;

/** A full GC, so "after" figures are live memory, not garbage waiting for collection. */
function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/**
 * python3 when present: its sockets get a real-network MSS and a small receive buffer (see
 * fixtures/non-readers.py), so the kernel holds ~tens of KB per socket instead of ~1.4 MB on loopback.
 * Without python3 the Node child works the same, at ~1.4 GB of kernel socket memory for 1,000.
 */
const PYTHON = spawnSync("python3", ["--version"]).status === 0;

/** Starts the child holding `count` non-reading connections; resolves once they all have work. */
async function nonReaders(port: number, count: number) {
  const args = [String(port), String(count), USER];
  const child = PYTHON
    ? spawn("python3", [new URL("./fixtures/non-readers.py", import.meta.url).pathname, ...args], { stdio: ["pipe", "pipe", "inherit"] })
    : spawn(process.execPath, [new URL("./fixtures/non-readers.mjs", import.meta.url).pathname, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  let last = { ready: 0, closed: 0, failed: 0 };
  createInterface({ input: child.stdout! }).on("line", (l) => (last = JSON.parse(l) as typeof last));
  const readyBy = Date.now() + 60_000;
  while (last.ready + last.failed < count && Date.now() < readyBy) await sleep(50);
  assert.equal(last.ready, count, `handshakes: ${JSON.stringify(last)}`);
  return {
    stop() {
      child.stdin!.end();
      child.kill();
    },
  };
}

test(`${SOCKETS} miners that stop reading are dropped (send_queue_full / write_timeout) and memory stays bounded`, async (t) => {
  // 3,000-transaction template: a 12-hash merkle branch makes each notify ~1.3 KB, filling buffers sooner.
  // All the sockets come from loopback: no per-address limit here (its default, 256, is tested in evasion.test.ts).
  const pool = await startHardenedPool({ stratum: { send_queue_max_bytes: SEND_QUEUE_MAX_BYTES, write_timeout_sec: 1, max_connections_per_ip: 0 } }, { txs: 3000 });
  let children: Array<{ stop(): void }> = [];
  try {
    children.push(await nonReaders(pool.port, SOCKETS));

    // A miner that does read, connected through the storm: it must keep getting work.
    const reader = await RawClient.connect(pool.port);
    await reader.handshake(USER);
    const notifyBytes = JSON.stringify({ id: null, method: "mining.notify", params: reader.notifications.find((n) => n.method === "mining.notify")!.params }).length + 1;

    const engine = pool.app.engine;
    collect();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    let written = 0;
    let rounds = 0;
    const deadline = Date.now() + 60_000;
    // New work as fast as the loop allows (each round is a fresh job id to every connection), bounded.
    const dropped = () => (stats(pool).disconnects.send_queue_full ?? 0) + (stats(pool).disconnects.write_timeout ?? 0);
    while (dropped() < SOCKETS && Date.now() < deadline && rounds < 20_000) {
      // A fresh job id on the same template to every connection (each round is new work to send).
      written += engine.pushFreshJob() * notifyBytes;
      rounds++;
      if (rounds % 5 === 0) {
        const m = process.memoryUsage();
        peakHeap = Math.max(peakHeap, m.heapUsed);
        peakRss = Math.max(peakRss, m.rss);
        await sleep(1);
      }
    }
    const d = stats(pool).disconnects;
    await sleep(50);
    collect();
    const after = process.memoryUsage();
    const figures = {
      child: PYTHON ? "python3 (MSS 1400)" : "node (loopback MSS)",
      rounds,
      droppedSendQueueFull: d.send_queue_full ?? 0,
      droppedWriteTimeout: d.write_timeout ?? 0,
      notifyBytes,
      heapBeforeMiB: +(before.heapUsed / MiB).toFixed(1),
      heapPeakGrowthMiB: +((peakHeap - before.heapUsed) / MiB).toFixed(1),
      heapAfterDropsGrowthMiB: +((after.heapUsed - before.heapUsed) / MiB).toFixed(1),
      rssBeforeMiB: +(before.rss / MiB).toFixed(1),
      rssPeakGrowthMiB: +((peakRss - before.rss) / MiB).toFixed(1),
      writtenMiB: +(written / MiB).toFixed(1),
      capMiB: +((SOCKETS * SEND_QUEUE_MAX_BYTES) / MiB).toFixed(1),
    };
    t.diagnostic(JSON.stringify(figures));
    assert.equal(dropped(), SOCKETS, `every non-reader dropped: ${JSON.stringify(figures)}`);
    // The cap: at most send_queue_max_bytes queued per connection (62.5 MiB for 1,000), plus slack for
    // the jobs and strings of the pump itself. Without the cap the queues would hold everything written.
    assert.ok(peakHeap - before.heapUsed < SOCKETS * SEND_QUEUE_MAX_BYTES + 64 * MiB, JSON.stringify(figures));
    assert.ok(peakRss - before.rss < 2 * SOCKETS * SEND_QUEUE_MAX_BYTES + 128 * MiB, JSON.stringify(figures));
    assert.ok(after.heapUsed - before.heapUsed < 32 * MiB, `memory returns once they are gone: ${JSON.stringify(figures)}`);
    const readerJobs = reader.notifies().length;
    assert.ok(readerJobs >= Math.min(rounds, 100), `the reading miner got ${readerJobs} of ${rounds} jobs`);
    assert.equal(reader.closed, false);
    reader.close();

    await assertServesNormalMiner(pool);
  } finally {
    for (const c of children) c.stop();
    children = [];
    await pool.close();
  }
});
