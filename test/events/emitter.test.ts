import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MiningEventEmitter, parseEventTypes } from "../../src/pipeline/events/emitter.ts";
import type { EmitterUpdate } from "../../src/pipeline/events/emitter.ts";
import { createEventFactory } from "../../src/pipeline/events/envelope.ts";
import { MemorySink } from "../../src/pipeline/events/sinks/memory.ts";
import { emptyDropCounts } from "../../src/pipeline/events/sink.ts";
import type { EventSink } from "../../src/pipeline/events/sink.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import type { RelayStateData } from "../../src/pipeline/events/types.ts";
import { EXAMPLE_DATA } from "./fixtures.ts";

const factory = () => createEventFactory({ region: "eu", instance: "test", now: () => 1763769600000.5 });

function setup(opts: Partial<ConstructorParameters<typeof MiningEventEmitter>[0]> = {}) {
  const sink = new MemorySink();
  const pub = new MiningEventEmitter({ factory: factory(), sinks: [sink], ...opts });
  const updates: EmitterUpdate[] = [];
  pub.subscribe((u) => updates.push(u));
  return { sink, pub, updates };
}

describe("MiningEventEmitter", () => {
  it("serialises once and hands the same bytes to every sink", () => {
    const a = new MemorySink({ name: "a" });
    const b = new MemorySink({ name: "b" });
    const pub = new MiningEventEmitter({ factory: factory(), sinks: [a, b] });
    assert.equal(pub.emit("share_submitted", EXAMPLE_DATA.share_submitted), true);
    assert.equal(a.received.length, 1);
    assert.equal(a.received[0], b.received[0]);
    const r = validateEvent(a.received[0]);
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual(r.event.data, EXAMPLE_DATA.share_submitted);
    const s = pub.stats();
    assert.equal(s.emitted, 1);
    assert.equal(s.emittedByType.share_submitted, 1);
    assert.equal(s.sinks.a.sent, 1);
  });

  it("drops disabled types as filtered without serialising them", () => {
    const { sink, pub, updates } = setup({ enabledTypes: ["block_found", "relay_state"] });
    assert.equal(pub.isEnabled("share_submitted"), false);
    assert.equal(pub.emit("share_submitted", EXAMPLE_DATA.share_submitted), false);
    assert.equal(pub.emit("relay_state", EXAMPLE_DATA.relay_state), true);
    assert.equal(sink.received.length, 1);
    assert.deepEqual(pub.stats().filtered, 1);
    assert.deepEqual(updates.map((u) => u.kind), ["filtered", "emitted"]);
    pub.setEnabledTypes(["share_submitted"]);
    assert.equal(pub.emit("relay_state", EXAMPLE_DATA.relay_state), false);
    assert.equal(pub.emit("share_submitted", EXAMPLE_DATA.share_submitted), true);
  });

  it("parses a config mask and refuses unknown type names", () => {
    assert.deepEqual([...parseEventTypes(["block_found", "relay_state"])], ["block_found", "relay_state"]);
    assert.throws(() => parseEventTypes(["block_found", "share_accepted"]), { code: "EVENTS_CONFIG_INVALID" });
  });

  it("refuses and counts an oversized event", () => {
    const { sink, pub, updates } = setup();
    const huge: RelayStateData = { ...EXAMPLE_DATA.relay_state, reason: "x".repeat(5000) };
    assert.equal(pub.emit("relay_state", huge), false);
    assert.equal(sink.received.length, 0);
    assert.equal(pub.stats().dropped.too_large, 1);
    assert.deepEqual(updates, [{ kind: "dropped", type: "relay_state", reason: "too_large", sink: null }]);
  });

  it("validates when asked and counts invalid events", () => {
    const { sink, pub } = setup({ validate: true });
    assert.equal(pub.emit("relay_state", { ...EXAMPLE_DATA.relay_state, state: "asleep" as "independent" }), false);
    assert.equal(pub.emit("relay_state", EXAMPLE_DATA.relay_state), true);
    assert.equal(sink.received.length, 1);
    assert.equal(pub.stats().dropped.invalid, 1);
  });

  it("never throws: bad data, a throwing clock, a throwing sink or listener are counted", () => {
    const throwingSink: EventSink = {
      name: "bad",
      attach() {},
      send() {
        throw new Error("boom");
      },
      stats: () => ({ state: "ready", sent: 0, queued: 0, dropped: emptyDropCounts() }),
      start: async () => {},
      close: async () => {},
    };
    const good = new MemorySink();
    const pub = new MiningEventEmitter({ factory: factory(), sinks: [throwingSink, good] });
    pub.subscribe(() => {
      throw new Error("listener");
    });
    const cyclic: Record<string, unknown> = { ...EXAMPLE_DATA.relay_state };
    cyclic.self = cyclic;
    assert.equal(pub.emit("relay_state", cyclic as unknown as RelayStateData), false);
    assert.equal(pub.emit("relay_state", { ...EXAMPLE_DATA.relay_state, n: 1n } as unknown as RelayStateData), false);
    assert.equal(pub.emit("relay_state", EXAMPLE_DATA.relay_state), true);
    assert.equal(good.received.length, 1, "a throwing sink does not starve the next one");
    const broken = new MiningEventEmitter({
      factory: createEventFactory({ region: "eu", instance: "i", now: () => { throw new Error("clock"); } }),
      sinks: [good],
    });
    assert.equal(broken.emit("relay_state", EXAMPLE_DATA.relay_state), false);
    assert.equal(broken.stats().dropped.error, 1);
    assert.equal(pub.stats().dropped.error, 3); // cycle, BigInt, throwing sink
  });

  it("aggregates sink drops and streams them with the sink name", () => {
    const sink = new MemorySink({ maxItems: 2 });
    const pub = new MiningEventEmitter({ factory: factory(), sinks: [sink] });
    const drops: EmitterUpdate[] = [];
    const unsubscribe = pub.subscribe((u) => u.kind === "dropped" && drops.push(u));
    for (let i = 0; i < 5; i++) pub.emit("relay_state", EXAMPLE_DATA.relay_state);
    unsubscribe();
    pub.emit("relay_state", EXAMPLE_DATA.relay_state);
    assert.equal(pub.stats().dropped.queue_full, 4);
    assert.equal(drops.length, 3);
    assert.deepEqual(drops[0], { kind: "dropped", type: "relay_state", reason: "queue_full", sink: "memory" });
  });

  it("refuses events after close() as closed", async () => {
    const { sink, pub } = setup();
    await pub.start();
    await pub.close();
    assert.equal(pub.emit("relay_state", EXAMPLE_DATA.relay_state), false);
    assert.equal(pub.stats().dropped.closed, 1);
    assert.equal(sink.received.length, 0);
  });

  it("refuses two sinks with the same name", () => {
    assert.throws(() => new MiningEventEmitter({ factory: factory(), sinks: [new MemorySink(), new MemorySink()] }), {
      code: "EVENTS_CONFIG_INVALID",
    });
  });
});
