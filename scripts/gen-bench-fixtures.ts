/**
 * Writes bench/fixtures/template-0tx.json and template-3000tx.json (deterministic: rerunning gives the
 * same bytes; test/benchnode checks that). Usage: npx tsx scripts/gen-bench-fixtures.ts
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generateTemplateFixture } from "../src/tools/bench-node/template-gen.ts";
import { fixtureFile } from "../src/tools/bench-node/fixtures.ts";

const dir = fileURLToPath(new URL("../bench/fixtures/", import.meta.url));
mkdirSync(dir, { recursive: true });
for (const txs of [0, 3000] as const) {
  const path = fixtureFile(txs);
  const text = JSON.stringify(generateTemplateFixture(txs)) + "\n";
  writeFileSync(path, text);
  console.log(`${path}: ${txs} transactions, ${(text.length / 1e6).toFixed(2)} MB`);
}
