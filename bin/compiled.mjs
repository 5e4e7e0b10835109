// The compiled cache behind bin/tbg: src/ bundled by esbuild (the compiler tsx itself uses) into
// node_modules/.cache/tbg/, rebuilt when any source it was built from changes. Running the bundle instead
// of tsx's loader saves tsx's loader thread (a second V8 isolate, ~40 MiB of RSS) and the per-file
// compile at start. Packages stay external (loaded from node_modules as usual); each command is its own
// chunk, so `tbg pool` loads only what the pool imports.
//
// compiledMain() returns the bundle's URL, or null when it cannot be used (no write access to
// node_modules, esbuild missing, a build error): bin/tbg then falls back to tsx, with the same behaviour.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CACHE_DIR = join(ROOT, "node_modules", ".cache", "tbg");
const MANIFEST = join(CACHE_DIR, "manifest.json");
/** Files outside the import graph that change what a build produces. */
const EXTRA_INPUTS = ["bin/compiled.mjs", "package.json", "package-lock.json", "tsconfig.json"];
/** Unreferenced builds older than this are removed (a running process may still load a chunk of its build). */
const STALE_BUILD_MS = 24 * 3600_000;

function stamp(rel) {
  try {
    const s = statSync(join(ROOT, rel));
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function freshBuild() {
  let m;
  try {
    m = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return null;
  }
  if (m.node !== process.version) return null;
  for (const [rel, s] of Object.entries(m.inputs)) if (stamp(rel) !== s) return null;
  return join(CACHE_DIR, m.dir, "main.js");
}

/** Replaces `import.meta.url` with the source file's own URL, so paths next to a source stay right. */
const sourceUrls = {
  name: "tbg-source-urls",
  setup(build) {
    build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, (args) => {
      if (args.path.includes(`${join("/", "node_modules", "/")}`)) return undefined;
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const contents = text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href));
      return { contents, loader: /\.m?ts$/.test(args.path) ? "ts" : "js" };
    });
  },
};

async function build() {
  // esbuild comes with tsx (a runtime dependency); resolve it from there.
  const require = createRequire(createRequire(join(ROOT, "package.json")).resolve("tsx/package.json"));
  const esbuild = require("esbuild");
  mkdirSync(CACHE_DIR, { recursive: true });
  const dir = `build-${Date.now().toString(36)}-${process.pid}`;
  const out = join(CACHE_DIR, dir);
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { main: "src/cli/main.ts" },
      outdir: out,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node.split(".")[0]}`,
      packages: "external",
      metafile: true,
      sourcemap: "linked",
      logLevel: "silent",
      plugins: [sourceUrls],
    });
    const inputs = {};
    for (const rel of [...Object.keys(result.metafile.inputs), ...EXTRA_INPUTS]) {
      const abs = resolve(ROOT, rel);
      if (!abs.includes(`${join("/", "node_modules", "/")}`)) inputs[relative(ROOT, abs)] = stamp(relative(ROOT, abs));
    }
    const tmp = `${MANIFEST}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ node: process.version, dir, inputs }));
    renameSync(tmp, MANIFEST);
  } finally {
    esbuild.stop?.();
  }
  for (const name of readdirSync(CACHE_DIR)) {
    if (!name.startsWith("build-") || name === dir) continue;
    try {
      if (Date.now() - statSync(join(CACHE_DIR, name)).mtimeMs > STALE_BUILD_MS) rmSync(join(CACHE_DIR, name), { recursive: true, force: true });
    } catch {
      // another process removed it
    }
  }
  return join(out, "main.js");
}

/** URL of the compiled `src/cli/main.ts`, building it first when a source changed; null to use tsx. */
export async function compiledMain() {
  if (process.env.TBG_TSX === "1") return null;
  try {
    const path = freshBuild() ?? (await build());
    return pathToFileURL(path).href;
  } catch {
    return null;
  }
}
