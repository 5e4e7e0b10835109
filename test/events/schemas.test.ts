import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EVENT_DATA_SCHEMAS, EVENT_SCHEMAS, validateEvent } from "../../src/pipeline/events/schemas.ts";
import { ALL_EVENT_TYPES, MAX_EVENT_BYTES } from "../../src/pipeline/events/types.ts";
import type { EventType } from "../../src/pipeline/events/types.ts";
import { EXAMPLE_DATA, exampleEvent } from "./fixtures.ts";

function expectInvalid(input: unknown, field: string): string {
  const r = validateEvent(input);
  assert.equal(r.ok, false, `expected ${field} to be refused`);
  if (r.ok) throw new Error("unreachable");
  assert.ok(r.error.includes(field), `error should name ${field}: ${r.error}`);
  return r.error;
}

// Tests poke at arbitrary fields of untyped copies.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

/** Deep copy with one change applied by `edit`. */
function mutate<T extends EventType>(type: T, edit: (e: Loose) => void): Loose {
  const e = structuredClone(exampleEvent(type)) as Loose;
  edit(e);
  return e;
}

describe("event schemas", () => {
  it("cover exactly ALL_EVENT_TYPES", () => {
    assert.deepEqual(Object.keys(EVENT_SCHEMAS).sort(), [...ALL_EVENT_TYPES].sort());
    assert.deepEqual(Object.keys(EVENT_DATA_SCHEMAS).sort(), [...ALL_EVENT_TYPES].sort());
  });

  for (const type of ALL_EVENT_TYPES) {
    it(`accept the ${type} example as an object, a JSON string and raw bytes`, () => {
      const ev = exampleEvent(type);
      for (const input of [ev, JSON.stringify(ev), Buffer.from(JSON.stringify(ev))]) {
        const r = validateEvent(input);
        assert.ok(r.ok, r.ok ? "" : r.error);
        assert.deepEqual(r.event, ev);
      }
    });

    it(`refuse ${type} without each required data field, naming the field`, () => {
      for (const field of Object.keys(EXAMPLE_DATA[type])) {
        if (type === "share_best_diff" && field === "week") continue; // conditional, tested below
        const r = validateEvent(mutate(type, (e) => delete e.data[field]));
        assert.equal(r.ok, false, `${type} without ${field} should be refused`);
        if (!r.ok) {
          assert.ok(r.error.includes(`data.${field}`), r.error);
          assert.equal(r.type, type);
        }
      }
    });
  }

  it("refuse wrong field types with the field's path", () => {
    expectInvalid(mutate("share_submitted", (e) => (e.data.height = "923456")), "data.height");
    expectInvalid(mutate("share_submitted", (e) => (e.data.height = 1.5)), "data.height");
    expectInvalid(mutate("share_submitted", (e) => (e.data.session_id = "XYZ")), "data.session_id");
    expectInvalid(mutate("share_submitted", (e) => (e.data.difficulty = 0)), "data.difficulty");
    expectInvalid(mutate("share_submitted", (e) => (e.data.ip = "not an ip")), "data.ip");
    expectInvalid(mutate("block_found", (e) => (e.data.hash = "ABC")), "data.hash");
    expectInvalid(mutate("block_found", (e) => delete e.data.submit_results[1].node), "data.submit_results[1].node");
    expectInvalid(mutate("hashrate_update", (e) => delete e.data.hashrate_hs["7d"]), "data.hashrate_hs.7d");
    expectInvalid(mutate("new_block_network", (e) => (e.data.source = "carrier-pigeon")), "data.source");
    expectInvalid(mutate("relay_state", (e) => (e.data.state = "asleep")), "data.state");
    expectInvalid(mutate("diff_updated", (e) => (e.data.reason = "whim")), "data.reason");
    expectInvalid(mutate("miner_connected", (e) => (e.data.extranonce1 = "abc")), "data.extranonce1");
  });

  it("tie reject_reason to accepted", () => {
    expectInvalid(mutate("share_submitted", (e) => (e.data.reject_reason = "stale")), "data.reject_reason");
    expectInvalid(mutate("share_submitted", (e) => (e.data.accepted = false)), "data.reject_reason");
    expectInvalid(mutate("share_submitted", (e) => Object.assign(e.data, { accepted: false, reject_reason: "late" })), "data.reject_reason");
    const ok = validateEvent(mutate("share_submitted", (e) => Object.assign(e.data, { accepted: false, reject_reason: "stale" })));
    assert.ok(ok.ok);
  });

  it("require week exactly for scope week", () => {
    expectInvalid(mutate("share_best_diff", (e) => delete e.data.week), "data.week");
    expectInvalid(mutate("share_best_diff", (e) => (e.data.scope = "alltime")), "data.week");
    expectInvalid(mutate("share_best_diff", (e) => (e.data.week = "2026-47")), "data.week");
    const session = validateEvent(mutate("share_best_diff", (e) => Object.assign(e.data, { scope: "session", old_best: null, week: undefined })));
    assert.ok(session.ok, session.ok ? "" : session.error);
  });

  it("allow null where the contract says so", () => {
    const r = validateEvent(
      mutate("miner_disconnected", (e) => Object.assign(e.data, { user: null, worker: null, session_best: null })),
    );
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.ok(validateEvent(mutate("hashrate_update", (e) => (e.data.worker = null))).ok);
    assert.ok(validateEvent(mutate("relay_state", (e) => (e.data.previous = null))).ok);
  });

  it("refuse a bad envelope, naming the field", () => {
    expectInvalid(mutate("relay_state", (e) => (e.event_id = "2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d")), "event_id"); // v1
    expectInvalid(mutate("relay_state", (e) => (e.timestamp = 1763769600123)), "timestamp"); // milliseconds
    expectInvalid(mutate("relay_state", (e) => (e.timestamp = 1763769600123456.5)), "timestamp");
    expectInvalid(mutate("relay_state", (e) => (e.source = "solo")), "source");
    expectInvalid(mutate("relay_state", (e) => (e.region = "EU")), "region");
    expectInvalid(mutate("relay_state", (e) => delete e.instance), "instance");
    expectInvalid(mutate("relay_state", (e) => (e.data = "x")), "data");
    expectInvalid(mutate("relay_state", (e) => (e.event = "share_accepted")), "event: unknown event type");
    expectInvalid(mutate("relay_state", (e) => delete e.event), "event");
  });

  it("refuse input that is not a JSON object or too large", () => {
    expectInvalid("{not json", "not UTF-8 JSON");
    expectInvalid(Buffer.from([0x7b, 0xff, 0x7d]), "not UTF-8 JSON");
    expectInvalid("[1,2]", "expected a JSON object");
    expectInvalid(null, "expected a JSON object");
    const big = exampleEvent("relay_state");
    big.data.reason = "x".repeat(MAX_EVENT_BYTES);
    expectInvalid(JSON.stringify(big), `limit is ${MAX_EVENT_BYTES}`);
  });

  it("let unknown fields through (consumers ignore what they do not know)", () => {
    const r = validateEvent(mutate("diff_updated", (e) => ((e.trace = "x"), (e.data.future_field = 1))));
    assert.ok(r.ok);
    assert.equal((r.event.data as Loose).future_field, 1);
  });
});
