import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { JsonRpcHttpServer, errorReply, namedToPositional } from "../../../src/tools/regtest-node/rpc-server.ts";
import net from "node:net";

/** Answers "echo" with its params, "fail" with -8, anything else with -32601 (like Core's dispatcher). */
const server = new JsonRpcHttpServer({
  port: 0,
  user: "u",
  pass: "p",
  handler: async ({ method, params, id }) => {
    if (method === "echo") return { result: params, error: null, id };
    if (method === "fail") return errorReply(-8, "bad parameter", id);
    return errorReply(-32601, "Method not found", id);
  },
});

/** One request on a fresh connection (no keep-alive pool that could hold a socket across a restart). */
function request(method: string, body: string | undefined, auth = "u:p"): Promise<{ status: number; json: unknown; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: server.port, path: "/", method, agent: false, headers: { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const post = (body: string, auth?: string) => request("POST", body, auth);

describe("JsonRpcHttpServer answers like bitcoind's HTTP RPC", () => {
  before(() => server.start());
  after(() => server.close());

  it("200 with {result, error: null, id}", async () => {
    const r = await post(JSON.stringify({ jsonrpc: "1.0", id: 5, method: "echo", params: [1, "a"] }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { result: [1, "a"], error: null, id: 5 });
  });

  it("500 for an RPC error, 404 for an unknown method, both with the JSON error body", async () => {
    const r = await post(JSON.stringify({ id: 1, method: "fail", params: [] }));
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, { result: null, error: { code: -8, message: "bad parameter" }, id: 1 });
    const r2 = await post(JSON.stringify({ id: 2, method: "nosuch" }));
    assert.equal(r2.status, 404);
    assert.equal((r2.json as { error: { code: number } }).error.code, -32601);
  });

  it("500 with -32700 for a body that is not JSON, 400 with -32600 for a non-object request", async () => {
    const r = await post("{nope");
    assert.equal(r.status, 500);
    assert.equal((r.json as { error: { code: number } }).error.code, -32700);
    const r2 = await post("42");
    assert.equal(r2.status, 400);
    assert.equal((r2.json as { error: { code: number } }).error.code, -32600);
  });

  it("batches get 200 and one reply per request, errors included", async () => {
    const r = await post(JSON.stringify([{ id: 1, method: "echo", params: [1] }, { id: 2, method: "fail" }]));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [
      { result: [1], error: null, id: 1 },
      { result: null, error: { code: -8, message: "bad parameter" }, id: 2 },
    ]);
  });

  it("401 with an empty body and a Basic challenge for wrong credentials", async () => {
    const r = await post(JSON.stringify({ id: 1, method: "echo" }), "u:wrong");
    assert.equal(r.status, 401);
    assert.equal(r.json, undefined);
    assert.equal(r.headers["www-authenticate"], 'Basic realm="jsonrpc"');
  });

  it("405 for GET", async () => {
    assert.equal((await request("GET", undefined)).status, 405);
  });

  it("close() then start() serves again on the same port", async () => {
    const port = server.port;
    await server.close();
    assert.equal(server.listening, false);
    await server.start();
    assert.equal(server.port, port);
    assert.equal((await post(JSON.stringify({ id: 1, method: "echo", params: [] }))).status, 200);
  });
});

describe("named params and bare-LF headers (options)", () => {
  it("namedToPositional follows Core: slots by name, missing ones in between null, trailing ones dropped, unknown names refused", () => {
    assert.deepEqual(namedToPositional(["a", "b", "c"], { c: 3, a: 1 }), [1, null, 3]);
    assert.deepEqual(namedToPositional(["a", "b", "c"], { a: 1 }), [1]);
    assert.deepEqual(namedToPositional([], {}), []);
    assert.equal(namedToPositional(["a"], { z: 1 }), "Unknown named parameter z");
  });

  it("the default server answers a bare-LF request with 400; lenientHttp + namedParams serve it and map the object", async () => {
    const handler = async ({ params, id }: { params: unknown; id: unknown }) => ({ result: params, error: null, id });
    const strict = new JsonRpcHttpServer({ port: 0, user: "u", pass: "p", handler });
    const lenient = new JsonRpcHttpServer({ port: 0, user: "u", pass: "p", handler, lenientHttp: true, namedParams: { echo: ["x", "y"] } });
    await strict.start();
    await lenient.start();
    const send = (port: number, body: string) =>
      new Promise<string>((resolve, reject) => {
        const auth = Buffer.from("u:p").toString("base64");
        const sock = net.connect(port, "127.0.0.1", () => sock.write(`POST / HTTP/1.1\nAuthorization: Basic ${auth}\nHost: x\nContent-Length: ${body.length}\n\n${body}`));
        let out = "";
        sock.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (/\r\n\r\n(\{.*\n|$)/s.test(out) && (out.includes("\n{") ? out.endsWith("\n") : out.startsWith("HTTP/1.1 400"))) sock.destroy();
        });
        sock.on("close", () => resolve(out));
        sock.on("error", reject);
      });
    try {
      const body = '{"method": "echo", "params": {"y": 2}}';
      assert.match(await send(strict.port, body), /^HTTP\/1\.1 400 /);
      const ok = await send(lenient.port, body);
      assert.match(ok, /^HTTP\/1\.1 200 OK/);
      assert.deepEqual(JSON.parse(ok.slice(ok.indexOf("{"))), { result: [null, 2], error: null, id: null });
    } finally {
      await strict.close();
      await lenient.close();
    }
  });
});
