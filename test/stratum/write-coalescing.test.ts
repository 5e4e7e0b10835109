/**
 * The replies to one socket read leave in one write (src/core/stratum/server.ts): pipelined requests
 * cost one syscall, not one per reply; and an error that closes the connection still reaches the miner.
 * Counted in-process: the pool's socket writes (net.Socket#write on sockets whose local port is the
 * pool's) against its reads (LineDecoder#push, one per 'data' event).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startBenchPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { MAINNET_ADDRESSES } from "../support/addresses.ts";
import { LineDecoder } from "../../src/core/stratum/framing.ts";

const USER = `${MAINNET_ADDRESSES.p2wpkh}.rig1`;

test("pipelined requests in one read get their replies in one write", async () => {
  const pool = await startBenchPool();
  const origWrite = net.Socket.prototype.write;
  const origPush = LineDecoder.prototype.push;
  let writes = 0;
  let reads = 0;
  net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<net.Socket["write"]>) {
    if (this.localPort === pool.port) writes++;
    return origWrite.apply(this, args);
  } as net.Socket["write"];
  LineDecoder.prototype.push = function (this: LineDecoder, chunk: Buffer) {
    reads++;
    return origPush.call(this, chunk);
  };
  try {
    const c = await RawClient.connect(pool.port);
    // One client write: the handshake and three more requests, 5 replies plus set_difficulty and a job.
    const lines = [
      { id: 1, method: "mining.subscribe", params: ["test/1.0"] },
      { id: 2, method: "mining.authorize", params: [USER, "x"] },
      { id: 3, method: "mining.extranonce.subscribe", params: [] },
      { id: 4, method: "mining.nonsense", params: [] },
      { id: 5, method: "mining.extranonce.subscribe", params: [] },
    ];
    c.writeRaw(lines.map((l) => JSON.stringify(l) + "\n").join(""));
    await c.until(() => c.replies.size >= 5 && c.notifies().length >= 1, 5000, "five replies and a job");
    assert.deepEqual([...c.replies.keys()].sort(), [1, 2, 3, 4, 5]);
    assert.ok(reads >= 1);
    // Without gathering this is one write per message (7 here) whatever the number of reads.
    assert.ok(writes <= reads, `${writes} writes for ${reads} reads`);
    c.close();
  } finally {
    net.Socket.prototype.write = origWrite;
    LineDecoder.prototype.push = origPush;
    await pool.close();
  }
});

test("an over-long line's error reply is written before the connection closes, with the replies before it", async () => {
  const pool = await startBenchPool({ overrides: { stratum: { max_line_bytes: 512 } } });
  try {
    const c = await RawClient.connect(pool.port);
    c.writeRaw(JSON.stringify({ id: 1, method: "mining.subscribe", params: [] }) + "\n" + "x".repeat(2000) + "\n");
    await c.until(() => c.closed, 5000, "the server to close");
    assert.ok(c.replies.get(1), "the subscribe reply arrived");
    assert.ok(c.log.some((m) => "error" in m && Array.isArray(m.error) && /exceeds/.test(String(m.error[1]))), JSON.stringify(c.log));
  } finally {
    await pool.close();
  }
});
