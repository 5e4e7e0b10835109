import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DgramReader } from "../../../src/pipeline/events/dgram-reader.ts";
import type { ReaderMessage } from "../../../src/pipeline/events/dgram-reader.ts";
import { MiningEventEmitter } from "../../../src/pipeline/events/emitter.ts";
import type { EmitterUpdate } from "../../../src/pipeline/events/emitter.ts";
import { createEventFactory } from "../../../src/pipeline/events/envelope.ts";
import { UnixDgramSink } from "../../../src/pipeline/events/sinks/unix-dgram.ts";
import type { UnixDgramSinkOptions } from "../../../src/pipeline/events/sinks/unix-dgram.ts";
import { numberedShare, startChildReader, tempSocketDir, waitFor } from "../helpers.ts";

function publisherWith(options: UnixDgramSinkOptions) {
  const sink = new UnixDgramSink(options);
  const pub = new MiningEventEmitter({ factory: createEventFactory({ region: "eu", instance: "test" }), sinks: [sink] });
  const updates: EmitterUpdate[] = [];
  pub.subscribe((u) => {
    if (u.kind !== "emitted") updates.push(u);
  });
  return { sink, pub, updates };
}

/** Reader in this process that records the sequence numbers it sees. */
async function liveReader(socketPath: string) {
  const seen: number[] = [];
  let malformed = 0;
  const reader = new DgramReader({
    socketPath,
    onMessage: (m: ReaderMessage) => {
      if (m.ok) seen.push((m.event.data as { height: number }).height);
      else malformed++;
    },
  });
  await reader.start();
  return { reader, seen, malformed: () => malformed };
}

function assertInOrder(seen: number[], from: number, count: number): void {
  assert.equal(seen.length, count);
  for (let i = 0; i < count; i++) if (seen[i] !== from + i) assert.fail(`event ${i} is #${seen[i]}, expected #${from + i}`);
}

describe("UnixDgramSink", () => {
  it("delivers a 100,000-event burst to a live reader in order, losing nothing", async (t) => {
    const tmp = await tempSocketDir();
    const { reader, seen, malformed } = await liveReader(tmp.path());
    const { sink, pub } = publisherWith({ socketPath: tmp.path() });
    await pub.start();
    const n = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pub.emit("share_submitted", numberedShare(i));
    const emitMs = performance.now() - t0;
    await waitFor(() => seen.length === n, 60_000, "all events");
    const totalMs = performance.now() - t0;
    const s = sink.stats();
    t.diagnostic(
      `100k burst, same-process reader: emit loop ${emitMs.toFixed(0)} ms, all delivered after ${totalMs.toFixed(0)} ms, ` +
        `${s.retries} EAGAIN retries, ${s.stalls} stalls`,
    );
    assertInOrder(seen, 0, n);
    assert.equal(malformed(), 0);
    assert.equal(s.sent, n);
    assert.deepEqual(pub.stats().dropped, { queue_full: 0, no_reader: 0, too_large: 0, invalid: 0, error: 0, closed: 0, unconfirmed: 0 });
    await pub.close();
    await reader.close();
    await tmp.cleanup();
  });

  it("delivers a 100,000-event burst to a reader in another process, losing nothing", async (t) => {
    const tmp = await tempSocketDir();
    const n = 100_000;
    const { result } = await startChildReader(tmp.path(), n);
    const { sink, pub } = publisherWith({ socketPath: tmp.path() });
    await pub.start();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pub.emit("share_submitted", numberedShare(i));
    const emitMs = performance.now() - t0;
    const line = await result;
    const totalMs = performance.now() - t0;
    t.diagnostic(`100k burst, reader in a child process: emit loop ${emitMs.toFixed(0)} ms, child had all after ${totalMs.toFixed(0)} ms`);
    assert.equal(line, `done ${n} 0 0`);
    assert.equal(sink.stats().sent, n);
    assert.equal(pub.stats().dropped.queue_full, 0);
    await pub.close();
    await tmp.cleanup();
  });

  it("without a reader, counts every event as dropped and never blocks emit()", async (t) => {
    const tmp = await tempSocketDir();
    const { sink, pub, updates } = publisherWith({ socketPath: tmp.path("missing.sock"), queueMax: 1_000 });
    await pub.start();
    const n = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pub.emit("share_submitted", numberedShare(i)); // synchronous: nothing awaited
    const emitMs = performance.now() - t0;
    t.diagnostic(`100k emits with no reader: ${emitMs.toFixed(0)} ms (${((emitMs * 1000) / n).toFixed(2)} µs/emit)`);
    assert.ok(emitMs < 5_000, `emit loop took ${emitMs} ms`);
    let s = sink.stats();
    assert.equal(s.state, "no_reader");
    assert.equal(s.queued, 1_000, "holds the newest queueMax events for a reader that comes back");
    assert.equal(s.dropped.no_reader, n - 1_000);
    assert.ok(s.lastError?.includes("No such file"), String(s.lastError));
    assert.ok(updates.some((u) => u.kind === "sink_state" && u.state === "no_reader"));
    const c0 = performance.now();
    await pub.close();
    assert.ok(performance.now() - c0 < 1_000, "close() gives up at once when nobody reads");
    s = sink.stats();
    assert.equal(s.dropped.no_reader, n);
    assert.equal(s.sent, 0);
    assert.equal(pub.stats().queued, 0);
    await tmp.cleanup();
  });

  it("treats a stale socket file (reader died) as no reader", async () => {
    const tmp = await tempSocketDir();
    const { reader } = await liveReader(tmp.path());
    // Simulate a crashed reader: its socket file stays behind.
    (reader as unknown as { boundIno: null }).boundIno = null;
    await reader.close();
    const { sink, pub } = publisherWith({ socketPath: tmp.path() });
    await pub.start();
    pub.emit("share_submitted", numberedShare(0));
    assert.equal(sink.stats().state, "no_reader");
    assert.match(String(sink.stats().lastError), /refused/i);
    await pub.close();
    assert.equal(sink.stats().dropped.no_reader, 1);
    await tmp.cleanup();
  });

  it("delivers held and new events once a reader appears, and again after it restarts", async () => {
    const tmp = await tempSocketDir();
    const { sink, pub, updates } = publisherWith({ socketPath: tmp.path(), noReaderRetryMs: { min: 5, max: 20 } });
    await pub.start();
    for (let i = 0; i < 5; i++) pub.emit("share_submitted", numberedShare(i));
    assert.equal(sink.stats().state, "no_reader");

    const first = await liveReader(tmp.path());
    await waitFor(() => first.seen.length === 5, 5_000, "held events");
    for (let i = 5; i < 10; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => first.seen.length === 10, 5_000, "new events");
    assertInOrder(first.seen, 0, 10);
    assert.equal(sink.stats().state, "ready");

    await first.reader.close(); // collector restart
    for (let i = 10; i < 15; i++) pub.emit("share_submitted", numberedShare(i));
    const second = await liveReader(tmp.path());
    await waitFor(() => second.seen.length === 5, 5_000, "events after restart");
    assertInOrder(second.seen, 10, 5);
    const states = updates.filter((u) => u.kind === "sink_state").map((u) => (u.kind === "sink_state" ? u.state : ""));
    assert.deepEqual(states, ["ready", "no_reader", "ready", "no_reader", "ready"]);
    assert.deepEqual(pub.stats().dropped.no_reader, 0);
    await pub.close();
    await second.reader.close();
    await tmp.cleanup();
  });

  it("refuses an oversized event before the socket, and counts what the kernel refuses as too_large", async () => {
    const tmp = await tempSocketDir();
    const { reader, seen } = await liveReader(tmp.path());
    const { sink, pub } = publisherWith({ socketPath: tmp.path() });
    await pub.start();
    assert.equal(pub.emit("share_submitted", { ...numberedShare(0), worker: "w".repeat(4096) }), false);
    assert.equal(pub.stats().dropped.too_large, 1);
    // A datagram past SO_SNDBUF (kernel EMSGSIZE) straight into the sink: dropped, counted, delivery goes on.
    sink.send(Buffer.alloc(8 * 1024 * 1024, 0x20), "share_submitted");
    pub.emit("share_submitted", numberedShare(1));
    await waitFor(() => seen.length === 1, 5_000, "the normal event");
    assert.deepEqual(seen, [1]);
    assert.equal(sink.stats().dropped.too_large, 1);
    assert.equal(pub.stats().dropped.too_large, 2);
    await pub.close();
    await reader.close();
    await tmp.cleanup();
  });

  it("backs off instead of spinning while the reader is stopped, drops oldest past queueMax, and recovers", async (t) => {
    const tmp = await tempSocketDir();
    const n = 2_000;
    const queueMax = 500;
    const { child, result } = await startChildReader(tmp.path(), 100_000); // never "done": we count via stats
    const { sink, pub } = publisherWith({ socketPath: tmp.path(), queueMax, congestedBackoffMs: { min: 2, max: 50 } });
    await pub.start();
    try {
      process.kill(child.pid!, "SIGSTOP");
      for (let i = 0; i < n; i++) pub.emit("share_submitted", numberedShare(i));
      await waitFor(() => sink.stats().stalls >= 2, 5_000, "stalls");
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 300)); // measuring CPU over a window, not synchronising
      const cpu = process.cpuUsage(cpu0);
      const busy = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
      t.diagnostic(`stopped reader: CPU ${(busy * 100).toFixed(1)} % of a core while backing off, ${sink.stats().stalls} stalls`);
      assert.ok(busy < 0.5, `sink busy-looped: ${busy}`);
      const s = sink.stats();
      assert.equal(s.state, "congested");
      assert.equal(s.queued, queueMax);
      assert.equal(s.dropped.queue_full + s.queued + s.sent, n);
      process.kill(child.pid!, "SIGCONT");
      await waitFor(() => sink.stats().queued === 0, 10_000, "queue drained");
      assert.equal(sink.stats().state, "ready");
      assert.equal(sink.stats().sent + sink.stats().dropped.queue_full, n);
    } finally {
      process.kill(child.pid!, "SIGCONT");
      child.kill();
      await result;
      await pub.close();
      await tmp.cleanup();
    }
  });

  it("close() flushes what is queued to a live reader", async () => {
    const tmp = await tempSocketDir();
    const { reader, seen } = await liveReader(tmp.path());
    const { sink, pub } = publisherWith({ socketPath: tmp.path(), flushTimeoutMs: 5_000 });
    await pub.start();
    for (let i = 0; i < 5_000; i++) pub.emit("share_submitted", numberedShare(i));
    assert.ok(sink.stats().queued > 0, "burst should be queued behind EAGAIN");
    await pub.close();
    assert.equal(sink.stats().queued, 0);
    assert.equal(sink.stats().sent, 5_000);
    await waitFor(() => seen.length === 5_000, 5_000, "reader drained");
    assertInOrder(seen, 0, 5_000);
    await reader.close();
    await tmp.cleanup();
  });
});
