import { test } from "node:test";
import assert from "node:assert/strict";
import { isoWeekOf } from "../../src/app/records/iso-week.ts";

const at = (iso: string) => Date.parse(iso);

test("ISO week keys follow ISO 8601 (week 1 holds the first Thursday), including year boundaries", () => {
  const vectors: Array<[string, string]> = [
    ["2026-11-16T00:00:00.000Z", "2026-W47"], // Monday
    ["2026-11-22T23:59:59.999Z", "2026-W47"], // Sunday, last millisecond
    ["2026-11-23T00:00:00.000Z", "2026-W48"], // next Monday
    ["2024-12-30T12:00:00.000Z", "2025-W01"], // Monday in December, ISO year 2025
    ["2021-01-03T12:00:00.000Z", "2020-W53"], // Sunday in January, ISO year 2020 (53 weeks)
    ["2021-01-04T00:00:00.000Z", "2021-W01"],
    ["2020-12-31T00:00:00.000Z", "2020-W53"],
    ["2026-01-01T00:00:00.000Z", "2026-W01"], // Thursday
    ["2027-01-01T00:00:00.000Z", "2026-W53"], // Friday: 2026 has 53 ISO weeks
  ];
  for (const [iso, key] of vectors) assert.equal(isoWeekOf(at(iso)).key, key, iso);
});

test("an ISO week runs from Monday 00:00 UTC to the next Monday 00:00 UTC", () => {
  const w = isoWeekOf(at("2026-11-19T15:30:00Z"));
  assert.equal(new Date(w.startMs).toISOString(), "2026-11-16T00:00:00.000Z");
  assert.equal(new Date(w.endMs).toISOString(), "2026-11-23T00:00:00.000Z");
  assert.deepEqual(isoWeekOf(w.startMs), w);
  assert.deepEqual(isoWeekOf(w.endMs - 1), w);
  assert.notEqual(isoWeekOf(w.endMs).key, w.key);
});
