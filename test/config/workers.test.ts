/** `workers`: Stratum worker processes of `tbg pool`; default and "auto" = one per core but the primary's (one process below 3 cores). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, readCgroupCpuLimit, usableCores } from "../../src/config/load.ts";
import { autoWorkers } from "../../src/config/normalize.ts";

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

test("workers \"auto\": a cgroup v2 CPU quota lowers the usable cores (rounded up); no quota or no file leaves them; at most 64 workers", () => {
  const file = (text: string) => () => text;
  assert.equal(readCgroupCpuLimit(file("max 100000\n")), null);
  assert.equal(readCgroupCpuLimit(file("200000 100000\n")), 2);
  assert.equal(readCgroupCpuLimit(file("150000 100000")), 2);
  assert.equal(readCgroupCpuLimit(file("50000 100000")), 1);
  assert.equal(readCgroupCpuLimit(file("garbage")), null);
  assert.equal(
    readCgroupCpuLimit(() => {
      throw new Error("ENOENT");
    }),
    null,
  );
  assert.equal(usableCores(16, 2), 2);
  assert.equal(usableCores(4, 8), 4);
  assert.equal(usableCores(4, null), 4);
  assert.equal(autoWorkers(usableCores(16, 3)), 2);
  assert.equal(autoWorkers(200), 64);
  assert.equal(parseConfig(base, "t", { ...env, cores: 128 }).workers, 64);
});
