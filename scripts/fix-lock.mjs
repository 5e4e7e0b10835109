#!/usr/bin/env node
/**
 * npm 11 leaves node-unix-socket's optional platform packages out of package-lock.json (they were never
 * published), and `npm ci` then refuses the lock as out of sync (npm/cli#8805). This adds an entry per
 * missing platform package, marked optional with its os/cpu, so npm skips it on other platforms.
 * Run after any `npm install` that rewrites the lock: `node scripts/fix-lock.mjs`.
 * test/project/lockfile.test.ts fails when the entries are missing.
 */
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORMS = {
  "darwin-arm64": [["darwin"], ["arm64"]],
  "darwin-x64": [["darwin"], ["x64"]],
  "linux-arm-gnueabihf": [["linux"], ["arm"]],
  "linux-arm64-gnu": [["linux"], ["arm64"]],
  "linux-arm64-musl": [["linux"], ["arm64"]],
  "linux-x64-musl": [["linux"], ["x64"]],
  "linux-x64-gnu": [["linux"], ["x64"]],
};

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const parent = lock.packages["node_modules/node-unix-socket"];
let added = 0;
for (const [name, version] of Object.entries(parent?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const platform = PLATFORMS[name.replace("node-unix-socket-", "")];
  if (!platform) throw new Error(`unknown platform package ${name}: add it to PLATFORMS`);
  lock.packages[key] = { version, cpu: platform[1], optional: true, os: platform[0] };
  added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)));
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`package-lock.json: added ${added} optional platform entr${added === 1 ? "y" : "ies"}`);
