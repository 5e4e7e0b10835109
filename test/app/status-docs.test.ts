/** docs/status.md documents every field of the two status APIs (the schemas are strict, so a new field needs a doc line). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { PoolStatusSchema } from "../../src/app/status-api.ts";
import { PlatformStatusSchema } from "../../src/pipeline/collector/platform-status.ts";
import { schemaPaths } from "../support/schema-paths.ts";

const docs = await readFile(new URL("../../docs/status.md", import.meta.url), "utf8");
const section = (title: string) => {
  const start = docs.indexOf(title);
  assert.ok(start >= 0, title);
  const end = docs.indexOf("\n## ", start + 1);
  return docs.slice(start, end < 0 ? undefined : end);
};

test("every /api/status field is documented in docs/status.md", () => {
  const text = section("## `GET /api/status` (pool)");
  const missing = schemaPaths(PoolStatusSchema).filter((p) => !text.includes(`\`${p}\``));
  assert.deepEqual(missing, []);
});

test("every /api/platform field is documented in docs/status.md", () => {
  const text = section("## `GET /api/platform` (collector)");
  const missing = schemaPaths(PlatformStatusSchema).filter((p) => !text.includes(`\`${p}\``));
  assert.deepEqual(missing, []);
});

test("the screenshot the docs show is committed and small", async () => {
  const png = await readFile(new URL("../../docs/status-page.png", import.meta.url));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  assert.ok(png.length < 200_000, `${png.length} bytes`);
});
