/**
 * Send queue limits on a StratumServer with the engine's session parts (test/hardening/fuzz/session-host.ts)
 * and real sockets that stop reading:
 * - the write timeout: a queue that never empties is dropped after writeTimeoutSec, even far under the
 *   per-connection cap and below the stream's high-water mark (where write() never reports backpressure);
 * - the server-wide cap: per-connection caps alone bound memory to maxclients × cap, so past
 *   `sendQueueTotalMaxBytes` the most backlogged connections are dropped (send_queue_full).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { StratumServer, type StratumServerOptions } from "../../src/core/stratum/server.ts";
import { createFuzzHost } from "./fuzz/session-host.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";

async function nonReader(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: "127.0.0.1" });
  await once(s, "connect");
  s.on("error", () => {});
  s.write(JSON.stringify({ id: 1, method: "mining.subscribe", params: [] }) + "\n" + JSON.stringify({ id: 2, method: "mining.authorize", params: [REGTEST_ADDRESSES.p2wpkh, "x"] }) + "\n");
  let buf = "";
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (!buf.includes("mining.notify")) return;
      s.off("data", onData);
      s.pause();
      resolve();
    };
    s.on("data", onData);
  });
  return s;
}

function serverWith(fh: ReturnType<typeof createFuzzHost>, over: Partial<StratumServerOptions>, closed: string[]): StratumServer {
  fh.host.now = Date.now; // the server's timers run on the wall clock
  return new StratumServer(
    fh.host,
    { listen: [{ host: "127.0.0.1", port: 0 }], maxClients: 0, maxConnectionsPerIp: 0, maxLineBytes: 4096, authTimeoutSec: 60, messageRatePerSec: 0, sendQueueMaxBytes: 16 * 1024 * 1024, writeTimeoutSec: 600, tickMs: 100, ...over },
    { onSessionClosed: (_s, reason) => void closed.push(reason) },
  );
}

test("a send queue that never empties is dropped by write_timeout, however small it is", async () => {
  const fh = createFuzzHost();
  const closed: string[] = [];
  const server = serverWith(fh, { writeTimeoutSec: 1 }, closed);
  await server.start();
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) sockets.push(await nonReader(server.bound[0].port));
    const reader = net.connect({ port: server.bound[0].port, host: "127.0.0.1" });
    reader.on("data", () => {}); // reads everything: must survive
    reader.write(JSON.stringify({ id: 1, method: "mining.subscribe", params: [] }) + "\n" + JSON.stringify({ id: 2, method: "mining.authorize", params: [REGTEST_ADDRESSES.p2tr, "x"] }) + "\n");
    sockets.push(reader);
    // Work at a steady pace, far below the 16 MiB cap, until the four non-readers are gone (bounded).
    const until = Date.now() + 30_000;
    while (closed.length < 4 && Date.now() < until) {
      for (let k = 0; k < 20; k++) server.broadcast(fh.jobs.refreshJob(Date.now())!);
      await sleep(5);
    }
    assert.deepEqual(closed, ["write_timeout", "write_timeout", "write_timeout", "write_timeout"]);
    assert.equal(server.connectionCount, 1, "the reading miner stays");
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
  }
});

test("past sendQueueTotalMaxBytes the most backlogged connections are dropped until the total fits", async () => {
  const fh = createFuzzHost();
  const closed: string[] = [];
  const CAP = 256 * 1024;
  const server = serverWith(fh, { sendQueueTotalMaxBytes: CAP }, closed);
  await server.start();
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 8; i++) sockets.push(await nonReader(server.bound[0].port));
    // Fill until the total is just over the cap, then stop: the next tick must bring it back under.
    for (let round = 0; round < 50_000 && server.queuedBytes <= CAP; round++) {
      server.broadcast(fh.jobs.refreshJob(Date.now())!);
      if (round % 20 === 0) await sleep(1);
    }
    const peak = server.queuedBytes;
    assert.ok(peak > CAP, `peak ${peak}: the cap was crossed (else this test proves nothing)`);
    await waitFor(() => closed.length > 0, "a send_queue_full drop");
    assert.ok(closed.every((r) => r === "send_queue_full"), closed.join());
    assert.ok(server.queuedBytes <= CAP, `queued ${server.queuedBytes} after the drops`);
    assert.ok(server.connectionCount < 8 && server.connectionCount > 0, `${server.connectionCount} left: only the most backlogged go`);
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
  }
});
