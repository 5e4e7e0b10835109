import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { ConfigError, formatConfigError, parseConfig } from "../../src/config/load.ts";
import { allKeyPaths, CONFIG_EVENT_TYPES, IGNORED_CKPOOL_KEYS } from "../../src/config/schema.ts";

const root = new URL("../../", import.meta.url).pathname;
const docs = await readFile(`${root}docs/configuration.md`, "utf8");

test("every key the schema accepts is documented in docs/configuration.md", () => {
  const missing = allKeyPaths().filter((p) => !docs.includes(`\`${p}\``));
  assert.deepEqual(missing, [], `undocumented keys: ${missing.join(", ")}`);
});

test("every event type and ignored ckpool key is named in the docs", () => {
  for (const t of CONFIG_EVENT_TYPES) assert.ok(docs.includes(`\`${t}\``), t);
  for (const k of Object.keys(IGNORED_CKPOOL_KEYS)) assert.ok(docs.includes(`\`${k}\``), k);
});

test("the example files are quoted in the docs exactly as they are", async () => {
  for (const name of ["pool.json", "two-nodes.json", "primary.json", "relay.json", "ckpool.conf"]) {
    const text = (await readFile(`${root}examples/${name}`, "utf8")).trimEnd();
    assert.ok(docs.includes(text), `docs/configuration.md does not quote examples/${name} verbatim`);
  }
});

test("the error output shown in the docs is what the loader prints", () => {
  // The CLI adds the code and, on the next line, what to do (docs/errors.md).
  const block = /```\n\s*(tbg pool: invalid config[\s\S]*?) \[CONFIG_INVALID\]\n\s*what to do: [^\n]*\n\s*```/.exec(docs);
  assert.ok(block, "error example not found");
  const shown = block[1].split("\n").map((l) => l.trim());
  let err: unknown;
  try {
    parseConfig({ btcd: [{ url: "localhost:8332", auth: "u", pass: "p" }, { url: "backup", auth: "u", pass: "p" }], nonce2length: 9, mindif: 1, btcaddress: "14BMjogz69qe8hk9thyzbmR5pg34mVKB1f" }, "bad.json");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const actual = `tbg pool: ${formatConfigError(err)}`.split("\n").map((l) => l.trim());
  assert.deepEqual(shown, actual);
});
