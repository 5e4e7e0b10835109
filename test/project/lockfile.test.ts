import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

test("package-lock.json lists every optional platform package npm ci checks for (npm/cli#8805; scripts/fix-lock.mjs)", () => {
  const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8"));
  for (const [pkgPath, entry] of Object.entries<{ optionalDependencies?: Record<string, string> }>(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      if (!name.startsWith("node-unix-socket-")) continue;
      assert.ok(lock.packages[`node_modules/${name}`], `${name} (optional dependency of ${pkgPath}) missing: run node scripts/fix-lock.mjs`);
    }
  }
});

test("package.json's scripts are the documented ones", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  assert.equal(pkg.scripts.start, "node bin/tbg dev");
  assert.ok(pkg.scripts.test);
  assert.equal(pkg.bin.tbg, "bin/tbg");
});
