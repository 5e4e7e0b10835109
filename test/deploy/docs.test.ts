/**
 * docs/geodns/ and the multi-region runbook stay true: every page exists and its links resolve, the
 * Route53 and Cloudflare failover orders are the monitor's, and the alerts the runbook names exist.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseMonitorConfig } from "../../src/tools/monitor/config.ts";
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
  const src = read(`${ROOT}src/tools/monitor/metrics.ts`);
  for (const m of metrics) assert.ok(src.includes(`"${m}"`), `${m} is registered`);
});

test("Cloudflare: region_pools use only Cloudflare's region codes (NSAM/SSAM, not SAM), and every monitor defined is attached to a pool", () => {
  const cf = read(`${GEODNS}cloudflare.md`);
  const VALID = new Set(["WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS"]);
  const block = /for_each = \{([\s\S]*?)\n\s*\}/.exec(cf.slice(cf.indexOf('dynamic "region_pools"')))![1];
  const codes = [...block.matchAll(/\b([A-Z]+) = \[/g)].map((m) => m[1]);
  assert.ok(codes.length >= 12);
  for (const c of codes) assert.ok(VALID.has(c), `${c} is a Cloudflare region code`);
  for (const c of VALID) assert.ok(codes.includes(c), `${c} is steered`);
  for (const m of cf.matchAll(/resource "cloudflare_load_balancer_monitor" "(\w+)"/g)) {
    assert.match(cf, new RegExp(`monitor\\s*=\\s*cloudflare_load_balancer_monitor\\.${m[1]}\\.id`), `monitor ${m[1]} is attached to a pool`);
  }
  assert.doesNotMatch(cf, /states and Cloudflare's agree/);
  assert.match(cf, /\/metrics/, "says that opening :9100 exposes /metrics");
});

test("Route53: a dead monitor falls back to the TCP check (inverted monitor /health child, 2 of 3), and the TbgMonitorDown alert says so", () => {
  const r53 = read(`${GEODNS}route53.md`);
  const dead = /resource "aws_route53_health_check" "monitor_dead" \{([\s\S]*?)\n\}/.exec(r53)![1];
  assert.match(dead, /invert_healthcheck\s*=\s*true/);
  assert.match(dead, /resource_path\s*=\s*"\/health"/);
  const calc = /resource "aws_route53_health_check" "region" \{([\s\S]*?)\n\}/.exec(r53)![1];
  assert.match(calc, /child_health_threshold = 2/);
  for (const child of ["monitor\\[each.key\\]", "stratum\\[each.key\\]", "monitor_dead"]) assert.match(calc, new RegExp(`aws_route53_health_check\\.${child}\\.id`));
  const rules = (parseYaml(read(`${DEPLOY}prometheus/alerts.yml`)) as { groups: Array<{ rules: Array<{ alert: string; annotations: { description: string } }> }> }).groups.flatMap((g) => g.rules);
  assert.match(rules.find((r) => r.alert === "TbgMonitorDown")!.annotations.description, /TCP check/);
  assert.doesNotMatch(r53, /every region's calculated check goes\s+unhealthy/);
});

test("drain runbooks take the region out of DNS and wait before stopping the engine", () => {
  for (const [file, heading] of [[`${GEODNS}failover-runbook.md`, "Drain a region"], [`${ROOT}docs/operations.md`, "### Maintenance"], [`${GEODNS}overview.md`, "## Timing"]] as const) {
    const text = read(file);
    const at = text.indexOf(heading);
    assert.ok(at >= 0, `${file}: ${heading}`);
    const section = text.slice(at, at + 1500);
    assert.match(section, /drain/, `${file}: names the monitor's drain`);
    assert.match(section, /90 s/, `${file}: waits detection + TTL`);
    const stop = section.search(/systemctl stop tbg-pool|then stop `tbg-pool`|only then\s+stop/);
    assert.ok(stop > 0 && section.indexOf("drain") < stop, `${file}: drain comes before the stop`);
  }
});
