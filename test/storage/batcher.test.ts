import { test } from "node:test";
import assert from "node:assert/strict";
import { Batcher, type EventOutcome } from "../../src/pipeline/storage/batcher.ts";
import type { EventStore, WriteResult } from "../../src/pipeline/storage/event-store.ts";
import { StoreUnavailableError } from "../../src/pipeline/storage/errors.ts";
import type { StreamSink, StreamSinkStats } from "../../src/pipeline/storage/redis-streams.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import { makeShares, waitFor } from "./fixtures.ts";

/** In-memory store keyed by event_id; can be told to fail transiently or to refuse one event's data. */
class FakeStore implements EventStore {
  rows = new Map<string, MiningEvent>();
  calls = 0;
  failNext = 0;
  /** Calls (1-based) that fail transiently, whatever they carry. */
  failCalls = new Set<number>();
  /** Every call fails transiently from this call number on. */
  failFromCall = Infinity;
  poisonId: string | undefined;
  async writeBatch(events: readonly MiningEvent[]): Promise<WriteResult> {
    this.calls++;
    if (this.failNext > 0 || this.failCalls.has(this.calls) || this.calls >= this.failFromCall) {
      if (this.failNext > 0) this.failNext--;
      throw new StoreUnavailableError("down", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    }
    if (events.some((e) => e.event_id === this.poisonId)) throw Object.assign(new Error("invalid input syntax"), { code: "22P02" });
    const inserted: MiningEvent[] = [];
    for (const e of events) {
      if (this.rows.has(e.event_id)) continue;
      this.rows.set(e.event_id, e);
      inserted.push(e);
    }
    return { inserted: inserted.length, duplicates: events.length - inserted.length, insertedEvents: inserted };
  }
  async close(): Promise<void> {}
}

class FakeSink implements StreamSink {
  written: MiningEvent[] = [];
  write(events: readonly MiningEvent[]): void {
    this.written.push(...events);
  }
  stats(): StreamSinkStats {
    return { written: this.written.length, backlog: 0, dropped: 0, errors: 0, connected: true, lastError: undefined };
  }
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

test("flushes at maxBatchEvents, sends only inserted events to the sink, reports outcomes after commit", async () => {
  const store = new FakeStore();
  const sink = new FakeSink();
  const committed: number[] = [];
  const b = new Batcher({ store, sink, maxBatchEvents: 100, flushIntervalMs: 60_000, onCommitted: (c) => committed.push(c.events.length) });
  const events = makeShares(250);
  const outcomes: EventOutcome[] = [];
  for (const e of events) b.push(e, (o) => outcomes.push(o));
  b.push(events[0], (o) => outcomes.push(o));
  await b.flush();
  assert.equal(store.rows.size, 250);
  assert.equal(sink.written.length, 250);
  assert.deepEqual(committed, [100, 100, 51]);
  assert.equal(outcomes.filter((o) => o === "stored").length, 250);
  assert.equal(outcomes.filter((o) => o === "duplicate").length, 1);
  const st = b.stats();
  assert.deepEqual([st.received, st.stored, st.duplicates, st.pending, st.batches], [251, 250, 1, 0, 3]);
  await b.close();
});

test("a transient store failure retries the same batch until it commits; nothing lost or doubled", async () => {
  const store = new FakeStore();
  store.failNext = 3;
  const errors: number[] = [];
  const b = new Batcher({ store, retryInitialMs: 1, retryMaxMs: 4, onError: (_e, c) => errors.push(c.retryInMs ?? -1) });
  for (const e of makeShares(10)) b.push(e);
  await b.flush();
  assert.equal(store.rows.size, 10);
  assert.equal(store.calls, 4);
  assert.deepEqual(errors, [1, 2, 4]);
  assert.equal(b.stats().storeErrors, 3);
  await b.close();
});

test("an event the database refuses is isolated by splitting; the rest of the batch commits", async () => {
  const store = new FakeStore();
  const events = makeShares(64);
  store.poisonId = events[37].event_id;
  const outcomes = new Map<string, EventOutcome>();
  const b = new Batcher({ store });
  for (const e of events) b.push(e, (o) => outcomes.set(e.event_id, o));
  await b.flush();
  assert.equal(store.rows.size, 63);
  assert.equal(outcomes.get(events[37].event_id), "rejected");
  assert.equal(b.stats().rejected, 1);
  assert.ok(store.calls <= 1 + 2 * Math.ceil(Math.log2(64)), `calls ${store.calls}`);
  await b.close();
});

/** Records every outcome per event, to catch a callback that fires twice. */
function outcomeLog(): { log: Map<string, EventOutcome[]>; done: (e: MiningEvent) => (o: EventOutcome) => void } {
  const log = new Map<string, EventOutcome[]>();
  return { log, done: (e) => (o) => log.set(e.event_id, [...(log.get(e.event_id) ?? []), o]) };
}

test("a transient failure after a split retries only what is not yet committed or rejected: one outcome per event, no inflated counters", async () => {
  // 8 events, the 7th refused for its data: [0..7] data error → [0..3] commits → [4..7] fails transiently.
  // The retry must write [4..7] only; re-writing [0..3] turned "stored" into a second "duplicate" callback.
  const store = new FakeStore();
  const events = makeShares(8);
  store.poisonId = events[6].event_id;
  store.failCalls.add(3);
  const { log, done } = outcomeLog();
  const b = new Batcher({ store, retryInitialMs: 1 });
  for (const e of events) b.push(e, done(e));
  await b.flush();
  assert.equal(store.rows.size, 7);
  for (const [i, e] of events.entries()) assert.deepEqual(log.get(e.event_id), [i === 6 ? "rejected" : "stored"], `event ${i}`);
  const st = b.stats();
  // Commits: [0..3], then on the retry [4,5] and [7] ([6] rejected alone).
  assert.deepEqual([st.stored, st.duplicates, st.rejected, st.storeErrors, st.batches, st.pending], [7, 0, 1, 1, 3, 0]);
  await b.close();
});

test("a transient failure after an event was rejected does not reject it again", async () => {
  // [0..3] data error → [0,1] data error → [0] commits, [1] rejected → [2,3] fails transiently → retry [2,3] only.
  const store = new FakeStore();
  const events = makeShares(4);
  store.poisonId = events[1].event_id;
  store.failCalls.add(5);
  const { log, done } = outcomeLog();
  const b = new Batcher({ store, retryInitialMs: 1 });
  for (const e of events) b.push(e, done(e));
  await b.flush();
  assert.deepEqual(events.map((e) => log.get(e.event_id)), [["stored"], ["rejected"], ["stored"], ["stored"]]);
  assert.deepEqual([b.stats().rejected, b.stats().stored, b.stats().duplicates, b.stats().batches], [1, 3, 0, 2]);
  assert.equal(store.calls, 6);
  await b.close();
});

test("closed while retrying the rest of a split batch: committed events keep their outcome, only the others are aborted", async () => {
  const store = new FakeStore();
  const events = makeShares(8);
  store.poisonId = events[6].event_id;
  store.failFromCall = 3;
  const { log, done } = outcomeLog();
  const b = new Batcher({ store, retryInitialMs: 5, retryMaxMs: 5 });
  for (const e of events) b.push(e, done(e));
  void b.flush();
  await b.close(50);
  for (const [i, e] of events.entries()) assert.deepEqual(log.get(e.event_id), [i < 4 ? "stored" : "aborted"], `event ${i}`);
});

test("pushRaw counts malformed input without throwing; valid input goes through", async () => {
  const store = new FakeStore();
  const b = new Batcher({ store, validate: validateEvent });
  const outcomes: EventOutcome[] = [];
  b.pushRaw(Buffer.from("{not json"), (o) => outcomes.push(o));
  b.pushRaw(JSON.stringify({ event: "share_submitted", event_id: "x" }), (o) => outcomes.push(o));
  b.pushRaw(Buffer.from(JSON.stringify(makeShares(1)[0])), (o) => outcomes.push(o));
  await b.flush();
  assert.deepEqual(outcomes, ["malformed", "malformed", "stored"]);
  assert.deepEqual([b.stats().malformed, b.stats().stored], [2, 1]);
  await b.close();
});

test("back-pressure: pushes beyond maxPendingEvents are refused as dropped", async () => {
  const store = new FakeStore();
  const b = new Batcher({ store, maxPendingEvents: 5, maxBatchEvents: 1_000 });
  const results = makeShares(8).map((e) => b.push(e));
  assert.deepEqual(results, [true, true, true, true, true, false, false, false]);
  assert.equal(b.stats().dropped, 3);
  await b.flush();
  assert.equal(store.rows.size, 5);
  await b.close();
});

test("close gives up on a store that stays down and aborts what it holds", async () => {
  const store = new FakeStore();
  store.failNext = 1_000_000;
  const outcomes: EventOutcome[] = [];
  const b = new Batcher({ store, retryInitialMs: 5, retryMaxMs: 5 });
  for (const e of makeShares(3)) b.push(e, (o) => outcomes.push(o));
  void b.flush();
  await b.close(50);
  assert.deepEqual(outcomes, ["aborted", "aborted", "aborted"]);
  assert.equal(b.push(makeShares(1)[0]), false);
});

test("close(timeoutMs) returns in bounded time when a write never returns: the write is abandoned, its events and the queued ones aborted once", async () => {
  // A half-open TCP connection: writeBatch neither resolves nor rejects (until the test lets it).
  let release: (() => void) | undefined;
  const hung = new FakeStore();
  const inner = hung.writeBatch.bind(hung);
  hung.writeBatch = async (events) => {
    if (hung.calls++ === 0) await new Promise<void>((resolve) => (release = resolve));
    return await inner(events);
  };
  const events = makeShares(5);
  const { log, done } = outcomeLog();
  const b = new Batcher({ store: hung, maxBatchEvents: 3, flushIntervalMs: 60_000 });
  for (const e of events) b.push(e, done(e)); // the first 3 go to the store at once, 2 stay queued
  assert.equal(hung.calls, 1);
  const started = performance.now();
  await b.close(200);
  const tookMs = performance.now() - started;
  assert.ok(tookMs < 1_000, `close took ${tookMs.toFixed(0)} ms`);
  for (const [i, e] of events.entries()) assert.deepEqual(log.get(e.event_id), ["aborted"], `event ${i}`);
  assert.deepEqual([b.stats().aborted, b.stats().abandonedWrites, b.stats().pending], [5, 1, 0]);
  // The abandoned write commits after all: counted as stored, but no second outcome.
  release!();
  await waitFor(() => b.stats().batches === 1, "the abandoned write finished");
  assert.equal(b.stats().stored, 3);
  for (const e of events) assert.equal(log.get(e.event_id)?.length, 1);
});

test("the interval timer flushes without an explicit flush()", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const store = new FakeStore();
  const b = new Batcher({ store, flushIntervalMs: 1_000 });
  b.start();
  const committed = new Promise<void>((resolve) => b.push(makeShares(1)[0], () => resolve()));
  assert.equal(store.calls, 0);
  t.mock.timers.tick(1_000);
  await committed;
  assert.equal(store.rows.size, 1);
  await b.close();
});

test("a 20,000-deep value is refused (rejected at push(), malformed at pushRaw()), never a thrown RangeError; block_found too", async () => {
  const store = new FakeStore();
  const b = new Batcher({ store, maxBatchEvents: 100, flushIntervalMs: 60_000, validate: validateEvent });
  let deep: unknown = "x\u0000";
  for (let i = 0; i < 20_000; i++) deep = [deep];
  const outcomes: Array<[EventOutcome, string | undefined]> = [];
  const [share] = makeShares(1);
  const poisoned = { ...share!, data: { ...(share!.data as object), extra: deep } } as unknown as MiningEvent;
  assert.equal(b.push(poisoned, (o, d) => outcomes.push([o, d])), false);
  const block = { ...poisoned, event: "block_found" } as unknown as MiningEvent;
  assert.equal(b.push(block, (o, d) => outcomes.push([o, d])), false);
  const raw = `{"v":1,"event":"share_submitted","data":{"x":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`;
  assert.equal(b.pushRaw(raw, (o, d) => outcomes.push([o, d])), false);
  assert.deepEqual(outcomes.map(([o]) => o), ["rejected", "rejected", "malformed"]);
  assert.match(outcomes[0]![1] ?? "", /nested deeper than 64 levels/);
  assert.equal(b.stats().pending, 0);
  await b.close();
});
