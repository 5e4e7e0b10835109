/**
 * UnixDgramSink state machine against a scripted native socket and manual timers: socket
 * recreation after errors, stall handling, error classification. Deterministic, no real sockets.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UnixDgramSink } from "../../../src/pipeline/events/sinks/unix-dgram.ts";
import type { NativeDgramSocket, SinkTimers } from "../../../src/pipeline/events/sinks/unix-dgram.ts";

type Behaviour = "ok" | "eagain" | Error | "throw";

class FakeSocket implements NativeDgramSocket {
  closed = false;
  sent: string[] = [];
  pending: { buf: Buffer; cb?: (err: undefined | Error) => void }[] = [];
  private errorListener: ((err: Error) => void) | null = null;
  constructor(private readonly behave: () => Behaviour) {}
  sendTo(buf: Buffer, _o: number, _l: number, _p: string, cb?: (err: undefined | Error) => void): void {
    if (this.closed) throw new Error("DgramSocket has been closed");
    const b = this.behave();
    if (b === "throw") throw new Error("napi failure");
    if (b === "eagain") return void this.pending.push({ buf, cb });
    if (b === "ok") this.sent.push(buf.toString());
    cb?.(b === "ok" ? undefined : b);
  }
  /** The kernel became writable: the addon flushes its queue and calls back. */
  flushNative(): void {
    for (const p of this.pending.splice(0)) {
      this.sent.push(p.buf.toString());
      p.cb?.(undefined);
    }
  }
  on(event: "error" | "data", listener: ((err: Error) => void) | ((buf: Buffer, path?: string) => void)): unknown {
    if (event === "error") this.errorListener = listener as (err: Error) => void;
    return this;
  }
  /** The addon's receive-error path: it closes itself, then emits 'error'. */
  fail(err: Error): void {
    this.closed = true;
    this.errorListener?.(err);
  }
  close(): void {
    this.closed = true;
    this.pending = []; // the addon discards its queue without calling back
  }
  setSendBufferSize(): void {}
}

class ManualTimers implements SinkTimers {
  private seq = 0;
  timers = new Map<number, { fn: () => void; ms: number }>();
  immediates: (() => void)[] = [];
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.seq, { fn, ms });
    return this.seq;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  setImmediate(fn: () => void): unknown {
    this.immediates.push(fn);
    return null;
  }
  /** Run every pending timer once (in creation order) and then the immediates. */
  fireAll(): number[] {
    const due = [...this.timers.entries()];
    this.timers.clear();
    for (const [, t] of due) t.fn();
    this.runImmediates();
    return due.map(([, t]) => t.ms);
  }
  runImmediates(): void {
    for (let i = 0; i < 100 && this.immediates.length > 0; i++) this.immediates.shift()!();
  }
}

function setup(script: Behaviour[], opts: { batchMaxBytes?: number; queueMax?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  let i = 0;
  const next = () => script[Math.min(i++, script.length - 1)];
  const sink = new UnixDgramSink({
    socketPath: "/fake/events.sock",
    timers,
    ...opts,
    createSocket: () => {
      const s = new FakeSocket(next);
      sockets.push(s);
      return s;
    },
  });
  const all = () => sockets.flatMap((s) => s.sent);
  return { sink, sockets, timers, all };
}

const buf = (s: string) => Buffer.from(s);

describe("UnixDgramSink (scripted socket)", () => {
  it("keeps one datagram in the addon on EAGAIN and resumes when it goes out", async () => {
    const { sink, sockets, timers, all } = setup(["ok", "eagain", "ok"]);
    await sink.start();
    for (const s of ["a", "b", "c", "d"]) sink.send(buf(s), "relay_state");
    assert.deepEqual(all(), ["a"]);
    assert.equal(sockets[0].pending.length, 1, "only one datagram inside the addon");
    assert.equal(sink.stats().inFlight, 1);
    assert.equal(sink.stats().queued, 3);
    sockets[0].flushNative();
    timers.runImmediates();
    assert.deepEqual(all(), ["a", "b", "c", "d"]);
    assert.equal(sink.stats().retries, 1);
  });

  it("after stallMs closes the addon socket, backs off exponentially and retries on a fresh socket", async () => {
    const { sink, sockets, timers, all } = setup(["eagain", "eagain", "eagain", "ok"]);
    await sink.start();
    sink.send(buf("a"), "relay_state");
    assert.deepEqual(timers.fireAll(), [5]); // stall watchdog
    assert.equal(sockets[0].closed, true);
    assert.equal(sink.stats().state, "congested");
    assert.deepEqual(timers.fireAll(), [2]); // backoff → retry on socket 2 → EAGAIN
    assert.deepEqual(timers.fireAll(), [5]);
    assert.deepEqual(timers.fireAll(), [4]); // doubled
    assert.deepEqual(timers.fireAll(), [5]);
    assert.deepEqual(timers.fireAll(), [8]);
    assert.deepEqual(all(), ["a"]);
    assert.equal(sink.stats().state, "ready");
    assert.equal(sink.stats().stalls, 3);
    assert.equal(sink.stats().socketsCreated, 4);
  });

  it("batching: what one turn emits goes out after it as one datagram, one event per line, split at batchMaxBytes; counted per event", async () => {
    const { sink, sockets, timers, all } = setup(["ok"], { batchMaxBytes: 9 });
    await sink.start();
    for (const s of ["a", "bb", "ccc", "dddd", "e"]) sink.send(buf(s), "relay_state");
    assert.deepEqual(all(), [], "nothing sent during the turn");
    assert.equal(sink.stats().queued, 5);
    timers.runImmediates();
    // "a\nbb\nccc" is 8 bytes; adding "\ndddd" would make 13 > 9.
    assert.deepEqual(all(), ["a\nbb\nccc", "dddd\ne"]);
    const st = sink.stats();
    assert.equal(st.sent, 5, "sent counts events");
    assert.equal(st.batches, 2);
    assert.equal(st.queued, 0);
    // An event larger than batchMaxBytes goes alone.
    sink.send(buf("x".repeat(20)), "relay_state");
    sink.send(buf("y"), "relay_state");
    timers.runImmediates();
    assert.deepEqual(all().slice(2), ["x".repeat(20), "y"]);
    assert.equal(sockets.length, 1);
  });

  it("batching: a batch the reader cannot take yet stays whole and in order; one that fails is dropped and counted per event", async () => {
    const { sink, sockets, timers, all } = setup(["eagain", "ok", new Error("Input/output error")], { batchMaxBytes: 100 });
    await sink.start();
    for (const s of ["a", "b", "c"]) sink.send(buf(s), "relay_state");
    timers.runImmediates();
    assert.equal(sink.stats().inFlight, 3, "the batch is in the addon: three events");
    assert.equal(sink.stats().queued, 3);
    sink.send(buf("d"), "relay_state");
    timers.runImmediates();
    sockets[0].flushNative();
    timers.runImmediates();
    assert.deepEqual(all(), ["a\nb\nc", "d"]);
    assert.equal(sink.stats().sent, 4);
    for (const s of ["e", "f"]) sink.send(buf(s), "relay_state");
    timers.runImmediates();
    assert.equal(sink.stats().dropped.error, 2, "each event of the failed batch is counted");
    assert.equal(sink.stats().queued, 0);
  });

  it("batching: on a stall the batch goes back to the head of the queue as its events, and past queueMax the oldest are dropped one by one", async () => {
    const { sink, sockets, timers, all } = setup(["eagain", "eagain", "ok"], { batchMaxBytes: 100, queueMax: 4 });
    await sink.start();
    for (const s of ["a", "b", "c"]) sink.send(buf(s), "relay_state");
    timers.runImmediates();
    assert.deepEqual(timers.fireAll(), [5]); // stall watchdog: socket closed, "a","b","c" requeued
    assert.equal(sockets[0].closed, true);
    assert.equal(sink.stats().queued, 3);
    sink.send(buf("d"), "relay_state");
    sink.send(buf("e"), "relay_state"); // 5 > queueMax 4: "a" is dropped
    assert.equal(sink.stats().dropped.queue_full, 1);
    assert.deepEqual(timers.fireAll(), [2]); // backoff → socket 2: EAGAIN again
    assert.deepEqual(timers.fireAll(), [5]);
    assert.deepEqual(timers.fireAll(), [4]); // socket 3 delivers, in order
    assert.deepEqual(all(), ["b\nc\nd\ne"]);
    assert.equal(sink.stats().sent, 4);
  });

  it("batching: a batch too large for the socket (EMSGSIZE) is sent again one event a datagram, nothing dropped", async () => {
    const { sink, timers, all } = setup([new Error("Message too long"), "ok"], { batchMaxBytes: 100 });
    await sink.start();
    for (const s of ["a", "b", "c"]) sink.send(buf(s), "relay_state");
    timers.runImmediates();
    assert.deepEqual(all(), ["a", "b", "c"]);
    assert.equal(sink.stats().dropped.too_large, 0);
    assert.equal(sink.stats().sent, 3);
    sink.send(buf("d"), "relay_state");
    sink.send(buf("e"), "relay_state");
    timers.runImmediates();
    assert.deepEqual(all().slice(3), ["d\ne"], "batching resumes after those");
  });

  it("recreates the socket after the addon closed it on error, without losing the datagram", async () => {
    const { sink, sockets, timers, all } = setup(["eagain", "ok"]);
    await sink.start();
    sink.send(buf("a"), "relay_state");
    sockets[0].fail(new Error("recv msg failed, errno: 9"));
    assert.equal(sink.stats().lastError, "recv msg failed, errno: 9");
    timers.fireAll();
    assert.deepEqual(all(), ["a"]);
    assert.equal(sockets.length, 2);
  });

  it("retries later when sendTo throws, keeping order", async () => {
    const { sink, timers, all } = setup(["throw", "ok"]);
    await sink.start();
    sink.send(buf("a"), "relay_state");
    sink.send(buf("b"), "relay_state");
    assert.deepEqual(all(), []);
    timers.fireAll();
    assert.deepEqual(all(), ["a", "b"]);
  });

  it("drops a datagram the socket refuses for an unknown reason as error and carries on", async () => {
    const { sink, all } = setup([new Error("Input/output error"), "ok"]);
    await sink.start();
    sink.send(buf("a"), "relay_state");
    sink.send(buf("b"), "relay_state");
    assert.deepEqual(all(), ["b"]);
    assert.equal(sink.stats().dropped.error, 1);
  });

  it("classifies missing, stale and forbidden socket paths as no reader", async () => {
    for (const text of ["No such file or directory", "Connection refused", "Permission denied"]) {
      const { sink, timers, all } = setup([new Error(text), "ok"]);
      await sink.start();
      sink.send(buf("a"), "relay_state");
      assert.equal(sink.stats().state, "no_reader", text);
      assert.deepEqual(timers.fireAll(), [100]); // first probe after noReaderRetryMs.min
      assert.deepEqual(all(), ["a"]);
    }
  });

  it("queues before start() and counts everything left at close() as closed", async () => {
    const { sink, all } = setup(["ok"]);
    sink.send(buf("a"), "relay_state");
    assert.equal(sink.stats().queued, 1);
    await sink.close();
    assert.deepEqual(all(), []);
    assert.equal(sink.stats().dropped.closed, 1);
    sink.send(buf("b"), "relay_state");
    assert.equal(sink.stats().dropped.closed, 2);
  });

  it("drops what a slow reader has not taken when the flush deadline passes", async () => {
    const { sink, timers } = setup(["eagain"]);
    await sink.start();
    sink.send(buf("a"), "relay_state");
    sink.send(buf("b"), "relay_state");
    const closed = sink.close();
    const deadline = [...timers.timers.values()].find((t) => t.ms === 2_000)!;
    deadline.fn();
    await closed;
    assert.equal(sink.stats().dropped.closed, 2);
    assert.equal(sink.stats().state, "closed");
  });

  it("bounds the queue by bytes as well as by count", async () => {
    const timers = new ManualTimers();
    const sink = new UnixDgramSink({
      socketPath: "/fake/events.sock",
      timers,
      queueMaxBytes: 10,
      createSocket: () => new FakeSocket(() => new Error("No such file or directory")),
    });
    await sink.start();
    for (let i = 0; i < 5; i++) sink.send(buf("xxxx"), "relay_state");
    assert.ok(sink.stats().queuedBytes <= 10);
    assert.equal(sink.stats().dropped.no_reader, 3);
  });

  it("refuses bad options with EVENTS_CONFIG_INVALID", () => {
    for (const bad of [
      { socketPath: "" },
      { socketPath: `/tmp/${"x".repeat(120)}` },
      { socketPath: "/x", queueMax: 0 },
      { socketPath: "/x", queueMax: 1.5 },
      { socketPath: "/x", batchMaxBytes: -1 },
      { socketPath: "/x", batchMaxBytes: 70_000 },
      { socketPath: "/x", noReaderRetryMs: { min: 10, max: 1 } },
    ]) {
      assert.throws(() => new UnixDgramSink(bad), { code: "EVENTS_CONFIG_INVALID" }, JSON.stringify(bad));
    }
  });
});
