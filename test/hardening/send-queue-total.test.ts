/**
 * The server-wide send queue cap: per-connection caps alone bound memory to maxclients × cap, so past
 * `sendQueueTotalMaxBytes` the most backlogged connections are dropped (send_queue_full). Driven on a
 * StratumServer with the engine's session parts (test/hardening/fuzz/session-host.ts), real sockets.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { StratumServer } from "../../src/stratum/server.ts";
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

test("past sendQueueTotalMaxBytes the most backlogged connections are dropped until the total fits", async () => {
  const fh = createFuzzHost();
  fh.host.now = Date.now; // the server's timers run on the wall clock
  const closed: string[] = [];
  const CAP = 256 * 1024;
  const server = new StratumServer(
    fh.host,
    { listen: [{ host: "127.0.0.1", port: 0 }], maxClients: 0, maxConnectionsPerIp: 0, maxLineBytes: 4096, authTimeoutSec: 60, messageRatePerSec: 0, sendQueueMaxBytes: 16 * 1024 * 1024, writeTimeoutSec: 600, sendQueueTotalMaxBytes: CAP, tickMs: 100 },
    { onSessionClosed: (_s, reason) => void closed.push(reason) },
  );
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
