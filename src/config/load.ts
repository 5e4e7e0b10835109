/**
 * Config entry points: `loadConfig(path)` for `tbg pool -c FILE`, `parseConfig(json)` for
 * configs built in code, `devConfig(overrides)` for `tbg dev`. Validation reports every problem
 * at once (ConfigError lists each key path and reason); see docs/configuration.md.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism, hostname } from "node:os";
import { DEV_DEFAULTS } from "./defaults.ts";
import { ConfigError, ConfigFileError, formatKeyPath, type ConfigIssue } from "./errors.ts";
import { toConfigIssues } from "./issues.ts";
import { parseJsonText, type KeyPath } from "./json-text.ts";
import { crossCheck, normalize, type ConfigEnv } from "./normalize.ts";
import { ConfigSchema, type ConfigInput } from "./schema.ts";
import type { PoolConfig } from "./types.ts";

export { ConfigError, ConfigFileError, formatConfigError, formatConfigWarnings, type ConfigIssue, type ConfigWarning } from "./errors.ts";
export { CONFIG_EVENT_TYPES, NETWORKS, LOG_LEVELS, type ConfigInput, type ConfigEventType, type Network, type LogLevel } from "./schema.ts";
export type { ConfigEnv } from "./normalize.ts";
export type * from "./types.ts";

/** Config files are a few KiB; anything this large is the wrong file. */
const MAX_CONFIG_BYTES = 1_048_576;

/** Soft open-file limit from /proc/self/limits (Linux), or null elsewhere / when unlimited. */
export function readOpenFileLimit(read: (path: string) => string = (p) => readFileSync(p, "utf8")): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(read("/proc/self/limits"));
    return m && m[1] !== "unlimited" ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * CPUs the cgroup v2 quota allows (/sys/fs/cgroup/cpu.max: "max 100000" = no limit, "200000 100000" = 2),
 * rounded up; null when there is no quota or no such file.
 */
export function readCgroupCpuLimit(read: (path: string) => string = (p) => readFileSync(p, "utf8")): number | null {
  try {
    const m = /^(max|\d+)\s+(\d+)/.exec(read("/sys/fs/cgroup/cpu.max").trim());
    if (!m || m[1] === "max") return null;
    const quota = Number(m[1]);
    const period = Number(m[2]);
    return quota > 0 && period > 0 ? Math.max(1, Math.ceil(quota / period)) : null;
  } catch {
    return null;
  }
}

/** Cores this process may use: the machine's, fewer under a cgroup CPU quota. */
export function usableCores(cores: number, cgroupLimit: number | null): number {
  return cgroupLimit === null ? cores : Math.max(1, Math.min(cores, cgroupLimit));
}

/** The machine facts config defaults depend on (host name, open-file limit, usable cores). */
export function systemConfigEnv(): ConfigEnv {
  return { hostname: hostname(), openFileLimit: readOpenFileLimit(), cores: usableCores(availableParallelism(), readCgroupCpuLimit()) };
}

/**
 * Validates a parsed JSON document and returns the defaulted, normalised config.
 * Throws ConfigError (`CONFIG_INVALID`) listing every offending key path and why.
 * @param origin file path or label used in messages (default `<inline>`)
 * @param env host name and open-file limit (default: this machine's)
 */
export function parseConfig(json: unknown, origin = "<inline>", env: ConfigEnv = systemConfigEnv()): PoolConfig {
  return validate(json, origin, env, []);
}

function validate(json: unknown, origin: string, env: ConfigEnv, duplicateKeys: readonly KeyPath[]): PoolConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(origin, [{ key: "", reason: "the config must be a JSON object ({ ... })" }]);
  }
  const issues: ConfigIssue[] = duplicateKeys.map((p) => ({ key: formatKeyPath(p), reason: "appears more than once in the same object (remove the duplicate)" }));
  const result = ConfigSchema.safeParse(json);
  if (!result.success) issues.push(...toConfigIssues(result.error.issues, json));
  for (const issue of crossCheck(json)) if (!issues.some((i) => i.key === issue.key)) issues.push(issue);
  if (issues.length > 0 || !result.success) throw new ConfigError(origin, inFileOrder(issues, Object.keys(json)));
  return normalize(result.data, origin, env);
}

/** Sorts issues by where their top-level key appears in the file (stable: same key keeps its order). */
function inFileOrder(issues: ConfigIssue[], topKeys: string[]): ConfigIssue[] {
  const rank = (i: ConfigIssue): number => {
    const top = /^[^.[]*/.exec(i.key)?.[0] ?? "";
    const at = topKeys.indexOf(top);
    return at < 0 ? topKeys.length : at;
  };
  return issues.map((issue, n) => ({ issue, n })).sort((a, b) => rank(a.issue) - rank(b.issue) || a.n - b.n).map((x) => x.issue);
}

/**
 * Reads and validates a config file. ckpool compatibility: text after the top-level JSON object
 * is ignored (its sample config ends with a comment line).
 * Throws ConfigFileError (`CONFIG_READ`: missing, unreadable, not JSON, with line:column) or
 * ConfigError (`CONFIG_INVALID`).
 */
export async function loadConfig(path: string, env: ConfigEnv = systemConfigEnv()): Promise<PoolConfig> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) throw new ConfigFileError(path, `config file ${path} is ${buf.length} bytes; a config is at most ${MAX_CONFIG_BYTES}: is this the right file?`);
    text = buf.toString("utf8");
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String((err as Error).message);
    throw new ConfigFileError(path, `cannot read config file ${path}: ${why}`, { cause: err });
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    throw new ConfigFileError(path, `config file ${path}:${parsed.line}:${parsed.column}: invalid JSON: ${parsed.reason}`, {
      line: parsed.line,
      column: parsed.column,
    });
  }
  return validate(parsed.value, path, env, parsed.duplicateKeys);
}

/** Deep-partial config input: what `devConfig` callers may override. */
export type DevOverrides = { [K in keyof ConfigInput]?: ConfigInput[K] extends infer V ? (V extends unknown[] ? V : V extends object ? Partial<V> : V) : never };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Merges `over` into `base`: nested objects merge one level per level, arrays and scalars replace. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** The config document `tbg dev` starts from, before overrides (exported for docs and tests). */
export function devConfigInput(): ConfigInput {
  return {
    network: DEV_DEFAULTS.network,
    btcd: [{ url: DEV_DEFAULTS.btcdUrl, auth: DEV_DEFAULTS.btcdAuth, pass: DEV_DEFAULTS.btcdPass }],
    serverurl: [...DEV_DEFAULTS.serverurl],
    mindiff: DEV_DEFAULTS.mindiff,
    startdiff: DEV_DEFAULTS.startdiff,
    instance: DEV_DEFAULTS.instance,
    data_dir: DEV_DEFAULTS.dataDir,
    health: { host: DEV_DEFAULTS.healthHost },
    bans: { allowlist: ["127.0.0.1", "::1"] },
  };
}

/**
 * The config `tbg dev` runs with: regtest, difficulty low enough for a CPU miner (mindiff 0.0001,
 * startdiff 0.001), loopback listeners, state under `.tbg-dev/`. `overrides` are merged in (the
 * dev command passes its in-process node as `btcd`, free ports as `serverurl`/`health.port`).
 * Throws ConfigError if an override is invalid.
 */
export function devConfig(overrides: DevOverrides = {}, env?: ConfigEnv): PoolConfig {
  const input = merge(devConfigInput() as Record<string, unknown>, overrides as Record<string, unknown>);
  return parseConfig(input, "<dev>", env ?? { hostname: DEV_DEFAULTS.instance, openFileLimit: readOpenFileLimit() });
}
