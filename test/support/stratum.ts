/**
 * A raw Stratum test client: writes exactly the bytes a test gives it and records everything the server
 * sends, so protocol tests can reproduce firmware quirks (hex case, pipelining, partial lines).
 */
import net from "node:net";
import { once } from "node:events";
import { buildWork, scanNonces, submitParams, type Work } from "../../src/tools/stratum-client/work.ts";
import { parseNotify, type NotifyJob } from "../../src/tools/stratum-client/messages.ts";

export interface Reply {
  id: unknown;
  result: unknown;
  error: [number, string, unknown] | null;
}

export interface Notification {
  method: string;
  params: unknown[];
}

export class RawClient {
  readonly socket: net.Socket;
  private buf = "";
  private nextId = 1;
  readonly replies = new Map<unknown, Reply>();
  readonly notifications: Notification[] = [];
  /** Every message in arrival order. */
  readonly log: Array<Reply | Notification> = [];
  private waiters: Array<() => void> = [];
  closed = false;
  extranonce1 = "";
  extranonce2Size = 0;
  difficulty = 0;
  versionMask = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        if (typeof msg.method === "string") {
          this.notifications.push(msg);
          this.log.push(msg);
          if (msg.method === "mining.set_difficulty") this.difficulty = Array.isArray(msg.params) ? msg.params[0] : msg.params;
        } else {
          this.replies.set(msg.id, msg);
          this.log.push(msg);
        }
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    const s = net.connect({ port, host });
    await once(s, "connect");
    return new RawClient(s);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked on every message), or rejects after `timeoutMs`. */
  async until<T>(pred: () => T | undefined | false | null, timeoutMs = 5000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (this.closed) {
        const again = pred();
        if (again) return again;
        throw new Error(`connection closed while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  writeRaw(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a request without waiting; returns its id. */
  send(method: string, params: unknown[] = [], id: unknown = this.nextId++): unknown {
    this.socket.write(JSON.stringify({ id, method, params }) + "\n");
    return id;
  }

  async request(method: string, params: unknown[] = [], timeoutMs = 5000): Promise<Reply> {
    const id = this.send(method, params);
    return this.reply(id, timeoutMs);
  }

  reply(id: unknown, timeoutMs = 5000): Promise<Reply> {
    return this.until(() => this.replies.get(id), timeoutMs, `reply to ${String(id)}`);
  }

  notifies(): NotifyJob[] {
    return this.notifications.filter((n) => n.method === "mining.notify").map((n) => parseNotify(n.params));
  }

  lastNotify(): NotifyJob | undefined {
    const all = this.notifies();
    return all[all.length - 1];
  }

  async waitNotify(count = 1, timeoutMs = 10_000): Promise<NotifyJob> {
    await this.until(() => this.notifies().length >= count, timeoutMs, `${count} notifies`);
    return this.lastNotify()!;
  }

  /** subscribe (+ configure when mask given) + authorize, waiting for the first job. */
  async handshake(user: string, opts: { versionMask?: string; suggest?: number } = {}): Promise<NotifyJob> {
    if (opts.versionMask) {
      const r = await this.request("mining.configure", [["version-rolling"], { "version-rolling.mask": opts.versionMask }]);
      this.versionMask = parseInt((r.result as Record<string, string>)["version-rolling.mask"], 16);
    }
    const sub = await this.request("mining.subscribe", ["test/1.0"]);
    const res = sub.result as [unknown, string, number];
    this.extranonce1 = res[1];
    this.extranonce2Size = res[2];
    if (opts.suggest) await this.request("mining.suggest_difficulty", [opts.suggest]);
    const auth = await this.request("mining.authorize", [user, "x"]);
    if (auth.result !== true) throw new Error(`authorize failed: ${JSON.stringify(auth.error)}`);
    return this.waitNotify(1);
  }

  /** Work for a job at the client's current difficulty. */
  work(job: NotifyJob, extranonce2: Buffer, versionBits = 0, difficulty = this.difficulty): Work {
    return buildWork({ job, extranonce1Hex: this.extranonce1, extranonce2Size: this.extranonce2Size, difficulty, versionMask: this.versionMask }, extranonce2, versionBits);
  }

  /**
   * Finds a nonce for `job` meeting `want` ("share": the share target but NOT a block; "block": a block;
   * "low": meets neither the share target nor the network target). Bounded search.
   */
  findNonce(work: Work, want: "share" | "block" | "low", maxNonces = 5_000_000): number {
    for (let start = 0; start < maxNonces; start += 4096) {
      if (want === "low") {
        for (let n = start; n < start + 4096; n++) {
          const found = scanNonces(work, n, 1);
          if (found.length === 0) return n;
        }
        continue;
      }
      for (const f of scanNonces(work, start, 4096)) {
        if (want === "block" && f.isBlock) return f.nonce;
        if (want === "share" && f.meetsShareTarget && !f.isBlock) return f.nonce;
      }
    }
    throw new Error(`no ${want} nonce within ${maxNonces}`);
  }

  submitParams(user: string, work: Work, nonce: number): string[] {
    return submitParams(work, user, nonce);
  }

  close(): void {
    this.socket.destroy();
  }
}
