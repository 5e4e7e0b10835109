/** `workers`: Stratum worker processes of `tbg pool`; default and "auto" = one per core but the primary's (one process below 3 cores). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";

const base = { btcd: [{ url: "localhost:8332", auth: "u", pass: "p" }] };
const env = { hostname: "h", openFileLimit: 4096, cores: 6 };

test("workers: default and \"auto\" are the core count less the primary's (one process below 3 cores); an integer 1–64 as given; anything else refused by name", () => {
  assert.equal(parseConfig(base, "t", env).workers, 5);
  assert.equal(parseConfig({ ...base, workers: "auto" }, "t", env).workers, 5);
  assert.equal(parseConfig(base, "t", { ...env, cores: 3 }).workers, 2);
  assert.equal(parseConfig(base, "t", { ...env, cores: 2 }).workers, 1, "2 cores: one process");
  assert.equal(parseConfig(base, "t", { ...env, cores: 1 }).workers, 1);
  assert.equal(parseConfig({ ...base, workers: 1 }, "t", env).workers, 1);
  assert.equal(parseConfig({ ...base, workers: 3 }, "t", env).workers, 3);
  assert.equal(parseConfig(base, "t", { hostname: "h", openFileLimit: 4096 }).workers, 1, "core count unknown: one process");
  for (const bad of [0, -1, 1.5, 65, "4", "all"]) assert.throws(() => parseConfig({ ...base, workers: bad }, "t", env), /workers/, String(bad));
});
