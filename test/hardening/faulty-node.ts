/**
 * A bitcoind JSON-RPC proxy that injects faults: in "ok" mode it forwards to a real upstream (the bench
 * node), in the other modes it answers the way broken or hostile nodes and middleboxes do.
 */
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

export const FAULT_MODES = ["http500", "rpc_error", "malformed", "truncated", "reset", "missing_fields", "bad_template", "hang"] as const;
export type FaultMode = "ok" | (typeof FAULT_MODES)[number];

/** A new tip hash the proxy reports in template-only fault modes, so the pool fetches a (broken) template. */
const FAKE_TIP = "00000000000000000000000000000000000000000000000000000000000f0f0f";

export interface FaultyNode {
  url: string;
  port: number;
  mode: FaultMode;
  /** Requests answered per mode. */
  readonly calls: Map<string, number>;
  close(): Promise<void>;
}

export async function startFaultyNode(upstreamUrl: string, auth: string): Promise<FaultyNode> {
  const upstream = new URL(upstreamUrl);
  const hung = new Set<http.ServerResponse>();
  const state = { mode: "ok" as FaultMode };
  const calls = new Map<string, number>();

  const forward = (body: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: upstream.hostname, port: upstream.port, method: "POST", path: "/", headers: { "content-type": "application/json", authorization: auth, "content-length": body.length } }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });

  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const p of req) parts.push(p as Buffer);
    const body = Buffer.concat(parts);
    let method = "";
    try {
      method = (JSON.parse(body.toString()) as { method: string }).method;
    } catch {
      // forwarded as it is
    }
    const mode = state.mode;
    calls.set(mode, (calls.get(mode) ?? 0) + 1);
    const json = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
    };
    switch (mode) {
      case "http500":
        res.writeHead(500, { "content-type": "text/html" }).end("<html><body>502 Bad Gateway</body></html>");
        return;
      case "rpc_error":
        json(500, { result: null, error: { code: -28, message: "Loading block index…" }, id: 1 });
        return;
      case "malformed":
        res.writeHead(200, { "content-type": "application/json" }).end('{"result": {"version": 5, "previousblockhash": ');
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "hang":
        hung.add(res);
        return;
      default:
        break;
    }
    let up: { status: number; body: Buffer };
    try {
      up = await forward(body);
    } catch {
      res.writeHead(502).end();
      return;
    }
    if (mode === "truncated") {
      // Announces the whole body, sends half, and closes: a node killed mid-response.
      res.writeHead(up.status, { "content-type": "application/json", "content-length": up.body.length });
      res.write(up.body.subarray(0, Math.floor(up.body.length / 2)));
      res.socket?.destroy();
      return;
    }
    if ((mode === "missing_fields" || mode === "bad_template") && (method === "getblocktemplate" || method === "getbestblockhash")) {
      const msg = JSON.parse(up.body.toString()) as { result: Record<string, unknown> | string; error: unknown; id: unknown };
      if (method === "getbestblockhash") msg.result = FAKE_TIP;
      else {
        const t = msg.result as Record<string, unknown>;
        t.previousblockhash = FAKE_TIP;
        if (mode === "missing_fields") {
          delete t.bits;
          delete t.coinbasevalue;
        } else t.default_witness_commitment = "6a24aa21a9ed00"; // valid hex, not a BIP141 commitment
      }
      json(up.status, msg);
      return;
    }
    res.writeHead(up.status, { "content-type": "application/json", "content-length": up.body.length }).end(up.body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get mode() {
      return state.mode;
    },
    set mode(m: FaultMode) {
      state.mode = m;
      if (m !== "hang") {
        for (const r of hung) r.socket?.destroy();
        hung.clear();
      }
    },
    calls,
    async close() {
      for (const r of hung) r.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
