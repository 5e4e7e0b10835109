import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import { RpcConnectionError, RpcHttpError, RpcRemoteError } from "../../src/core/bitcoind/errors.ts";
import { rejectsWithCode } from "../support/assert.ts";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** A tiny HTTP server whose behaviour each test sets through `handler`. */
class FakeNode {
  handler: Handler = (_req, res) => res.end();
  readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => this.handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  connections = 0;
  port = 0;
  async start(): Promise<void> {
    this.server.on("connection", () => this.connections++);
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** Replies like bitcoind: `{result, error, id}` echoing the request id. */
function reply(result: unknown): Handler {
  return (_req, res, body) => json(res, 200, { result, error: null, id: (JSON.parse(body) as { id: number }).id });
}

const validTemplate = {
  version: 0x20000000,
  previousblockhash: "00".repeat(32),
  transactions: [{ data: "0100", txid: "11".repeat(32), hash: "22".repeat(32), fee: 1000, weight: 400, depends: [] }],
  coinbasevalue: 5_000_000_000,
  target: "7fffff" + "00".repeat(29),
  bits: "207fffff",
  curtime: 1_700_000_000,
  mintime: 1_699_999_000,
  height: 101,
  default_witness_commitment: "6a24aa21a9ed" + "ab".repeat(32),
  rules: ["csv", "!segwit"],
};

describe("RpcClient", () => {
  const node = new FakeNode();
  let client: RpcClient;
  before(async () => {
    await node.start();
    client = new RpcClient({ url: `http://127.0.0.1:${node.port}`, user: "alice", pass: "s3cret", timeoutMs: 2_000 });
  });
  after(async () => {
    client.close();
    await node.close();
  });

  it("sends a JSON-RPC 1.0 POST with basic auth and resolves to result", async () => {
    let seen: { auth?: string; body?: unknown } = {};
    node.handler = (req, res, body) => {
      seen = { auth: req.headers.authorization, body: JSON.parse(body) };
      reply(42)(req, res, body);
    };
    assert.equal(await client.call("getblockcount"), 42);
    assert.equal(seen.auth, `Basic ${Buffer.from("alice:s3cret").toString("base64")}`);
    assert.deepEqual(seen.body, { jsonrpc: "1.0", id: (seen.body as { id: number }).id, method: "getblockcount", params: [] });
  });

  it("accepts a ckpool-style host:port url", async () => {
    const c = new RpcClient({ url: `127.0.0.1:${node.port}`, user: "a", pass: "b" });
    node.handler = reply("ok");
    try {
      assert.equal(await c.call("x"), "ok");
      assert.equal(c.url, `http://127.0.0.1:${node.port}/`);
    } finally {
      c.close();
    }
  });

  it("times out with RPC_TIMEOUT when the node never answers", async () => {
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}`, timeoutMs: 100 });
    node.handler = () => {}; // never respond
    try {
      await rejectsWithCode(c.call("getblocktemplate"), "RPC_TIMEOUT");
    } finally {
      c.close();
    }
  });

  it("turns bitcoind's HTTP 500 + JSON error body into RPC_REMOTE with the rpc code", async () => {
    node.handler = (_req, res, body) =>
      json(res, 500, { result: null, error: { code: -8, message: "Block height out of range" }, id: (JSON.parse(body) as { id: number }).id });
    const err = await rejectsWithCode(client.getBlockHash(99_999), "RPC_REMOTE");
    assert.ok(err instanceof RpcRemoteError);
    assert.equal(err.rpcCode, -8);
    assert.equal(err.method, "getblockhash");
  });

  it("turns HTTP 404 method-not-found JSON into RPC_REMOTE -32601", async () => {
    node.handler = (_req, res) => json(res, 404, { result: null, error: { code: -32601, message: "Method not found" }, id: 1 });
    const err = await rejectsWithCode(client.call("nosuch"), "RPC_REMOTE");
    assert.equal((err as RpcRemoteError).rpcCode, -32601);
  });

  it("reports HTTP 500 with a non-JSON body as RPC_HTTP with the status", async () => {
    node.handler = (_req, res) => {
      res.writeHead(500, { "Content-Type": "text/html" });
      res.end("<html>Internal Server Error</html>");
    };
    const err = await rejectsWithCode(client.call("getblocktemplate"), "RPC_HTTP");
    assert.equal((err as RpcHttpError).status, 500);
  });

  it("reports HTTP 503 (work queue depth exceeded) as RPC_HTTP", async () => {
    node.handler = (_req, res) => {
      res.writeHead(503);
      res.end("Work queue depth exceeded");
    };
    const err = await rejectsWithCode(client.call("getblocktemplate"), "RPC_HTTP");
    assert.equal((err as RpcHttpError).status, 503);
  });

  it("reports a 200 with a non-JSON body as RPC_BAD_RESPONSE", async () => {
    node.handler = (_req, res) => res.end("hello, I am not JSON");
    await rejectsWithCode(client.call("getbestblockhash"), "RPC_BAD_RESPONSE");
  });

  it("reports JSON cut short (complete HTTP body) as RPC_BAD_RESPONSE", async () => {
    node.handler = (_req, res) => res.end('{"result": {"version": 5360');
    await rejectsWithCode(client.call("getblocktemplate"), "RPC_BAD_RESPONSE");
  });

  it("reports a body shorter than its Content-Length (connection dropped) as RPC_BAD_RESPONSE", async () => {
    node.handler = (_req, res) => {
      res.writeHead(200, { "Content-Length": 5000 });
      res.write('{"result": {"version": 5360');
      setImmediate(() => res.socket?.destroy());
    };
    await rejectsWithCode(client.call("getblocktemplate"), "RPC_BAD_RESPONSE");
  });

  it("reports a truncated chunked body as RPC_BAD_RESPONSE", async () => {
    node.handler = (_req, res) => {
      res.writeHead(200);
      res.write('{"result": {"version": 5360');
      setImmediate(() => res.socket?.destroy());
    };
    await rejectsWithCode(client.call("getblocktemplate"), "RPC_BAD_RESPONSE");
  });

  it("rejects JSON of the wrong shape (no result, array, wrong id) with RPC_BAD_RESPONSE", async () => {
    node.handler = (_req, res) => json(res, 200, { hello: 1 });
    await rejectsWithCode(client.call("x"), "RPC_BAD_RESPONSE");
    node.handler = (_req, res) => json(res, 200, [1, 2, 3]);
    await rejectsWithCode(client.call("x"), "RPC_BAD_RESPONSE");
    node.handler = (_req, res) => json(res, 200, { result: 1, error: null, id: 987654 });
    await rejectsWithCode(client.call("x"), "RPC_BAD_RESPONSE");
  });

  it("caps the response size with RPC_BAD_RESPONSE", async () => {
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}`, maxResponseBytes: 1024 });
    try {
      node.handler = (_req, res) => json(res, 200, { result: "x".repeat(4096), error: null, id: 1 });
      await rejectsWithCode(c.call("x"), "RPC_BAD_RESPONSE"); // declared Content-Length too large
      node.handler = (_req, res) => {
        res.writeHead(200); // chunked: size only known while reading
        for (let i = 0; i < 8; i++) res.write("x".repeat(512));
        res.end();
      };
      await rejectsWithCode(c.call("x"), "RPC_BAD_RESPONSE");
    } finally {
      c.close();
    }
  });

  it("reports 401 as RPC_AUTH", async () => {
    node.handler = (_req, res) => {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="jsonrpc"' });
      res.end();
    };
    await rejectsWithCode(client.call("getblockchaininfo"), "RPC_AUTH");
  });

  it("reports a refused connection as RPC_CONNECT (ECONNREFUSED)", async () => {
    const dead = new FakeNode();
    await dead.start();
    const port = dead.port;
    await dead.close();
    const c = new RpcClient({ url: `http://127.0.0.1:${port}` });
    try {
      const err = await rejectsWithCode(c.call("getbestblockhash"), "RPC_CONNECT");
      assert.equal((err as RpcConnectionError).errno, "ECONNREFUSED");
    } finally {
      c.close();
    }
  });

  it("reports a connection reset before any response as RPC_CONNECT", async () => {
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}` });
    node.handler = (req) => req.socket.destroy();
    try {
      await rejectsWithCode(c.call("getbestblockhash"), "RPC_CONNECT");
    } finally {
      c.close();
    }
  });

  it("reuses the keep-alive connection, and retries once on a fresh one when the reused socket was closed", async () => {
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}` });
    try {
      node.handler = reply(1);
      const before = node.connections;
      await c.call("a");
      await c.call("b");
      assert.equal(node.connections - before, 1, "two sequential calls share one connection");
      // The server drops the idle connection's next request, as bitcoind does after -rpcservertimeout.
      let dropped = 0;
      node.handler = (req, res, body) => {
        if (dropped === 0) {
          dropped++;
          req.socket.destroy();
          return;
        }
        reply(2)(req, res, body);
      };
      assert.equal(await c.call("c"), 2);
      assert.equal(dropped, 1);
    } finally {
      c.close();
    }
  });

  it("validates getblocktemplate and names the missing field", async () => {
    node.handler = reply(validTemplate);
    const t = await client.getBlockTemplate(["segwit"]);
    assert.equal(t.height, 101);
    assert.equal(t.transactions[0].weight, 400);
    assert.equal(t.default_witness_commitment, validTemplate.default_witness_commitment);

    const { coinbasevalue: _omit, ...noValue } = validTemplate;
    node.handler = reply(noValue);
    const err = await rejectsWithCode(client.getBlockTemplate(["segwit"]), "RPC_BAD_RESPONSE");
    assert.match(err.message, /coinbasevalue/);

    node.handler = reply({ ...validTemplate, transactions: [{ ...validTemplate.transactions[0], txid: "zz" }] });
    const err2 = await rejectsWithCode(client.getBlockTemplate(["segwit"]), "RPC_BAD_RESPONSE");
    assert.match(err2.message, /transactions\.0\.txid/);

    // Non-hex in the middle of a transaction's data, an odd length, a non-object entry.
    for (const [tx, field] of [
      [{ ...validTemplate.transactions[0], data: "01zz00" }, "transactions.0.data"],
      [{ ...validTemplate.transactions[0], data: "010" }, "transactions.0.data"],
      ["not a tx", "transactions.0"],
      [{ ...validTemplate.transactions[0], weight: -1 }, "transactions.0.weight"],
    ] as const) {
      node.handler = reply({ ...validTemplate, transactions: [tx] });
      const e = await rejectsWithCode(client.getBlockTemplate(["segwit"]), "RPC_BAD_RESPONSE");
      assert.ok(e.message.includes(`'${field}'`), `${field}: ${e.message}`);
    }
  });

  it("sends getblocktemplate rules as the request object", async () => {
    let params: unknown;
    node.handler = (req, res, body) => {
      params = (JSON.parse(body) as { params: unknown }).params;
      reply(validTemplate)(req, res, body);
    };
    await client.getBlockTemplate(["segwit", "signet"]);
    assert.deepEqual(params, [{ rules: ["segwit", "signet"] }]);
  });

  it("submitBlock resolves null when accepted and the reason string when rejected", async () => {
    node.handler = reply(null);
    assert.equal(await client.submitBlock("00"), null);
    node.handler = reply("duplicate");
    assert.equal(await client.submitBlock("00"), "duplicate");
    node.handler = reply(12);
    await rejectsWithCode(client.submitBlock("00"), "RPC_BAD_RESPONSE");
  });

  it("reports every call to onCall with its error code", async () => {
    const seen: Array<{ method: string; code?: string }> = [];
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}`, onCall: (i) => seen.push({ method: i.method, code: i.error?.code }) });
    try {
      node.handler = reply("ok");
      await c.call("good");
      node.handler = (_req, res) => json(res, 500, { result: null, error: { code: -1, message: "x" }, id: 1 });
      await c.call("bad").catch(() => {});
      assert.deepEqual(seen, [{ method: "good", code: undefined }, { method: "bad", code: "RPC_REMOTE" }]);
    } finally {
      c.close();
    }
  });
});

describe("RpcClient cookie auth", () => {
  const node = new FakeNode();
  let dir: string;
  let expected = "";
  before(async () => {
    await node.start();
    dir = await mkdtemp(join(tmpdir(), "tbg-cookie-"));
    node.handler = (req, res, body) => {
      if (req.headers.authorization !== `Basic ${Buffer.from(expected).toString("base64")}`) {
        res.writeHead(401);
        res.end();
        return;
      }
      reply("ok")(req, res, body);
    };
  });
  after(async () => {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("authenticates with the cookie file and re-reads it after a 401 (node restarted)", async () => {
    const cookieFile = join(dir, ".cookie");
    expected = "__cookie__:first";
    await writeFile(cookieFile, expected);
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}`, cookieFile });
    try {
      assert.equal(await c.call("x"), "ok");
      expected = "__cookie__:second"; // bitcoind restarted and wrote a new cookie
      await writeFile(cookieFile, expected);
      assert.equal(await c.call("x"), "ok");
      expected = "__cookie__:third"; // the file is stale: still 401 after re-reading
      await rejectsWithCode(c.call("x"), "RPC_AUTH");
    } finally {
      c.close();
    }
  });

  it("reports a missing cookie file as RPC_AUTH", async () => {
    const c = new RpcClient({ url: `http://127.0.0.1:${node.port}`, cookieFile: join(dir, "missing") });
    try {
      await rejectsWithCode(c.call("x"), "RPC_AUTH");
    } finally {
      c.close();
    }
  });
});
