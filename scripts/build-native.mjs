#!/usr/bin/env node
// Builds the share-hash addon (native/) with node-gyp. Run by `npm install` / `npm ci` (the package's own
// "install" script). A failed build only warns: the engine then uses its JavaScript share hash
// (src/core/bitcoin/share-hash.ts). `--require` (CI) turns a failed build, or an addon that does not
// load, into a failure. TBG_NATIVE=0 skips the build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const required = process.argv.includes("--require");

function nodeGyp() {
  // npm points its lifecycle scripts at the node-gyp it ships; else the one beside this node's npm.
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js")];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ["node-gyp"];
}

function fail(message) {
  if (required) {
    console.error(`native addon: ${message}`);
    process.exit(1);
  }
  console.warn(`warning: native share-hash addon not built (${message}); the JavaScript share hash is used instead`);
  process.exit(0);
}

if (process.env.TBG_NATIVE === "0" && !required) {
  console.log("native addon: skipped (TBG_NATIVE=0)");
  process.exit(0);
}
const [cmd, ...pre] = nodeGyp();
const args = [...pre, "rebuild"];
// Headers installed with this node (the usual Linux packages and official tarballs have them) spare a download.
const prefix = join(dirname(process.execPath), "..");
if (existsSync(join(prefix, "include/node/node_api.h"))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(cmd, args, { cwd: join(root, "native"), stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (r.error || r.status !== 0) {
  process.stderr.write((r.stdout ?? "") + (r.stderr ?? ""));
  fail(r.error ? String(r.error) : `node-gyp exited with ${r.status}`);
}
try {
  const addon = createRequire(import.meta.url)(join(root, "native/build/Release/tbg_sharehash.node"));
  console.log(`native addon: built (SHA-256: ${addon.impl})`);
} catch (err) {
  fail(`built but does not load: ${err.message}`);
}
