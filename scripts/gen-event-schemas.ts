/**
 * Writes schemas/events/*.schema.json from the zod schemas in src/pipeline/events/schemas.ts.
 * Usage: node --import tsx scripts/gen-event-schemas.ts [--check]
 *   --check: write nothing, exit 1 if a committed file differs (test/events/json-schemas.test.ts does the same).
 */
import { mkdir, readFile, readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEventJsonSchemas, formatJsonSchemaFile } from "../src/pipeline/events/schemas.ts";

const outDir = new URL("../schemas/events/", import.meta.url).pathname;
const check = process.argv.includes("--check");

const wanted = buildEventJsonSchemas();
const existing = (await readdir(outDir).catch(() => [] as string[])).filter((f) => f.endsWith(".schema.json"));
let stale = 0;
if (!check) await mkdir(outDir, { recursive: true });
for (const [file, schema] of Object.entries(wanted)) {
  const text = formatJsonSchemaFile(schema);
  const path = join(outDir, file);
  const current = await readFile(path, "utf8").catch(() => null);
  if (current === text) continue;
  stale++;
  if (check) console.error(`out of date: schemas/events/${file}`);
  else await writeFile(path, text);
}
for (const file of existing) {
  if (file in wanted) continue;
  stale++;
  if (check) console.error(`no longer generated: schemas/events/${file}`);
  else await unlink(join(outDir, file));
}
if (check && stale > 0) {
  console.error("run: node --import tsx scripts/gen-event-schemas.ts");
  process.exit(1);
}
console.log(check ? "schemas/events is up to date" : `schemas/events: ${stale} file(s) written or removed`);
