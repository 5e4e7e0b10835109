/**
 * docs/geodns/ and the multi-region runbook stay true: every page exists and its links resolve, the
 * Route53 and Cloudflare failover orders are the monitor's, and the alerts the runbook names exist.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseMonitorConfig } from "../../src/monitor/config.ts";
import { DEPLOY, ROOT, existsSync, read } from "./helpers.ts";

const GEODNS = `${ROOT}docs/geodns/`;

test("docs/geodns has the overview, Route53, Cloudflare, health checks and failover runbook; every relative link resolves", () => {
  assert.deepEqual(readdirSync(GEODNS).sort(), ["cloudflare.md", "failover-runbook.md", "health-checks.md", "overview.md", "route53.md"]);
  for (const file of [...readdirSync(GEODNS).map((f) => `${GEODNS}${f}`), `${ROOT}docs/operations.md`, `${DEPLOY}README.md`]) {
    for (const m of read(file).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(m[1])) continue;
      assert.ok(existsSync(resolve(dirname(file), m[1])), `${file}: link ${m[1]}`);
    }
  }
});

test("the failover order in the Route53 and Cloudflare docs is the monitor's (EU→US, US→EU, Asia→US, default EU)", () => {
  const mc = parseMonitorConfig(read(`${DEPLOY}monitor/monitor.json`));
  const order = Object.fromEntries(mc.regions.map((r) => [r.name, r.failover[0]]));
  assert.deepEqual(order, { eu: "us", us: "eu", asia: "us" });
  const r53 = read(`${GEODNS}route53.md`);
  const tf = /failover\s*=\s*\{([^}]*)\}/.exec(r53)![1];
  assert.deepEqual(Object.fromEntries([...tf.matchAll(/(\w+)\s*=\s*"(\w+)"/g)].map((m) => [m[1], m[2]])), order);
  assert.match(r53, /name\s*=\s*"eu\.failover\.\$\{local\.name\}"[\s\S]*country = "\*"/, "default record: EU's failover pair");
  const cf = read(`${GEODNS}cloudflare.md`);
  for (const [region, next] of Object.entries(order)) assert.match(cf, new RegExp(`= \\["${region}", "${next}"`), `${region} → ${next}`);
  assert.match(cf, /fallback_pool_id = cloudflare_load_balancer_pool\.region\["eu"\]/);
  assert.equal(mc.defaultRegion, "eu");
});

test("the alerts the runbook and the health-check page name are the rules in deploy/prometheus/alerts.yml", () => {
  const rules = (parseYaml(read(`${DEPLOY}prometheus/alerts.yml`)) as { groups: Array<{ rules: Array<{ alert: string }> }> }).groups.flatMap((g) => g.rules.map((r) => r.alert));
  const named = new Set([...read(`${GEODNS}failover-runbook.md`).matchAll(/`(Tbg[A-Za-z]+)`/g)].map((m) => m[1]));
  assert.ok(named.size >= 6);
  for (const a of named) assert.ok(rules.includes(a), `${a} is a rule`);
  const metrics = [...read(`${GEODNS}health-checks.md`).matchAll(/`(tbg_monitor_[a-z_]+)`/g)].map((m) => m[1]);
  const src = read(`${ROOT}src/monitor/metrics.ts`);
  for (const m of metrics) assert.ok(src.includes(`"${m}"`), `${m} is registered`);
});
