/**
 * Blocks assembled from getblocktemplate are judged by a real node (embedded bcoin regtest):
 * a good one becomes the tip; a corrupted one (bad merkle root, bad BIP34 height) is rejected and
 * reported as rejected, with the node's reason.
 */
import { test, before, after } from "node:test";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import assert from "node:assert/strict";
import { startEmbeddedNode, type EmbeddedNode } from "../../src/tools/regtest-node/embedded-node.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import { prepareTemplate } from "../../src/core/work/template.ts";
import { JobRegistry } from "../../src/core/work/jobs.ts";
import { buildCoinbase, payoutOutputs } from "../../src/core/bitcoin/coinbase.ts";
import { addressToOutputScript } from "../../src/core/bitcoin/address.ts";
import { sha256d, reverseBytes } from "../../src/core/bitcoin/hash.ts";
import { merkleRootFromBranch } from "../../src/core/bitcoin/merkle.ts";
import { buildHeader } from "../../src/core/bitcoin/header.ts";
import { hashMeetsTargetBuffer } from "../../src/core/bitcoin/difficulty.ts";
import { assembleBlockHex, BlockSubmitter, CANCELLED_SHUTDOWN, CANCELLED_STALE, DEFAULT_MAX_CONCURRENT_SUBMITS_PER_NODE, outcomeOf, SUBMIT_ATTEMPTS, submitToAll } from "../../src/core/work/block-submitter.ts";
import type { BlockCandidate } from "../../src/core/work/block-candidate.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";

let node: EmbeddedNode;
let rpc: RpcClient;
before(async () => {
  node = await startEmbeddedNode();
  rpc = new RpcClient({ url: node.rpcUrl, user: node.rpcUser, pass: node.rpcPass, name: "bcoin" });
});
after(async () => {
  rpc.close();
  await node.close();
});

/** Mines a block on the CPU from the node's current template; `corrupt` tampers with it before hashing. */
async function mineCandidate(corrupt?: { merkle?: boolean; height?: number }): Promise<BlockCandidate> {
  const gbt = await rpc.getBlockTemplate(["segwit"]);
  const template = prepareTemplate(gbt, { seq: 1, versionMask: 0x1fffe000, source: "bcoin", nowMs: Date.now() });
  const job = new JobRegistry().addTemplate(template, Date.now()).job;
  const outputs = payoutOutputs({ coinbaseValueSats: template.coinbaseValueSats, minerScript: addressToOutputScript(REGTEST_ADDRESSES.p2tr, "regtest") });
  const parts = buildCoinbase({
    height: corrupt?.height ?? template.height,
    signatureText: "/test/",
    extranonce1Size: 4,
    extranonce2Size: 8,
    outputs,
    witnessCommitmentScript: template.witnessCommitmentScript ?? undefined,
  });
  const coinbase = Buffer.concat([parts.coinb1, Buffer.alloc(12, 1), parts.coinb2]);
  let root = merkleRootFromBranch(sha256d(coinbase), template.merkleBranchLE as Buffer[]);
  if (corrupt?.merkle) root = Buffer.from(root).fill(0x42, 0, 4);
  for (let nonce = 0; nonce < 1000; nonce++) {
    const header = buildHeader({ version: template.version, prevhashLE: template.prevhashLE, merkleRootLE: root, ntime: job.ntime, nbits: template.nbits, nonce });
    const hashLE = sha256d(header);
    if (hashMeetsTargetBuffer(hashLE, template.networkTargetLE)) return { job, header, coinbase, hashLE, shareDifficulty: 0 };
  }
  throw new Error("no regtest nonce in 1000 tries");
}

test("a block assembled from getblocktemplate is accepted and becomes the tip", async () => {
  const h = node.height();
  const c = await mineCandidate();
  const hash = reverseBytes(c.hashLE).toString("hex");
  const [r] = await submitToAll([rpc], assembleBlockHex(c), hash);
  assert.equal(r.accepted, true, String(r.result));
  assert.equal(node.height(), h + 1);
  assert.equal(node.tipHash(), hash);
});

test("a block with a bad merkle root is rejected and reported as rejected", async () => {
  const h = node.height();
  const c = await mineCandidate({ merkle: true });
  const [r] = await submitToAll([rpc], assembleBlockHex(c), reverseBytes(c.hashLE).toString("hex"));
  assert.equal(r.accepted, false);
  assert.equal(r.result, "bad-txnmrklroot");
  assert.equal(node.height(), h);
});

test("a block whose coinbase has the wrong BIP34 height is rejected and reported as rejected", async () => {
  const h = node.height();
  const c = await mineCandidate({ height: h + 5 });
  const [r] = await submitToAll([rpc], assembleBlockHex(c), reverseBytes(c.hashLE).toString("hex"));
  assert.equal(r.accepted, false);
  assert.match(String(r.result), /height/i);
  assert.equal(node.height(), h);
});

test("every node gets the block: an unreachable one is reported, the others still accept", async () => {
  const dead = new RpcClient({ url: "127.0.0.1:1", name: "dead", timeoutMs: 500 });
  const c = await mineCandidate();
  const results = await submitToAll([dead, rpc], assembleBlockHex(c), reverseBytes(c.hashLE).toString("hex"));
  assert.equal(results.length, 2);
  assert.equal(results[0].node, "dead");
  assert.equal(results[0].accepted, false);
  assert.equal(results[1].accepted, true);
  dead.close();
});

test("a rejection from a node that does hold the block in its main chain (already built on) counts as accepted", async () => {
  const c = await mineCandidate();
  const hash = reverseBytes(c.hashLE).toString("hex");
  const [first] = await submitToAll([rpc], assembleBlockHex(c), hash);
  assert.equal(first.accepted, true);
  await node.mine(1); // someone builds on it: it is no longer the tip
  // A node that answers a misleading rejection (e.g. "inconclusive" after a timeout) for a block it has.
  const confused = { name: "confused", submitBlock: async () => "inconclusive", getBlockHeader: (h: string) => rpc.getBlockHeader(h) } as unknown as RpcClient;
  const [r] = await submitToAll([confused], assembleBlockHex(c), hash);
  assert.equal(r.result, "inconclusive");
  assert.equal(r.accepted, true, "getblockheader shows it in the main chain");
});

test("BlockSubmitter: at most 2 submissions in flight per node; the rest wait their turn and are all answered", async (t) => {
  // A JSON-RPC endpoint that holds every submitblock 50 ms and records how many it held at once.
  let inFlight = 0;
  let maxInFlight = 0;
  let submits = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      const reply = (result: unknown) => res.end(JSON.stringify({ result, error: null, id }));
      if (method !== "submitblock") return reply(null);
      submits++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        reply(null);
      }, 50);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const slow = new RpcClient({ url: `127.0.0.1:${(server.address() as AddressInfo).port}`, user: "u", pass: "p", name: "slow" });
  t.after(() => slow.close());
  const submitter = new BlockSubmitter({ nodes: [slow] });
  const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => submitter.submit("00", i.toString(16).padStart(64, "0"))));
  assert.equal(submits, 10);
  assert.equal(maxInFlight, DEFAULT_MAX_CONCURRENT_SUBMITS_PER_NODE);
  assert.ok(outcomes.every((o) => o.outcome === "accepted" && o.pending.length === 0));
});

test("outcomeOf: accepted by any node; otherwise inconclusive means a lost race; otherwise rejected", () => {
  const r = (accepted: boolean, result: string | null) => ({ node: "n", accepted, result, latencyMs: 1 });
  assert.equal(outcomeOf([r(false, "inconclusive"), r(true, null)]), "accepted");
  assert.equal(outcomeOf([r(false, "inconclusive"), r(false, "RPC_TIMEOUT")]), "lost_race");
  assert.equal(outcomeOf([r(false, "duplicate-inconclusive")]), "lost_race");
  assert.equal(outcomeOf([r(false, "bad-txnmrklroot"), r(false, "high-hash")]), "rejected");
});

/** A getblockheader answer with `confirmations` (-1: known, off the main chain). */
const header = (confirmations: number) => ({ hash: "55".repeat(32), confirmations, height: 1, version: 0x20000000, merkleroot: "66".repeat(32), time: 1, nonce: 1, bits: "207fffff" });

/** A scripted JSON-RPC node on loopback: `answer` decides each call (an HTTP status, or a JSON-RPC result). */
async function scriptedNode(t: { after(f: () => unknown): void }, answer: (method: string, n: number) => { status: number } | { result: unknown }) {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      calls.push(method);
      const a = answer(method, calls.filter((m) => m === method).length);
      if ("status" in a) {
        res.statusCode = a.status;
        return res.end("Work queue depth exceeded");
      }
      res.end(JSON.stringify({ result: a.result, error: null, id }));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const client = new RpcClient({ url: `127.0.0.1:${(server.address() as AddressInfo).port}`, user: "u", pass: "p", name: "scripted" });
  t.after(() => client.close());
  return { client, calls };
}

test("BlockSubmitter: a submitblock answered HTTP 503 is sent again (bounded) and the block counts as accepted", async (t) => {
  const { client, calls } = await scriptedNode(t, (method, n) => (method === "submitblock" && n === 1 ? { status: 503 } : { result: null }));
  const out = await new BlockSubmitter({ nodes: [client] }).submit("00", "11".repeat(32));
  assert.equal(out.outcome, "accepted");
  assert.deepEqual(calls, ["submitblock", "submitblock"]);
});

test("BlockSubmitter: transport failures are retried at most SUBMIT_ATTEMPTS times", async (t) => {
  const { client, calls } = await scriptedNode(t, (method) => (method === "submitblock" ? { status: 503 } : { result: header(-1) }));
  const out = await new BlockSubmitter({ nodes: [client] }).submit("00", "22".repeat(32));
  assert.equal(out.outcome, "rejected");
  assert.equal(calls.filter((m) => m === "submitblock").length, SUBMIT_ATTEMPTS);
});

test("BlockSubmitter: \"duplicate\" counts as accepted only if the block is in the node's main chain", async (t) => {
  const off = await scriptedNode(t, (method) => (method === "submitblock" ? { result: "duplicate" } : { result: header(-1) }));
  const o1 = await new BlockSubmitter({ nodes: [off.client] }).submit("00", "33".repeat(32));
  assert.equal(o1.outcome, "lost_race", "stored, not on the main chain");
  assert.deepEqual(off.calls, ["submitblock", "getblockheader"]);
  const on = await scriptedNode(t, (method) => (method === "submitblock" ? { result: "duplicate" } : { result: header(1) }));
  assert.equal((await new BlockSubmitter({ nodes: [on.client] }).submit("00", "44".repeat(32))).outcome, "accepted");
});

test("BlockSubmitter: a queued submission whose parent went stale, or still queued at shutdown, is not sent (counted)", async (t) => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      calls.push(method);
      void held.then(() => res.end(JSON.stringify({ result: null, error: null, id })));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const client = new RpcClient({ url: `127.0.0.1:${(server.address() as AddressInfo).port}`, user: "u", pass: "p", name: "held" });
  t.after(() => client.close());
  const submitter = new BlockSubmitter({ nodes: [client], maxConcurrentPerNode: 1 });
  const first = submitter.submit("00", "77".repeat(32));
  const stale = submitter.submit("00", "88".repeat(32), undefined, () => true);
  const queued = submitter.submit("00", "99".repeat(32));
  await waitFor(() => calls.length >= 1, "the first submitblock received");
  submitter.close();
  release();
  assert.equal((await first).outcome, "accepted", "the submission already sent finishes");
  const s = await stale;
  assert.deepEqual([s.outcome, s.results[0].result], ["rejected", CANCELLED_STALE]);
  const q = await queued;
  assert.deepEqual([q.outcome, q.results[0].result], ["rejected", CANCELLED_SHUTDOWN]);
  assert.deepEqual(calls, ["submitblock"], "only the first was sent");
  assert.deepEqual(submitter.cancelled, { stale: 1, shutdown: 1 });
});

