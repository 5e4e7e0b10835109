/**
 * Delivery confirmations on the Unix datagram socket (src/events/confirm.ts), real sockets both ways:
 * the engine's sink (bound to its ack path) and a reader that confirms what it chooses to, or the real
 * JetStreamPublisher (tbg publisher's code), which confirms once an event is in its spool file.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { decodeConfirm, encodeConfirm, eventIdOf, ReaderConfirmer } from "../../../src/pipeline/events/confirm.ts";
import { DgramReader, type ReaderMessage } from "../../../src/pipeline/events/dgram-reader.ts";
import { MiningEventEmitter } from "../../../src/pipeline/events/emitter.ts";
import { createEventFactory } from "../../../src/pipeline/events/envelope.ts";
import { UnixDgramSink, type UnixDgramSinkOptions } from "../../../src/pipeline/events/sinks/unix-dgram.ts";
import { JetStreamPublisher } from "../../../src/pipeline/nats/publisher.ts";
import { freePort } from "../../support/servers.ts";
import { numberedShare, tempSocketDir, waitFor } from "../helpers.ts";

function engine(options: UnixDgramSinkOptions) {
  const sink = new UnixDgramSink(options);
  const pub = new MiningEventEmitter({ factory: createEventFactory({ region: "eu", instance: "test" }), sinks: [sink] });
  return { sink, pub };
}

/** A collector-like reader: reads and validates, never confirms. */
async function countingCollector(socketPath: string) {
  let got = 0;
  const reader = new DgramReader({ socketPath, onMessage: (m: ReaderMessage) => void (m.ok && got++) });
  await reader.start();
  return { got: () => got, close: () => reader.close() };
}

/** Emits shares `from` … `to - 1`, pausing 5 ms every 50 so a reader keeps up. */
async function emitPaced(pub: MiningEventEmitter, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    pub.emit("share_submitted", numberedShare(i));
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A reader that confirms the events `confirmIf` accepts (every one by default), recording heights in
 * arrival order. The others it "loses", as a reader killed with them would: never tracked, never confirmed.
 */
async function confirmingReader(socketPath: string, confirmIf: (height: number, copy: number) => boolean = () => true) {
  const seen: number[] = [];
  const copies = new Map<number, number>();
  const confirmer = new ReaderConfirmer();
  const reader = new DgramReader({
    socketPath,
    onMessage: (m: ReaderMessage) => {
      if (!m.ok) return;
      const h = (m.event.data as { height: number }).height;
      seen.push(h);
      const copy = (copies.get(h) ?? 0) + 1;
      copies.set(h, copy);
      if (confirmIf(h, copy)) confirmer.done(confirmer.track(m.sender, m.event.event_id));
    },
  });
  await reader.start();
  return { reader, seen, confirmer, async close() {
    await reader.close();
    await confirmer.close();
  } };
}

describe("delivery confirmations", () => {
  it("the wire format round-trips, refuses anything else, and the engine reads event_id without parsing", () => {
    const ids = ["019a8f3e-4c1b-7d2e-9f10-3a4b5c6d7e8f", "019a8f3e-4c1b-7d2e-9f10-3a4b5c6d7e90"];
    assert.deepEqual(decodeConfirm(encodeConfirm(ids)), ids);
    assert.equal(decodeConfirm(Buffer.from('{"event":"share_submitted"}')), null);
    assert.equal(decodeConfirm(Buffer.from("TBGC1\nnot-an-id")), null);
    // One bad id does not cost the others their confirmation.
    assert.deepEqual(decodeConfirm(Buffer.from(`TBGC1\n${ids[0]}\nnot-an-id\n${ids[1]}`)), ids);
    const datagram = Buffer.from(JSON.stringify({ event: "share_submitted", event_id: ids[0], timestamp: 1 }));
    assert.equal(eventIdOf(datagram), ids[0]);
    assert.equal(eventIdOf(Buffer.from("{}")), null);
  });

  it("a confirming reader empties the window: nothing resent, nothing counted", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const r = await confirmingReader(tmp.path());
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack") });
    await pub.start();
    for (let i = 0; i < 2_000; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => sink.stats().confirm.confirmed === 2_000, 20_000, "2000 confirmations");
    const c = sink.stats().confirm;
    assert.deepEqual([c.readerConfirms, c.awaiting, c.resent, c.probes, sink.stats().dropped.unconfirmed], [true, 0, 0, 0, 0]);
    assert.equal(r.seen.length, 2_000);
    await pub.close();
    await r.close();
    assert.equal(existsSync(tmp.path("engine.ack")), false, "the ack socket file is removed at close");
  });

  it("events sent before a confirmed one and never confirmed are sent again (what a killed reader took with it)", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    // The first copies of #3..#7 "die with the reader": never confirmed.
    const r = await confirmingReader(tmp.path(), (h, copy) => !(h >= 3 && h <= 7 && copy === 1));
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack") });
    await pub.start();
    for (let i = 0; i < 20; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => sink.stats().confirm.confirmed === 20 && sink.stats().confirm.awaiting === 0, 10_000, "every event confirmed");
    assert.equal(sink.stats().confirm.resent, 5);
    assert.deepEqual(r.seen.filter((h) => h >= 3 && h <= 7).sort((a, b) => a - b), [3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    assert.equal(sink.stats().dropped.unconfirmed, 0);
    await pub.close();
    await r.close();
  });

  it("an event a reader never confirms is resent ackMaxResends times, then counted unconfirmed", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const r = await confirmingReader(tmp.path(), (h) => h !== 0);
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack"), ackMaxResends: 2 });
    await pub.start();
    // Each later confirmed event shows #0 lost once more.
    for (let i = 1; i <= 4; i++) {
      pub.emit("share_submitted", numberedShare(i === 1 ? 0 : i));
      if (i === 1) continue;
      await waitFor(() => r.seen.filter((h) => h === 0).length === Math.min(i, 3) && sink.stats().confirm.awaiting <= 1, 10_000, `round ${i}`);
    }
    await waitFor(() => sink.stats().dropped.unconfirmed === 1, 10_000, "#0 given up");
    assert.equal(sink.stats().confirm.resent, 2);
    await pub.close();
    await r.close();
  });

  it("close() waits for confirmations; a reader that stopped confirming leaves them counted unconfirmed", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    let confirming = true;
    const r = await confirmingReader(tmp.path(), () => confirming);
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack"), flushTimeoutMs: 300 });
    await pub.start();
    pub.emit("share_submitted", numberedShare(0));
    await waitFor(() => sink.stats().confirm.confirmed === 1, 5_000, "first confirmation");
    confirming = false;
    for (let i = 1; i <= 5; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => r.seen.length === 6, 5_000, "all received");
    await pub.close();
    assert.equal(pub.stats().dropped.unconfirmed, 5);
    await r.close();
  });

  it("after a quiet spell the oldest unconfirmed event is re-sent as a probe; a new reader's confirmation brings back the rest", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    let alive = true;
    const first = await confirmingReader(tmp.path(), () => alive);
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack"), ackProbeMs: 200 });
    await pub.start();
    pub.emit("share_submitted", numberedShare(0));
    await waitFor(() => sink.stats().confirm.confirmed === 1, 5_000, "first confirmation");
    alive = false; // "dies" holding the next three
    for (let i = 1; i <= 3; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => first.seen.length === 4, 5_000, "received by the first reader");
    await first.close();
    const second = await confirmingReader(tmp.path());
    // The engine emits nothing more: only the probe can bring #1..#3 to the new reader.
    await waitFor(() => sink.stats().confirm.awaiting === 0, 10_000, "everything confirmed by the new reader");
    assert.deepEqual([...second.seen].sort(), [1, 2, 3]);
    assert.ok(sink.stats().confirm.probes >= 1);
    await pub.close();
    await second.close();
    assert.equal(pub.stats().dropped.unconfirmed, 0);
  });

  it("tbg publisher's pipeline confirms once the event is in its spool file (NATS unreachable meanwhile)", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const publisher = new JetStreamPublisher({ socketPath: tmp.path(), natsUrl: `nats://127.0.0.1:${await freePort()}`, region: "eu", spoolDir: join(tmp.dir, "spool") });
    await publisher.start();
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack") });
    await pub.start();
    for (let i = 0; i < 500; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => sink.stats().confirm.confirmed === 500, 20_000, "500 confirmations");
    assert.equal(publisher.stats().spool.unacked, 500);
    assert.equal(publisher.stats().confirms.confirmed, 500);
    await pub.close();
    await publisher.close();
  });

  it("a confirming reader replaced by a collector that does not confirm: the sink stops expecting confirmations, nothing counted unconfirmed", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const r1 = await confirmingReader(tmp.path());
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack"), ackWindow: 500, ackProbeMs: 200, flushTimeoutMs: 2_000 });
    await pub.start();
    for (let i = 0; i < 100; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => sink.stats().confirm.confirmed === 100, 20_000, "100 confirmed");
    await r1.close();
    const collector = await countingCollector(tmp.path());
    t.after(() => collector.close());
    await emitPaced(pub, 100, 2_100);
    await waitFor(() => collector.got() >= 2_000, 20_000, "2000 at the collector");
    // The reader was a confirming one and the collector took over without a gap: the window is kept, as it
    // would be for a frozen publisher (its events are what is sent again if it dies).
    const awaitingWithCollector = sink.stats().confirm.awaiting;
    await pub.close();
    assert.equal(awaitingWithCollector, 500);
    const s = sink.stats();
    assert.equal(s.dropped.unconfirmed, 0, JSON.stringify(s.confirm));
    assert.equal(s.confirm.readerConfirms, false);
    assert.equal(s.confirm.silentFallbacks, 1);
  });

  it("a reader that has never confirmed (a collector): past a whole window the sink stops tracking, and a confirming reader's first confirmation starts it again", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const collector = await countingCollector(tmp.path());
    const { sink, pub } = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack"), ackWindow: 500, flushTimeoutMs: 2_000 });
    await pub.start();
    t.after(() => pub.close());
    await emitPaced(pub, 0, 1_000);
    await waitFor(() => collector.got() >= 1_000, 20_000, "1000 at the collector");
    assert.equal(sink.stats().confirm.awaiting, 0, "nothing kept for a reader that never confirms");
    await collector.close();
    // Events go on while the collector is away: the sink finds no reader, so the next one starts a fresh window.
    pub.emit("share_submitted", numberedShare(999_999));
    await waitFor(() => sink.stats().state === "no_reader", 5_000, "no reader");
    const r = await confirmingReader(tmp.path());
    t.after(() => r.close());
    for (let i = 1_000; i < 1_100; i++) pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => sink.stats().confirm.confirmed >= 90, 20_000, "the publisher confirms");
    assert.equal(sink.stats().confirm.readerConfirms, true);
    assert.equal(sink.stats().dropped.unconfirmed, 0);
  });

  it("a second engine on the same ack path does not take over the first one's socket", async (t) => {
    const tmp = await tempSocketDir();
    t.after(() => tmp.cleanup());
    const r = await confirmingReader(tmp.path());
    t.after(() => r.close());
    const a = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack") });
    await a.pub.start();
    const b = engine({ socketPath: tmp.path(), ackSocketPath: tmp.path("engine.ack") });
    await b.pub.start();
    const err = b.sink.stats().confirm.error;
    assert.equal(err?.code, "EVENTS_ACK_SOCKET_IN_USE");
    assert.match(err!.message, /events\.ack_socket_path/);
    assert.equal(a.sink.stats().confirm.error, null);
    // The first engine still gets its confirmations.
    for (let i = 0; i < 50; i++) a.pub.emit("share_submitted", numberedShare(i));
    await waitFor(() => a.sink.stats().confirm.confirmed === 50, 20_000, "engine A confirmed");
    assert.equal(a.sink.stats().confirm.malformed, 0, "the probe is not counted as a malformed confirmation");
    await b.pub.close();
    await a.pub.close();
  });
});
