/** `tbg monitor` config: defaults, and every bad key named (with the CLI's exit code). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { MONITOR_DEFAULTS, monitorKeyPaths, MonitorConfigError, parseMonitorConfig } from "../../src/tools/monitor/config.ts";

const root = new URL("../../", import.meta.url).pathname;
const region = (name: string, extra: Record<string, unknown> = {}) => ({ name, role: "relay", stratum: `${name}.internal:3333`, health_url: `http://${name}.internal:9100/health`, ...extra });

test("a minimal config gets the documented defaults (10 s interval, 3 failures)", () => {
  const c = parseMonitorConfig(JSON.stringify({ default_region: "eu", regions: [region("eu", { role: "primary" })] }));
  assert.equal(c.intervalMs, 10_000);
  assert.equal(c.failureThreshold, 3);
  assert.equal(c.recoveryThreshold, MONITOR_DEFAULTS.recoveryThreshold);
  assert.equal(c.port, MONITOR_DEFAULTS.port);
  assert.deepEqual(c.regions[0], { name: "eu", role: "primary", stratumHost: "eu.internal", stratumPort: 3333, stratum: "eu.internal:3333", publicStratum: "eu.internal:3333", healthUrl: "http://eu.internal:9100/health", failover: [], drain: false });
  assert.equal(c.nats, null);
});

test("every bad key is named: unknown keys, bad addresses, duplicate regions, failover and default_region outside the regions", () => {
  const bad = {
    default_region: "mars",
    interval_sec: 0,
    regions: [region("eu", { stratum: "eu.internal", failover: ["moon", "eu"] }), region("eu", { health_url: "ftp://x/health", colour: "red" })],
    extra: 1,
  };
  let err: unknown;
  try {
    parseMonitorConfig(JSON.stringify(bad), "m.json");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof MonitorConfigError);
  assert.equal(err.code, "MONITOR_CONFIG_INVALID");
  for (const needle of ["extra: unknown key", "interval_sec", "regions[0].stratum: expected \"host:port\"", "regions[1].health_url", "regions[1].colour: unknown key", "regions[1].name: region \"eu\" is listed twice", "regions[0].failover[0]: \"moon\" is not one of the regions", "regions[0].failover[1]: a region cannot fail over to itself", "default_region: \"mars\" is not one of the regions"]) {
    assert.ok(err.message.includes(needle), `names ${needle}:\n${err.message}`);
  }
});

test("a probe timeout not shorter than the interval, and a region named \"default\", are refused by name", () => {
  assert.throws(() => parseMonitorConfig(JSON.stringify({ interval_sec: 2, timeout_ms: 2000, default_region: "eu", regions: [region("eu")] })), /timeout_ms: 2000 ms must be shorter than interval_sec \(2000 ms\)/);
  assert.throws(() => parseMonitorConfig(JSON.stringify({ timeout_ms: 10_000, default_region: "eu", regions: [region("eu")] })), /timeout_ms: 10000 ms must be shorter/);
  assert.equal(parseMonitorConfig(JSON.stringify({ interval_sec: 2, timeout_ms: 1999, default_region: "eu", regions: [region("eu")] })).timeoutMs, 1999);
  assert.throws(() => parseMonitorConfig(JSON.stringify({ default_region: "eu", regions: [region("eu"), region("default")] })), /regions\[1\]\.name: "default" is reserved/);
});

test("a JSON syntax error gives line and column; a duplicated key is refused", () => {
  assert.throws(() => parseMonitorConfig('{\n  "default_region": "eu",\n  "regions": [ }', "m.json"), (e: MonitorConfigError) => e.code === "MONITOR_CONFIG_INVALID" && /m\.json:3:\d+: not valid JSON/.test(e.message));
  assert.throws(() => parseMonitorConfig(JSON.stringify({ default_region: "eu", regions: [region("eu")] }).replace('"default_region":"eu"', '"default_region":"eu","default_region":"eu"')), /default_region: key given twice/);
});

test("every monitor config key is documented in docs/configuration.md, and the deploy config loads", async () => {
  const docs = await readFile(`${root}docs/configuration.md`, "utf8");
  const section = docs.slice(docs.indexOf("## Region monitor"));
  assert.ok(section.length > 0 && docs.includes("## Region monitor"), "a Region monitor section");
  const keys = monitorKeyPaths();
  assert.ok(keys.includes("regions[].failover") && keys.includes("nats.expected_leafnodes"), keys.join(", "));
  const missing = keys.filter((k) => !section.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
  const c = parseMonitorConfig(await readFile(`${root}deploy/monitor/monitor.json`, "utf8"), "deploy/monitor/monitor.json");
  assert.deepEqual(c.regions.map((r) => [r.name, r.failover]), [["eu", ["us"]], ["us", ["eu"]], ["asia", ["us"]]]);
  assert.equal(c.defaultRegion, "eu");
});
