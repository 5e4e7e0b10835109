import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createEventFactory, createUuidV7 } from "../../src/pipeline/events/envelope.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import { EXAMPLE_DATA } from "./fixtures.ts";

/** Milliseconds encoded in a UUIDv7's first 48 bits (RFC 9562 §5.7). */
function uuidMs(id: string): number {
  return parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}

function steppingClock(values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

describe("event envelope factory", () => {
  it("stamps integer microseconds from the injected millisecond clock", () => {
    const f = createEventFactory({ region: "eu", instance: "pool-eu-1", now: () => 1763769600123.25 });
    const ev = f.make("relay_state", EXAMPLE_DATA.relay_state);
    assert.equal(ev.timestamp, 1763769600123250);
    assert.ok(Number.isInteger(ev.timestamp));
    assert.equal(ev.source, "hosted");
    assert.equal(ev.region, "eu");
    assert.equal(ev.instance, "pool-eu-1");
    assert.equal(ev.event, "relay_state");
    assert.equal(ev.data, EXAMPLE_DATA.relay_state);
    const v = validateEvent(ev);
    assert.ok(v.ok, v.ok ? "" : v.error);
  });

  it("makes UUIDv7 ids whose millisecond matches the timestamp", () => {
    const f = createEventFactory({ region: "eu", instance: "i", now: () => 1763769600999.9 });
    const ev = f.make("relay_state", EXAMPLE_DATA.relay_state);
    assert.match(ev.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(uuidMs(ev.event_id), 1763769600999);
    assert.equal(Math.floor(ev.timestamp / 1000), 1763769600999);
  });

  it("keeps ids strictly increasing within one millisecond and when the clock steps back", () => {
    const times = [1763769600000, ...Array(5000).fill(1763769600001), 1763769599000, 1763769599000, 1763769600002];
    const f = createEventFactory({ region: "eu", instance: "i", now: steppingClock(times) });
    const ids = times.map(() => f.make("relay_state", EXAMPLE_DATA.relay_state).event_id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `id ${i} not after id ${i - 1}: ${ids[i - 1]} ${ids[i]}`);
    assert.equal(new Set(ids).size, ids.length);
  });

  it("stays ordered when the counter crosses 2^31 within one millisecond", () => {
    // random bytes 0x7f/0xff seed the counter at 0x7fffffff; the next id must still sort after it.
    const next = createUuidV7(() => new Uint8Array(16).fill(0xff));
    const a = next(1000);
    const b = next(1000);
    assert.ok(b > a, `${a} ${b}`);
    assert.equal(uuidMs(b), 1000);
  });

  it("uses an injected id generator", () => {
    const f = createEventFactory({ region: "eu", instance: "i", now: () => 1e12, uuid: () => "fixed" });
    assert.equal(f.make("relay_state", EXAMPLE_DATA.relay_state).event_id, "fixed");
  });

  it("defaults to a sub-millisecond wall clock", () => {
    const f = createEventFactory({ region: "us-east", instance: "relay-1" });
    const before = Date.now() * 1000;
    const ts = f.make("relay_state", EXAMPLE_DATA.relay_state).timestamp;
    assert.ok(Math.abs(ts - before) < 5_000_000, `${ts} vs ${before}`);
  });

  it("refuses a bad region or instance with EVENTS_CONFIG_INVALID", () => {
    for (const opts of [{ region: "EU", instance: "i" }, { region: "", instance: "i" }, { region: "eu", instance: "" }]) {
      assert.throws(() => createEventFactory(opts), { code: "EVENTS_CONFIG_INVALID" });
    }
  });
});
