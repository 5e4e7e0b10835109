import { test } from "node:test";
import assert from "node:assert/strict";
import { systemClockMs } from "../../src/pipeline/events/envelope.ts";

test("the default event clock follows a wall-clock step within a second (NTP step, VM resume)", async () => {
  assert.ok(Math.abs(systemClockMs() - Date.now()) < 5);
  const real = Date.now;
  try {
    Date.now = () => real() + 3_600_000; // the wall clock steps forward an hour
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok(Math.abs(systemClockMs() - Date.now()) < 5, "re-anchored to the new wall time");
  } finally {
    Date.now = real;
  }
  await new Promise((r) => setTimeout(r, 1100));
  assert.ok(Math.abs(systemClockMs() - Date.now()) < 5);
});
