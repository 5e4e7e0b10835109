import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { startBenchNode } from "../../src/tools/bench-node/bench-node.ts";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import net from "node:net";
import { createHash } from "node:crypto";

const sha256d = (b: Buffer): Buffer => createHash("sha256").update(createHash("sha256").update(b).digest()).digest();

/** A ckpool-like solo coinbase (height 900,000, "ckpool" tag): 3.125 BTC to the BIP173 P2WPKH vector, plus a witness commitment. */
const COINBASE_HEX =
  "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0b03a0bb0d0a636b706f6f6cffffffff02205fa01200000000160014751e76e8199196d454941c45d1b3a323f1433bd60000000000000000266a24aa21a9ed000000000000000000000000000000000000000000000000000000000000000000000000";
/** Its txid, computed independently (no witness: txid = reversed sha256d of the whole serialisation). */
const COINBASE_TXID = Buffer.from(sha256d(Buffer.from(COINBASE_HEX, "hex"))).reverse().toString("hex");

test("answers getblocktemplate with 0 and 3000 transactions through the pool's RPC client", async () => {
  for (const txs of [0, 3000] as const) {
    const node = await startBenchNode({ txs });
    const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
    try {
      const info = await rpc.getBlockchainInfo();
      assert.equal(info.chain, "main");
      const t = await rpc.getBlockTemplate(["segwit"]);
      assert.equal(t.transactions.length, txs);
      assert.equal(t.previousblockhash, await rpc.getBestBlockHash());
      assert.equal(t.height, info.blocks + 1);
      assert.ok(Math.abs(t.curtime - Date.now() / 1000) < 5);
      const header = await rpc.getBlockHeader(t.previousblockhash);
      assert.equal(header.height, info.blocks);
      assert.equal(await rpc.getBlockHash(info.blocks), t.previousblockhash);
      assert.equal(await rpc.submitBlock("00"), "rejected");
      assert.equal(node.chain.submittedCount, 1);
      const v = await rpc.validateAddress("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
      assert.equal(v.isvalid, true);
      assert.equal(v.scriptPubKey, "0014751e76e8199196d454941c45d1b3a323f1433bd6");
      assert.equal((await rpc.validateAddress("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")).isvalid, false);
      await assert.rejects(rpc.call("getblocktemplate", [{ rules: [] }]), (e: { message: string }) => /segwit rule/.test(e.message));
      await assert.rejects(rpc.call("nosuchmethod"));
    } finally {
      rpc.close();
      await node.close();
    }
  }
});

test("wrong credentials get HTTP 401", async () => {
  const node = await startBenchNode({ txs: 0, user: "u", pass: "p" });
  const res = await fetch(node.rpcUrl, { method: "POST", body: '{"method":"getbestblockhash","params":[],"id":1}', headers: { authorization: "Basic " + Buffer.from("u:wrong").toString("base64") } });
  assert.equal(res.status, 401);
  await node.close();
});

test("newBlock advances the tip and a real zeromq Subscriber gets hashblock in Bitcoin Core's 3-frame format", async () => {
  const node = await startBenchNode({ txs: 0 });
  const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
  const sub = new zmq.Subscriber({ linger: 0 });
  try {
    sub.connect(node.zmqUrl);
    sub.subscribe("hashblock");
    await node.waitForSubscribers(1, 5000);
    const before = await rpc.getBlockchainInfo();
    const h1 = await node.newBlock();
    const [topic, body, seq] = await sub.receive();
    assert.equal(topic.toString(), "hashblock");
    assert.equal(body.length, 32);
    assert.equal(body.toString("hex"), h1); // display order, like Core
    assert.equal(seq.readUInt32LE(0), 0);
    assert.equal(await rpc.getBestBlockHash(), h1);
    const t = await rpc.getBlockTemplate(["segwit"]);
    assert.equal(t.previousblockhash, h1);
    assert.equal(t.height, before.blocks + 2);
    // the RPC trigger works too, and the sequence counts up
    const h2 = await rpc.call<string>("bench_newblock");
    const [, body2, seq2] = await sub.receive();
    assert.equal(body2.toString("hex"), h2);
    assert.equal(seq2.readUInt32LE(0), 1);
    assert.notEqual(h1, h2);
    const header = await rpc.getBlockHeader(h2);
    assert.equal(header.previousblockhash, h1);
  } finally {
    sub.close();
    rpc.close();
    await node.close();
  }
});

test("a long-poll getblocktemplate returns when the tip changes", async () => {
  const node = await startBenchNode({ txs: 0, longpollTimeoutMs: 10_000 });
  const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
  try {
    const t = await rpc.call<{ longpollid: string; previousblockhash: string }>("getblocktemplate", [{ rules: ["segwit"] }]);
    const poll = rpc.call<{ previousblockhash: string }>("getblocktemplate", [{ rules: ["segwit"], longpollid: t.longpollid }]);
    const h = await node.newBlock();
    const t2 = await poll;
    assert.equal(t2.previousblockhash, h);
    assert.notEqual(t2.previousblockhash, t.previousblockhash);
  } finally {
    rpc.close();
    await node.close();
  }
});

/** Sends one HTTP request exactly as ckpool writes it (header lines end in a bare \n) and returns the raw answer. */
async function ckpoolStyleRequest(port: number, auth: string, body: string): Promise<string> {
  const req = `POST / HTTP/1.1\nAuthorization: Basic ${auth}\nHost: 127.0.0.1:${port}\nContent-type: application/json\nContent-Length: ${body.length}\n\n${body}`;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.write(req));
    let out = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      out += d;
      // The body is one JSON line (ckpool reads lines until one starts with "{").
      if (/\r?\n\r?\n\{.*\n/s.test(out)) {
        sock.destroy();
        resolve(out);
      }
    });
    sock.on("error", reject);
    sock.on("close", () => resolve(out));
    sock.setTimeout(10_000, () => sock.destroy(new Error("no answer within 10 s")));
  });
}

test("answers ckpool's HTTP requests, whose header lines end in a bare \\n (raw socket)", async () => {
  const node = await startBenchNode({ txs: 0 });
  const auth = Buffer.from(`${node.user}:${node.pass}`).toString("base64");
  try {
    for (const [body, check] of [
      ['{"method": "getblockcount"}\n', (r: { result: unknown }) => assert.equal(r.result, node.chain.height)],
      ['{"method": "validateaddress", "params": ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]}\n', (r: { result: { isvalid: boolean; iswitness: boolean; isscript: boolean } }) => assert.deepEqual([r.result.isvalid, r.result.iswitness, r.result.isscript], [true, true, false])],
      [`{"method": "decoderawtransaction", "params": ["${COINBASE_HEX}"]}`, (r: { result: { txid: string } }) => assert.equal(r.result.txid, COINBASE_TXID)],
    ] as const) {
      const raw = await ckpoolStyleRequest(node.rpcPort, auth, body);
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/, raw.slice(0, 200));
      const line = raw.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line, "one JSON line in the body");
      const reply = JSON.parse(line) as { result: never; error: unknown };
      assert.equal(reply.error, null);
      check(reply);
    }
  } finally {
    await node.close();
  }
});

/** Posts one JSON-RPC body and returns the HTTP status and the parsed reply. */
async function post(node: { rpcUrl: string; user: string; pass: string }, body: unknown): Promise<{ status: number; reply: { result: unknown; error: { code: number; message: string } | null } }> {
  const res = await fetch(node.rpcUrl, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", authorization: "Basic " + Buffer.from(`${node.user}:${node.pass}`).toString("base64") } });
  return { status: res.status, reply: (await res.json()) as never };
}

test("JSON-RPC named params (public-pool's client) map onto Core's argument names; an unknown name is -8", async () => {
  const node = await startBenchNode({ txs: 3000 });
  try {
    const gbt = await post(node, { jsonrpc: "1.0", id: 1, method: "getblocktemplate", params: { template_request: { rules: ["segwit"], mode: "template", capabilities: ["serverlist", "proposal"] } } });
    assert.equal(gbt.status, 200);
    assert.equal((gbt.reply.result as { transactions: unknown[] }).transactions.length, 3000);
    const info = await post(node, { jsonrpc: "1.0", id: 2, method: "getmininginfo", params: {} });
    assert.equal((info.reply.result as { blocks: number }).blocks, node.chain.height);
    assert.equal((await post(node, { id: 3, method: "submitblock", params: { hexdata: "00" } })).reply.result, "rejected");
    assert.equal(node.chain.submittedCount, 1);
    const hash = await post(node, { id: 4, method: "getblockhash", params: { height: node.chain.height } });
    assert.equal(hash.reply.result, node.chain.bestBlockHash);
    const v = await post(node, { id: 5, method: "validateaddress", params: { address: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" } });
    assert.equal((v.reply.result as { isvalid: boolean }).isvalid, true);
    const bad = await post(node, { id: 6, method: "getblockhash", params: { blockheight: 1 } });
    assert.equal(bad.status, 500);
    assert.deepEqual(bad.reply.error, { code: -8, message: "Unknown named parameter blockheight" });
    const rpcinfo = await post(node, { jsonrpc: "1.0", id: 7, method: "getrpcinfo", params: {} });
    assert.ok(Array.isArray((rpcinfo.reply.result as { active_commands: unknown[] }).active_commands));
    const notObject = await post(node, { id: 8, method: "getblockcount", params: "x" });
    assert.equal(notObject.status, 400);
    assert.equal(notObject.reply.error?.code, -32600);
  } finally {
    await node.close();
  }
});

test("decoderawtransaction, getrawtransaction, getblock and the other read-only calls answer in Core's shapes", async () => {
  const node = await startBenchNode({ txs: 3000 });
  const rpc = new RpcClient({ url: node.rpcUrl, user: node.user, pass: node.pass });
  try {
    const cb = await rpc.call<{ txid: string; vin: Array<{ coinbase?: string }>; vout: Array<{ value: number; scriptPubKey: { type: string; address?: string } }> }>("decoderawtransaction", [COINBASE_HEX]);
    assert.equal(cb.txid, COINBASE_TXID);
    assert.ok(cb.vin[0].coinbase);
    assert.deepEqual(cb.vout.map((o) => o.scriptPubKey.type), ["witness_v0_keyhash", "nulldata"]);
    assert.equal(cb.vout[0].scriptPubKey.address, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    assert.equal(cb.vout[0].value, 3.125);
    await assert.rejects(rpc.call("decoderawtransaction", ["00zz"]), (e: { rpcCode?: number; code?: unknown; message: string }) => /TX decode failed/.test(e.message));
    await assert.rejects(rpc.call("decoderawtransaction", ["0100"]), (e: { message: string }) => /TX decode failed/.test(e.message));
    // A template transaction: getrawtransaction gives its hex, decoderawtransaction its txid back.
    const t = await rpc.getBlockTemplate(["segwit"]);
    const tx = t.transactions[7] as { txid: string; hash: string; data: string };
    assert.equal(await rpc.call("getrawtransaction", [tx.txid]), tx.data);
    const dec = await rpc.call<{ txid: string; hash: string }>("decoderawtransaction", [tx.data]);
    assert.deepEqual([dec.txid, dec.hash], [tx.txid, tx.hash]);
    await assert.rejects(rpc.call("getrawtransaction", ["00".repeat(32)]), (e: { message: string }) => /No such mempool transaction/.test(e.message));
    // getblock of a block the node made: the raw block hashes to its hash.
    const h = await node.newBlock();
    const raw = await rpc.call<string>("getblock", [h, 0]);
    assert.equal(Buffer.from(sha256d(Buffer.from(raw, "hex").subarray(0, 80))).reverse().toString("hex"), h);
    const b = await rpc.call<{ hash: string; tx: string[]; nTx: number; height: number }>("getblock", [h]);
    assert.deepEqual([b.hash, b.nTx, b.height], [h, 1, node.chain.height]);
    assert.equal((await rpc.getBlockHeader(h)).merkleroot, b.tx[0]);
    await assert.rejects(rpc.call("getblock", [t.previousblockhash === h ? "00".repeat(32) : "11".repeat(32)]), (e: { message: string }) => /Block not found/.test(e.message));
    const pool = await rpc.call<{ size: number }>("getmempoolinfo");
    assert.equal(pool.size, 3000);
    assert.equal(await rpc.call("getconnectioncount"), 10);
    assert.equal(typeof (await rpc.call("uptime")), "number");
  } finally {
    rpc.close();
    await node.close();
  }
});

test("a real zeromq Subscriber gets rawblock: the serialized block whose header hashes to hashblock's hash", async () => {
  const node = await startBenchNode({ txs: 0 });
  const raw = new zmq.Subscriber({ linger: 0 });
  const hashes = new zmq.Subscriber({ linger: 0 });
  try {
    raw.connect(node.zmqUrl);
    raw.subscribe("rawblock");
    hashes.connect(node.zmqUrl);
    hashes.subscribe("hashblock");
    await node.waitForSubscribers(1, 5000);
    // The rawblock subscription is counted separately; wait for it too (ZMQ's slow joiner).
    const deadline = Date.now() + 5000;
    while (node.rawblockSubscribers() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 2; i++) {
      const prev = node.chain.bestBlockHash;
      const h = await node.newBlock();
      const [topic, body, seq] = await raw.receive();
      assert.equal(topic.toString(), "rawblock");
      assert.equal(seq.readUInt32LE(0), i, "rawblock has its own sequence, from 0");
      assert.equal(Buffer.from(sha256d(body.subarray(0, 80))).reverse().toString("hex"), h);
      assert.equal(Buffer.from(body.subarray(4, 36)).reverse().toString("hex"), prev);
      assert.equal(body[80], 1, "one transaction: the coinbase");
      // The coinbase decodes, and its txid is the header's merkle root.
      assert.equal(Buffer.from(sha256d(body.subarray(81))).toString("hex"), body.subarray(36, 68).toString("hex"));
      const [, hb] = await hashes.receive();
      assert.equal(hb.toString("hex"), h);
    }
  } finally {
    raw.close();
    hashes.close();
    await node.close();
  }
});
