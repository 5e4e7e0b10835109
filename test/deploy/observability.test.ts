/**
 * deploy/prometheus and deploy/grafana against what the code really exports: every metric an alert or a
 * dashboard panel queries is registered by the engine (a real pool on the embedded node, scraped), the
 * collector, or the monitor; `promtool` (Debian's prometheus package) checks the config and rules, runs
 * the rules' unit tests, and parses every dashboard query as PromQL.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { MonitorMetrics, MONITOR_METRIC_NAMES } from "../../src/tools/monitor/metrics.ts";
import { RegionMonitor } from "../../src/tools/monitor/monitor.ts";
import { parseMonitorConfig } from "../../src/tools/monitor/config.ts";
import { REGION_STATES } from "../../src/tools/monitor/state.ts";
import { DEPLOY, ROOT, read } from "./helpers.ts";

const havePromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;
const NO_PROMTOOL = "promtool is not installed (Debian package prometheus; .ci/run installs it)";

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }
const alerts = parseYaml(read(`${DEPLOY}prometheus/alerts.yml`)) as { groups: Array<{ name: string; rules: Rule[] }> };
const rules = alerts.groups.flatMap((g) => g.rules);
interface Panel { id: number; title: string; type: string; targets?: Array<{ expr: string }>; panels?: Panel[] }
const dashboard = JSON.parse(read(`${DEPLOY}grafana/dashboards/tbg-multi-region.json`)) as { uid: string; panels: Panel[]; templating: { list: Array<{ name: string; query: unknown }> } };
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Metric names a PromQL expression refers to (tbg_* only; `up` and functions are Prometheus' own). */
const metricNames = (expr: string) => [...new Set([...expr.matchAll(/\b(tbg_[a-z0-9_]+)/g)].map((m) => m[1]))];

let pool: TestPool;
const exported = new Set<string>();

before(async () => {
  // The engine: a real pool (with a ZMQ endpoint, so the per-endpoint families exist), scraped.
  pool = await startTestPool({ zmq: true });
  const text = await pool.app.obs.metrics!.metrics();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)/gm)) exported.add(m[1]);
  // The monitor: its own registry.
  const cfg = parseMonitorConfig(JSON.stringify({ default_region: "eu", regions: [{ name: "eu", role: "primary", stratum: "x:1", health_url: "http://x/health" }] }));
  const metrics = new MonitorMetrics(new RegionMonitor({ config: cfg }), { defaultMetrics: false });
  for (const m of await metrics.registry.getMetricsAsJSON()) exported.add(m.name);
  metrics.close();
  // The collector: the names its metrics module registers.
  for (const m of read(`${ROOT}src/collector/metrics.ts`).matchAll(/(?:name: |counter\()"(tbg_collector_[a-z0-9_]+)"/g)) exported.add(m[1]);
});
after(async () => {
  await pool?.close();
});

/** A histogram's series carry _bucket/_sum/_count on top of the family name. */
function isExported(name: string): boolean {
  return exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, ""));
}

test("the monitor exports every family it declares, and the engine's scrape has its core families", () => {
  for (const n of MONITOR_METRIC_NAMES) assert.ok(exported.has(n), n);
  for (const n of ["tbg_stratum_connections", "tbg_pool_hashrate_hs", "tbg_shares_total", "tbg_zmq_endpoint_up", "tbg_collector_lag_seconds"]) assert.ok(exported.has(n), n);
});

test("every alert maps a row of the on-call table and queries only exported metrics", () => {
  const byName = new Map(rules.map((r) => [r.alert!, r]));
  const table: Array<[string, string]> = [
    ["TbgRelayDown", "warning"], ["TbgPrimaryDown", "critical"], ["TbgCrossRegionSplit", "critical"],
    ["TbgEventReplicationLag", "warning"], ["TbgTemplateSyncSlow", "warning"], ["TbgNatsHubDown", "critical"], ["TbgEventPipelineStalled", "critical"],
  ];
  assert.match(byName.get("TbgPrimaryDown")!.expr, /state=~"down\|degraded"/, "a degraded primary pages");
  assert.match(byName.get("TbgEventPipelineStalled")!.expr, /tbg_collector_batches_total/);
  for (const [name, severity] of table) assert.equal(byName.get(name)?.labels?.severity, severity, name);
  assert.equal(byName.get("TbgCrossRegionSplit")!.for, "5m", "split > 5 min");
  assert.match(byName.get("TbgEventReplicationLag")!.expr, /> 30\b/, "lag > 30 s");
  assert.match(byName.get("TbgTemplateSyncSlow")!.expr, /> 0\.5\b/, "template sync > 500 ms");
  for (const r of rules) {
    const names = metricNames(r.expr);
    assert.ok(names.length > 0, `${r.alert}: queries a tbg metric`);
    for (const n of names) assert.ok(isExported(n), `${r.alert}: ${n} is exported`);
    assert.ok(["warning", "critical"].includes(r.labels!.severity), `${r.alert}: severity`);
  }
});

test("every dashboard query uses exported metrics; panel ids are unique; $region lists the monitor's regions", () => {
  assert.ok(panelExprs.length >= 12);
  for (const { panel, expr } of panelExprs) for (const n of metricNames(expr)) assert.ok(isExported(n), `${panel}: ${n} is exported`);
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const region = dashboard.templating.list.find((v) => v.name === "region")!;
  assert.match(JSON.stringify(region.query), /label_values\(tbg_monitor_region_state, region\)/);
  // Engine metrics get their region label from the scrape config: every pool target has one.
  const prom = parseYaml(read(`${DEPLOY}prometheus/prometheus.yml`)) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[]; labels?: Record<string, string> }> }> };
  const poolJob = prom.scrape_configs.find((s) => s.job_name === "tbg-pool")!;
  assert.deepEqual(poolJob.static_configs.map((s) => s.labels?.region).sort(), ["asia", "eu", "us"]);
});

test("promtool: config and rules valid, the rules' unit tests pass, every dashboard query parses as PromQL", async (t) => {
  if (!havePromtool) return t.skip(NO_PROMTOOL);
  const run = (...args: string[]) => spawnSync("promtool", args, { encoding: "utf8", cwd: `${DEPLOY}prometheus` });
  for (const args of [["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]]) {
    const r = run(...args);
    assert.equal(r.status, 0, `promtool ${args.join(" ")}:\n${r.stdout}${r.stderr}`);
  }
  // Each panel query as a recording rule (Grafana's $region filled in) so promtool parses it.
  const dir = await mkdtemp(join(tmpdir(), "tbg-dashboard-"));
  try {
    const asRules = { groups: [{ name: "dashboard", rules: panelExprs.map((p, i) => ({ record: `tbg_dashboard_panel_${i}`, expr: p.expr.replaceAll("$region", ".*") })) }] };
    await writeFile(join(dir, "panels.yml"), stringifyYaml(asRules));
    const r = spawnSync("promtool", ["check", "rules", join(dir, "panels.yml")], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${panelExprs.length} rules found`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the Region state panel maps every state the monitor reports, unknown included (not shown as healthy)", () => {
  const panel = dashboard.panels.find((p) => p.title === "Region state")! as Panel & { fieldConfig: { defaults: { mappings: Array<{ options: Record<string, { text: string }> }> } } };
  const texts = Object.values(panel.fieldConfig.defaults.mappings[0].options).map((o) => o.text).sort();
  assert.deepEqual(texts, [...REGION_STATES].sort());
  for (const s of REGION_STATES) if (s !== "healthy") assert.match(panel.targets![0].expr, new RegExp(`state=\\\\?"${s}\\\\?"`), s);
});
