/**
 * A light swarm of idle miners for the fan-out and memory benchmarks: N raw TCP connections that each send
 * a pipelined subscribe + authorize (+ suggest_difficulty) and then only listen. It does as little as
 * possible per received chunk (a timestamp and a byte search), so that with 10,000 connections in one
 * process the time it adds to "notify arrived on the last connection" stays small. Works against any
 * Stratum V1 pool (ckpool, public-pool): it only relies on `mining.notify` lines and the prevhash param.
 */
import { connect, type Socket } from "node:net";

const NOTIFY = Buffer.from('"mining.notify"');

/** Options for {@link Swarm}. */
export interface SwarmOptions {
  host: string;
  port: number;
  connections: number;
  /** Username for connection i. */
  user: (i: number) => string;
  /** Sent right after authorize, when set (e.g. the pool's lowest difficulty). */
  suggestDifficulty?: number;
  /** Connections opening at once during the ramp. Default 200. */
  rampConcurrency?: number;
  /** Each connection must have its first notify within this time. Default 60 s. */
  readyTimeoutMs?: number;
}

interface Conn {
  socket: Socket;
  /** Chunks received since the last `mark()` and when (performance.now). */
  times: number[];
  chunks: Buffer[];
  ready: boolean;
}

/** What a ramp achieved. */
export interface SwarmRamp {
  ready: number;
  failed: number;
  rampMs: number;
  errors: string[];
}

/** N connections that listen for notifies. */
export class Swarm {
  private readonly conns: Conn[] = [];
  private readyCount = 0;
  private onReady: (() => void) | null = null;
  private readonly errors = new Set<string>();
  closedByPool = 0;

  constructor(private readonly opts: SwarmOptions) {}

  get size(): number {
    return this.conns.length;
  }

  /** Opens every connection (bounded concurrency) and resolves when each has its first notify, or failed. */
  async start(): Promise<SwarmRamp> {
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    const deadline = t0 + (this.opts.readyTimeoutMs ?? 60_000);
    const openOne = (i: number) =>
      new Promise<void>((resolve) => {
        const socket = connect({ host: this.opts.host, port: this.opts.port });
        socket.setNoDelay(true);
        const conn: Conn = { socket, times: [], chunks: [], ready: false };
        this.conns.push(conn);
        let settled = false;
        const settle = (ok: boolean, why?: string) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (!ok) {
            failed++;
            if (why && this.errors.size < 5) this.errors.add(why);
            socket.destroy();
          }
          resolve();
        };
        const timer = setTimeout(() => settle(false, "no notify before the deadline"), Math.max(1000, deadline - performance.now()));
        socket.on("data", (chunk: Buffer) => {
          conn.times.push(performance.now());
          conn.chunks.push(chunk);
          if (!conn.ready) {
            if (chunk.indexOf(NOTIFY) === -1) return;
            conn.ready = true;
            this.readyCount++;
            settle(true);
            return;
          }
          this.onReady?.();
        });
        socket.on("error", (e) => settle(false, e.message));
        socket.on("close", () => {
          if (conn.ready) this.closedByPool++;
          settle(false, "closed by the pool");
        });
        socket.on("connect", () => {
          const lines = [
            { id: 1, method: "mining.subscribe", params: ["bench-swarm/1.0"] },
            { id: 2, method: "mining.authorize", params: [this.opts.user(i), "x"] },
            ...(this.opts.suggestDifficulty ? [{ id: 3, method: "mining.suggest_difficulty", params: [this.opts.suggestDifficulty] }] : []),
          ];
          socket.write(lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
        });
      });
    const workers = Array.from({ length: Math.min(this.opts.rampConcurrency ?? 200, this.opts.connections) }, async () => {
      while (next < this.opts.connections) await openOne(next++);
    });
    await Promise.all(workers);
    return { ready: this.readyCount, failed, rampMs: Math.round(performance.now() - t0), errors: [...this.errors] };
  }

  /** Forgets notifies received so far (call just before triggering a block). */
  mark(): void {
    for (const c of this.conns) {
      c.times.length = 0;
      c.chunks.length = 0;
    }
  }

  /**
   * Waits until every ready connection received a notify whose prevhash differs from `oldPrevhash`, or the
   * deadline. Returns, per connection, the receive time of that notify (NaN when it never came).
   */
  async waitForNewPrevhash(oldPrevhash: string, timeoutMs: number): Promise<{ times: Float64Array; prevhash: string | null }> {
    const ready = this.conns.filter((c) => c.ready && !c.socket.destroyed);
    const times = new Float64Array(ready.length).fill(NaN);
    // Per connection: chunks scanned so far and the unterminated tail of the last one.
    const scanned = new Int32Array(ready.length);
    const tails: string[] = new Array<string>(ready.length).fill("");
    let prevhash: string | null = null;
    let missing = ready.length;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      // Parsed lazily, off the receive path: only chunks that arrived since the last scan.
      for (let k = 0; k < ready.length; k++) {
        if (!Number.isNaN(times[k])) continue;
        const c = ready[k];
        for (let j = scanned[k]; j < c.chunks.length; j++) {
          const lines = (tails[k] + c.chunks[j].toString("utf8")).split("\n");
          tails[k] = lines.pop() ?? "";
          const ph = notifyPrevhash(lines, oldPrevhash);
          if (ph !== null) {
            prevhash ??= ph;
            times[k] = c.times[j];
            missing--;
            break;
          }
        }
        scanned[k] = c.chunks.length;
      }
      if (missing === 0 || performance.now() > deadline) return { times, prevhash };
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          this.onReady = null;
          r();
        }, 20);
        this.onReady = () => {
          clearTimeout(t);
          this.onReady = null;
          setImmediate(r);
        };
      });
    }
  }

  /** The prevhash (params[1]) of the most recent notify on the first ready connection. */
  currentPrevhash(): string | null {
    for (const c of this.conns) if (c.ready) return notifyPrevhash(Buffer.concat(c.chunks).toString("utf8").split("\n"), "");
    return null;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.conns.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.socket.destroyed) return r();
            c.socket.once("close", () => r());
            c.socket.destroy();
          }),
      ),
    );
  }
}

/** params[1] of the last complete mining.notify line whose prevhash differs from `other`; null when none. */
export function notifyPrevhash(lines: string[], other: string): string | null {
  let found: string | null = null;
  for (const line of lines) {
    if (!line.includes('"mining.notify"')) continue;
    try {
      const msg = JSON.parse(line) as { params?: unknown[] };
      const ph = msg.params?.[1];
      if (typeof ph === "string" && ph !== other) found = ph;
    } catch {
      // not a JSON line: ignore
    }
  }
  return found;
}
