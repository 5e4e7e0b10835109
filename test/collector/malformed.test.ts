import { test } from "node:test";
import assert from "node:assert/strict";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import { MALFORMED_REASONS, RateLimitedLog, malformedReason } from "../../src/pipeline/collector/malformed.ts";
import { makeShares } from "../storage/fixtures.ts";

function reasonOf(input: unknown): string {
  const v = validateEvent(input);
  assert.equal(v.ok, false, "expected a validation failure");
  return malformedReason((v as { error: string }).error);
}

test("malformedReason sorts the real validator's errors: too_large, invalid_json, unknown_type, schema", () => {
  const share = makeShares(1)[0];
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, pad: "x".repeat(5_000) }))), "too_large");
  assert.equal(reasonOf(Buffer.from("x".repeat(70_000))), "too_large");
  assert.equal(reasonOf(Buffer.from("{not json")), "invalid_json");
  assert.equal(reasonOf(Buffer.from([0xff, 0xfe, 0x7b])), "invalid_json");
  assert.equal(reasonOf(Buffer.from("[1,2]")), "invalid_json");
  assert.equal(reasonOf(Buffer.from("42")), "invalid_json");
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, event: "share_stolen" }))), "unknown_type");
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, event: undefined }))), "unknown_type");
  // Wrong-typed fields of a known type.
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, data: { ...share.data, difficulty: "1024" } }))), "schema");
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, timestamp: "now" }))), "schema");
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, event_id: "not-a-uuid" }))), "schema");
  assert.equal(reasonOf(Buffer.from(JSON.stringify({ ...share, event: "block_found" }))), "schema");
  assert.deepEqual([...MALFORMED_REASONS].sort(), ["invalid_json", "schema", "too_large", "unknown_type"]);
});

test("RateLimitedLog lets one line per key per interval through and reports how many it swallowed", () => {
  let now = 1_000;
  const rl = new RateLimitedLog(10_000, () => now);
  assert.deepEqual(rl.note("a"), { key: "a", suppressed: 0 });
  assert.equal(rl.note("a"), null);
  assert.equal(rl.note("a"), null);
  assert.deepEqual(rl.note("b"), { key: "b", suppressed: 0 }, "keys are independent");
  now += 9_999;
  assert.equal(rl.note("a"), null);
  now += 1;
  assert.deepEqual(rl.note("a"), { key: "a", suppressed: 3 });
  assert.equal(rl.note("a"), null);
});
