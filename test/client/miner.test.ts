import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { sha256d } from "../../src/core/bitcoin/hash.ts";
import { merkleRootFromBranch } from "../../src/core/bitcoin/merkle.ts";
import { buildHeader, prevhashToStratum, prevhashDisplayToLE } from "../../src/core/bitcoin/header.ts";
import { difficultyToTarget, hashMeetsTarget } from "../../src/core/bitcoin/difficulty.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
import { FakePool, FAKE_EN1, type FakeConn } from "./fake-pool.ts";

const PREV = "000000000000000000025a4e7b3c1b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
const COINB1 = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1703a08601";
const COINB2 = "ffffffff0100f2052a01000000160014000102030405060708090a0b0c0d0e0f1011121300000000";
const BRANCH = ["11".repeat(32), "22".repeat(32)];

function notify(jobId: string, nbits: string, clean: boolean, prev = PREV): unknown {
  return { id: null, method: "mining.notify", params: [jobId, prevhashToStratum(prev), COINB1, COINB2, BRANCH, "20000000", nbits, "65f0a000", clean] };
}

/** Recomputes a submitted share's hash from scratch (independent of src/tools/stratum-client/work.ts). */
function hashOfSubmit(params: string[], mask: number, prev = PREV, nbits = "1d00ffff"): Buffer {
  const [, , en2, ntime, nonce, vbits] = params;
  const coinbase = Buffer.from(COINB1 + FAKE_EN1 + en2 + COINB2, "hex");
  const root = merkleRootFromBranch(sha256d(coinbase), BRANCH.map((b) => Buffer.from(b, "hex")));
  const version = ((0x20000000 & ~mask) | (vbits ? parseInt(vbits, 16) & mask : 0)) >>> 0;
  return sha256d(buildHeader({ version, prevhashLE: prevhashDisplayToLE(prev), merkleRootLE: root, ntime: parseInt(ntime, 16), nbits: parseInt(nbits, 16), nonce: parseInt(nonce, 16) }));
}

function pool(difficulty: number, nbits: string) {
  return FakePool.start((req, conn: FakeConn) => {
    if (req.method !== "mining.authorize") return false;
    conn.reply(req.id, true);
    conn.send({ id: null, method: "mining.set_difficulty", params: [difficulty] });
    conn.send(notify("j1", nbits, true));
    return true;
  }, 4);
}

for (const threads of [0, 1]) {
  test(`miner (threads=${threads}) finds shares at a tiny difficulty and submits hashes that verify independently`, async () => {
    const p = await pool(1e-6, "1d00ffff");
    const m = await startMiner({ url: `stratum+tcp://127.0.0.1:${p.port}`, user: "bcrt1qtest.w1", threads, profile: "bitaxe", suggestDifficulty: 0.001 });
    const [share] = await once(m, "share");
    assert.equal(share.accepted, true);
    const stats = await m.close();
    assert.ok(stats.accepted >= 1 && stats.hashes > 0, JSON.stringify(stats));
    assert.equal(stats.blocksFound, 0);
    const submits = p.requests.filter((r) => r.method === "mining.submit");
    assert.ok(submits.length >= 1);
    for (const s of submits) {
      const params = s.params as string[];
      assert.equal(params[0], "bcrt1qtest.w1");
      assert.equal(params[1], "j1");
      assert.equal(params[2].length, 8); // en2 size 4
      assert.equal(params.length, 6); // bitaxe negotiated 1fffe000
      assert.equal(parseInt(params[5], 16) & ~0x1fffe000, 0);
      assert.ok(hashMeetsTarget(hashOfSubmit(params, 0x1fffe000), difficultyToTarget(1e-6)), `share ${params.join(",")}`);
    }
    await p.close();
  });
}

test("miner stops after --max-blocks when shares meet a regtest network target", async () => {
  const p = await pool(1, "207fffff");
  const m = await startMiner({ url: `stratum+tcp://127.0.0.1:${p.port}`, user: "bcrt1qtest", threads: 0, maxBlocks: 1 });
  const blockP = once(m, "block");
  const stats = await m.done;
  const [block] = await blockP;
  assert.equal(stats.stopReason, "max-blocks");
  assert.equal(stats.blocksFound, 1);
  assert.equal(block.isBlock, true);
  const submits = p.requests.filter((r) => r.method === "mining.submit");
  assert.equal(submits.length, 1, "one block, then pause");
  assert.equal((submits[0].params as string[]).length, 5); // cpuminer profile: no version rolling
  await p.close();
});

test("a clean_jobs notify switches work at once; later submits carry the new job", async () => {
  const p = await pool(1e-6, "1d00ffff");
  const m = await startMiner({ url: `stratum+tcp://127.0.0.1:${p.port}`, user: "a", threads: 1 });
  await m.waitFor((s) => s.accepted >= 2, 10_000);
  const newPrev = "00000000000000000001" + "ab".repeat(22);
  p.broadcast(notify("j2", "1d00ffff", true, newPrev));
  await once(m, "job");
  const before = p.requests.length;
  await p.waitFor(() => p.requests.slice(before).filter((r) => r.method === "mining.submit").length >= 3);
  const after = p.requests.slice(before).filter((r) => r.method === "mining.submit");
  // at most the shares already in flight on the wire may still name j1
  assert.ok(after.slice(-2).every((r) => (r.params as string[])[1] === "j2"));
  for (const r of after.filter((r) => (r.params as string[])[1] === "j2")) {
    assert.ok(hashMeetsTarget(hashOfSubmit(r.params as string[], 0, newPrev), difficultyToTarget(1e-6)));
  }
  await m.close();
  await p.close();
});

test("miner reconnects after the pool drops it and after client.reconnect", async () => {
  const p = await pool(1e-6, "1d00ffff");
  const m = await startMiner({ url: `stratum+tcp://127.0.0.1:${p.port}`, user: "a", threads: 0, reconnectDelayMs: 20 });
  await once(m, "connected");
  p.conns[0].socket.destroy();
  await once(m, "disconnected");
  await once(m, "connected");
  p.conns[1].send({ id: null, method: "client.reconnect", params: [] });
  await once(m, "disconnected");
  await once(m, "connected");
  await m.waitFor((s) => s.accepted >= 1, 10_000);
  const stats = await m.close();
  assert.equal(stats.connects, 3);
  assert.equal(stats.disconnects, 2);
  assert.equal(p.conns.length, 3);
  await p.close();
});
