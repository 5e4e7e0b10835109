/** Locations and loading of the recorded benchmark templates (bench/fixtures). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { TemplateFixture } from "./template-gen.ts";

/** Transaction counts with a recorded fixture. */
export type FixtureTxCount = 0 | 3000;

/** Absolute path of the fixture with `txs` transactions. */
export function fixtureFile(txs: FixtureTxCount): string {
  return fileURLToPath(new URL(`../../../bench/fixtures/template-${txs}tx.json`, import.meta.url));
}

/** Reads and parses a fixture. */
export function loadFixture(txs: FixtureTxCount): TemplateFixture {
  return JSON.parse(readFileSync(fixtureFile(txs), "utf8")) as TemplateFixture;
}
