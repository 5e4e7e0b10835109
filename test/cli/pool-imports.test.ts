/**
 * `tbg pool` loads only what the pool uses: its static import graph (followed from src/cli/commands/pool.ts
 * by esbuild, the compiler bin/tbg builds with) reaches no regtest node (bcoin), no storage (PGlite, pg), no
 * NATS client, no benchmark or test tooling. Conditional parts are `await import()`ed where they are used
 * (the NATS sink only when `events.nats` is configured). Also: bin/tbg's compiled build runs the pool.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { statSync, utimesSync } from "node:fs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Metafile {
  inputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

async function staticGraph(entry: string): Promise<{ files: Set<string>; packages: Set<string> }> {
  const require = createRequire(createRequire(join(ROOT, "package.json")).resolve("tsx/package.json"));
  const esbuild = require("esbuild") as typeof import("esbuild");
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      packages: "external",
      metafile: true,
      logLevel: "silent",
      outdir: "out",
      splitting: true,
    });
    const meta = result.metafile as Metafile;
    // Walk static imports only: a dynamic import() is loaded when (and only when) its code runs.
    const files = new Set<string>();
    const packages = new Set<string>();
    const todo = [entry];
    while (todo.length > 0) {
      const file = todo.pop()!;
      if (files.has(file)) continue;
      files.add(file);
      for (const imp of meta.inputs[file]?.imports ?? []) {
        if (imp.kind !== "import-statement") continue;
        if (imp.external) {
          if (!imp.path.startsWith("node:")) packages.add(imp.path.startsWith("@") ? imp.path.split("/").slice(0, 2).join("/") : imp.path.split("/")[0]);
        } else todo.push(imp.path);
      }
    }
    return { files, packages };
  } finally {
    esbuild.stop();
  }
}

test("tbg pool's static import graph has no bcoin, PGlite, pg, NATS, benchmark or test code", async () => {
  const { files, packages } = await staticGraph("src/cli/commands/pool.ts");
  assert.ok(files.has("src/app/run-pool.ts") && files.has("src/core/engine/engine.ts"), "the walk reached the engine");
  for (const pkg of ["bcoin", "@electric-sql/pglite", "pg", "@nats-io/transport-node", "@nats-io/jetstream", "redis", "playwright-core", "ajv", "fast-check", "yaml"]) {
    assert.ok(!packages.has(pkg), `tbg pool imports ${pkg} at start: import it lazily where it is used`);
  }
  const forbidden = [...files].filter((f) => /^(src\/tools\/|src\/pipeline\/(storage|collector)\/|src\/pipeline\/nats\/(?!subjects\.ts)|bench\/|test\/)/.test(f));
  assert.deepEqual(forbidden, [], "modules the pool does not use");
});

test("bin/tbg's compiled build (bin/compiled.mjs) is fresh after a build and exports the CLI's main", async () => {
  const { compiledMain } = (await import(new URL("../../bin/compiled.mjs", import.meta.url).href)) as { compiledMain(): Promise<string | null> };
  const url = await compiledMain();
  assert.ok(url, "compiled (node_modules/.cache/tbg is writable here)");
  assert.equal(await compiledMain(), url, "the second call reuses the build");
  const mod = (await import(url)) as { main?: unknown };
  assert.equal(typeof mod.main, "function");
  // A source it was built from changes (here: its mtime): the next start builds again.
  const source = join(ROOT, "src/cli/args.ts");
  const { atime, mtime } = statSync(source);
  utimesSync(source, atime, new Date(mtime.getTime() + 1000));
  try {
    const rebuilt = await compiledMain();
    assert.ok(rebuilt && rebuilt !== url, "rebuilt after a source changed");
  } finally {
    utimesSync(source, atime, mtime);
  }
});
