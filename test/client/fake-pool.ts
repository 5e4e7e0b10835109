/**
 * A scripted Stratum V1 server for client tests: records every request and answers with `handler`.
 * Not a pool: it validates nothing. Listens on port 0.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface FakeRequest {
  id: number | string | null;
  method: string;
  params: unknown[];
}

export interface FakeConn {
  socket: Socket;
  /** Sends a JSON object (adds the newline). */
  send(obj: unknown): void;
  /** Answers a request. */
  reply(id: FakeRequest["id"], result: unknown, error?: unknown): void;
  requests: FakeRequest[];
}

/** Returns true when it handled the request; otherwise the default answers apply. */
export type FakeHandler = (req: FakeRequest, conn: FakeConn) => boolean | void;

export const FAKE_EN1 = "f000000d";

export class FakePool {
  readonly conns: FakeConn[] = [];
  readonly requests: FakeRequest[] = [];
  private server: Server;
  private readonly waiters: Array<() => void> = [];
  port = 0;

  constructor(private handler: FakeHandler = () => false, private en2Size = 4) {
    this.server = createServer((socket) => this.onConn(socket));
  }

  static async start(handler?: FakeHandler, en2Size = 4): Promise<FakePool> {
    const p = new FakePool(handler, en2Size);
    await new Promise<void>((resolve) => p.server.listen(0, "127.0.0.1", resolve));
    const addr = p.server.address();
    p.port = typeof addr === "object" && addr ? addr.port : 0;
    return p;
  }

  /** Resolves when `pred` holds (checked after each request); rejects after `timeoutMs`. */
  async waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error("FakePool.waitFor timed out");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends to every connection. */
  broadcast(obj: unknown): void {
    for (const c of this.conns) if (!c.socket.destroyed) c.send(obj);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConn(socket: Socket): void {
    const conn: FakeConn = {
      socket,
      requests: [],
      send: (obj) => {
        if (!socket.destroyed) socket.write(JSON.stringify(obj) + "\n");
      },
      reply: (id, result, error = null) => conn.send({ id, result, error }),
    };
    this.conns.push(conn);
    let buf = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const req = JSON.parse(line) as FakeRequest;
        this.requests.push(req);
        conn.requests.push(req);
        if (this.handler(req, conn) !== true) this.defaultAnswer(req, conn);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  private defaultAnswer(req: FakeRequest, conn: FakeConn): void {
    switch (req.method) {
      case "mining.configure":
        return conn.reply(req.id, { "version-rolling": true, "version-rolling.mask": "1fffe000" });
      case "mining.subscribe":
        return conn.reply(req.id, [[["mining.notify", "1"]], FAKE_EN1, this.en2Size]);
      case "mining.authorize":
        return conn.reply(req.id, true);
      case "mining.submit":
        return conn.reply(req.id, true);
      default:
        return; // suggest_difficulty, extranonce.subscribe: no answer, like ckpool
    }
  }
}
