import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import { ALL_EVENT_TYPES } from "../../src/pipeline/events/types.ts";
import { UNIX_DGRAM_SINK_DEFAULTS } from "../../src/pipeline/events/sinks/unix-dgram.ts";
import { EVENTS_DEFAULTS } from "../../src/config/defaults.ts";
import { EXAMPLE_DATA } from "./fixtures.ts";

const doc = await readFile(new URL("../../docs/events.md", import.meta.url), "utf8");

/** The text of the `### \`type\`` section. */
function section(type: string): string {
  const start = doc.indexOf(`### \`${type}\``);
  assert.ok(start >= 0, `docs/events.md has no section for ${type}`);
  const end = doc.indexOf("\n#", start + 5);
  return doc.slice(start, end < 0 ? undefined : end);
}

describe("docs/events.md", () => {
  it("has a valid full JSON example for every event type", () => {
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    const typesShown = new Set<string>();
    for (const block of blocks) {
      const r = validateEvent(block);
      assert.ok(r.ok, r.ok ? "" : `example does not validate: ${r.error}\n${block}`);
      typesShown.add(r.event.event);
    }
    assert.deepEqual([...typesShown].sort(), [...ALL_EVENT_TYPES].sort());
    for (const type of ALL_EVENT_TYPES) assert.ok(section(type).includes(`"event": "${type}"`), `${type} example in its own section`);
  });

  it("documents every data field of every type", () => {
    for (const type of ALL_EVENT_TYPES) {
      const text = section(type);
      for (const field of Object.keys(EXAMPLE_DATA[type])) assert.ok(text.includes(`| \`${field}\``), `${type}.${field} undocumented`);
    }
  });

  it("states the sink defaults the code uses", () => {
    const d = UNIX_DGRAM_SINK_DEFAULTS;
    for (const text of [`\`queueMax\` ${d.queueMax.toLocaleString("en-US").replace(/,/g, " ")}`, `\`stallMs\` ${d.stallMs}`, `\`flushTimeoutMs\` ${d.flushTimeoutMs}`]) {
      assert.ok(doc.includes(text), `docs should say ${text}`);
    }
    assert.ok(doc.includes(`\`noReaderRetryMs\` {${d.noReaderRetryMs.min}, ${d.noReaderRetryMs.max}}`));
    assert.ok(doc.includes(`\`congestedBackoffMs\` {${d.congestedBackoffMs.min}, ${d.congestedBackoffMs.max}}`));
    for (const text of [`\`ackWindow\` ${d.ackWindow.toLocaleString("en-US").replace(/,/g, " ")}`, `\`ackProbeMs\` ${d.ackProbeMs.toLocaleString("en-US").replace(/,/g, " ")}`, `\`ackMaxResends\` ${d.ackMaxResends}`]) {
      assert.ok(doc.includes(text), `docs should say ${text}`);
    }
  });

  it("states the pool's socket queue default (events.queue_max), not the class default, wherever it says how much is queued", () => {
    const pool = EVENTS_DEFAULTS.queueMax.toLocaleString("en-US").replace(/,/g, " ");
    assert.ok(doc.includes(`\`events.queue_max\`, default ${pool} events`), "the queue-full rule names events.queue_max and its default");
    assert.ok(doc.includes(`the pool passes \`events.queue_max\`, default ${pool}`));
    // The class default may appear only where it is said to be the class's.
    for (const m of doc.matchAll(/100 000/g)) {
      const around = doc.slice(Math.max(0, m.index - 200), m.index + 60);
      assert.ok(/class|queueMax|burst of 100 000|100 000 `emit\(\)`/.test(around), `"100 000" stated as a queue size: …${around}…`);
    }
  });
});
