import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { buildEventJsonSchemas, formatJsonSchemaFile } from "../../src/pipeline/events/schemas.ts";
import { ALL_EVENT_TYPES } from "../../src/pipeline/events/types.ts";
import { exampleEvent } from "./fixtures.ts";

const schemaDir = new URL("../../schemas/events/", import.meta.url);
// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;

async function loadCommitted(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await readdir(schemaDir)) out[f] = await readFile(new URL(f, schemaDir), "utf8");
  return out;
}

describe("shipped JSON Schemas (schemas/events)", () => {
  it("equal what scripts/gen-event-schemas.ts generates (no drift)", async () => {
    const committed = await loadCommitted();
    const generated = buildEventJsonSchemas();
    assert.deepEqual(Object.keys(committed).sort(), Object.keys(generated).sort(), "run: node --import tsx scripts/gen-event-schemas.ts");
    for (const [file, schema] of Object.entries(generated)) {
      assert.equal(committed[file], formatJsonSchemaFile(schema), `schemas/events/${file} is stale: run scripts/gen-event-schemas.ts`);
    }
  });

  it("accept every example and refuse what zod refuses, under a standard JSON Schema validator", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const committed = await loadCommitted();
    const envelope = ajv.compile(JSON.parse(committed["envelope.schema.json"]));
    for (const type of ALL_EVENT_TYPES) {
      const validate = ajv.compile(JSON.parse(committed[`${type}.schema.json`]));
      const ev = exampleEvent(type);
      assert.ok(validate(ev), `${type}: ${JSON.stringify(validate.errors)}`);
      assert.ok(envelope(ev), `envelope/${type}: ${JSON.stringify(envelope.errors)}`);
      const noData = structuredClone(ev) as Record<string, unknown>;
      delete noData.data;
      assert.equal(validate(noData), false);
      assert.equal(envelope(noData), false);
    }
    const share = ajv.compile(JSON.parse(committed["share_submitted.schema.json"]));
    const rejectedWithoutReason = structuredClone(exampleEvent("share_submitted"));
    rejectedWithoutReason.data.accepted = false;
    assert.equal(share(rejectedWithoutReason), false, "reject_reason required when not accepted");
    const best = ajv.compile(JSON.parse(committed["share_best_diff.schema.json"]));
    const weekless = structuredClone(exampleEvent("share_best_diff"));
    delete weekless.data.week;
    assert.equal(best(weekless), false, "week required for scope week");
    const sessionWithWeek = structuredClone(exampleEvent("share_best_diff"));
    sessionWithWeek.data.scope = "session";
    assert.equal(best(sessionWithWeek), false, "week forbidden for scope session");
    const msTimestamp = { ...exampleEvent("relay_state"), timestamp: 1763769600123 };
    assert.equal(envelope(msTimestamp), false, "millisecond timestamps refused");
  });
});
