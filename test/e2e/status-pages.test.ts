/**
 * The status pages in a real browser (system Chromium, headless): `tbg dev` is started as a user would,
 * the page is opened before anything mines, then `tbg miner` runs, and the worker, a found block and a
 * best difficulty must appear without a reload. A connection with a hostile worker name and user agent
 * is listed as plain text and runs nothing. Screenshots of both pages are checked for being non-blank
 * (pixel variance). The collector's platform page (PGlite under tbg dev) is checked the same way.
 * TBG_SCREENSHOT_DIR=DIR keeps the screenshots (README's docs/status-page.png comes from here).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REGTEST_DEMO_ADDRESS } from "../../src/cli/demo.ts";
import { RawClient } from "../support/stratum.ts";
import { HOSTILE_AGENT, HOSTILE_WORKER } from "../support/hostile.ts";
import { browserSkipReason, launchBrowser, pngStats } from "../support/browser.ts";
import { waitFor } from "../storage/fixtures.ts";
import type { Page } from "playwright-core";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

function run(args: string[]) {
  const child = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => out, alive: () => child.exitCode === null && child.signalCode === null };
}

/** What the page-side functions touch (typed here: the project is compiled without the DOM library). */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null; scripts: { length: number }; images: { length: number } };
  __sameDocument?: number;
  __pwned?: number;
}

/**
 * textContent of elements by id. Page-side code is an anonymous arrow with no inner named function: tsx
 * names those with a helper the page does not have. Functions (not strings) are used because the
 * page's CSP forbids eval, which string predicates would need.
 */
async function texts(p: Page, ids: string[]): Promise<Record<string, string>> {
  const values = await p.evaluate((list) => list.map((id) => (globalThis as unknown as PageGlobals).document.getElementById(id)?.textContent ?? ""), ids);
  return Object.fromEntries(ids.map((id, i) => [id, values[i]]));
}

function assertNotBlank(name: string, png: Buffer): void {
  const s = pngStats(png);
  assert.ok(s.width >= 800 && s.height >= 400, `${name}: ${s.width}×${s.height}`);
  assert.ok(s.lumaStdDev > 10, `${name}: luminance std dev ${s.lumaStdDev.toFixed(1)} (a blank page is ~0)`);
  assert.ok(s.colours > 50, `${name}: ${s.colours} distinct colours`);
}

/**
 * The waitFor limits below sum to 300 s (90 + 30 + 90 + 60 + 30): the test's own timeout leaves 120 s on
 * top of them for starting Chromium, tbg dev and the collector, so a slow step fails with its waitFor
 * message (naming what did not appear) rather than as an anonymous test timeout.
 */
const WAIT_LIMITS_MS = [90_000, 30_000, 90_000, 60_000, 30_000];
const TEST_TIMEOUT_MS = WAIT_LIMITS_MS.reduce((a, b) => a + b, 0) + 120_000;

test("status page and platform page update live in Chromium while tbg miner mines under tbg dev", { skip: browserSkipReason(), timeout: TEST_TIMEOUT_MS }, async (t) => {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = await mkdtemp(join(tmpdir(), "tbg-pages-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const dev = run(["dev", "--stratum-port", "0", "--http-port", "0", "--collector-port", "0", "--node-rpc-port", "0", "--node-zmq-port", "0",
    "--data-dir", join(dir, "data"), "--events-socket", join(dir, "events.sock")]);
  cleanups.push(async () => {
    if (dev.alive()) dev.child.kill("SIGTERM");
    const timer = setTimeout(() => dev.child.kill("SIGKILL"), 20_000);
    await dev.exited;
    clearTimeout(timer);
  });
  await waitFor(() => /Stratum: +stratum\+tcp/.test(dev.output()) || !dev.alive(), "tbg dev ready", 90_000, 100);
  const out = dev.output();
  const statusUrl = /Status: +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
  const platformUrl = /Platform: +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
  const stratumUrl = /Stratum: +(stratum\+tcp:\/\/127\.0\.0\.1:(\d+))/.exec(out);
  assert.ok(statusUrl && platformUrl && stratumUrl, `tbg dev prints the page URLs:\n${out}`);

  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const noteError = (e: unknown) => errors.push(String(e));
  page.on("pageerror", noteError);
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  await page.goto(statusUrl);
  await waitFor(async () => (await texts(page, ["miners"])).miners.includes("no miner connected"), "first render", 30_000, 200);
  assert.equal(await page.locator("#blocks").textContent(), "no block found since start", "nothing found before the miner starts");
  await page.evaluate(() => {
    (globalThis as unknown as PageGlobals).__sameDocument = 42;
  });

  // A hostile connection (it never submits) and the real CPU miner.
  const hostile = await RawClient.connect(Number(stratumUrl[2]));
  cleanups.push(() => hostile.socket.destroy());
  await hostile.request("mining.subscribe", [HOSTILE_AGENT]);
  assert.equal((await hostile.request("mining.authorize", [`${REGTEST_DEMO_ADDRESS}.${HOSTILE_WORKER}`, "x"])).result, true);
  const miner = run(["miner", "--url", stratumUrl[1], "--user", `${REGTEST_DEMO_ADDRESS}.rig1`, "--duration", "45", "--quiet"]);
  cleanups.push(async () => {
    if (miner.alive()) miner.child.kill("SIGINT");
    await miner.exited;
  });

  await waitFor(async () => {
    const v = await texts(page, ["miners", "blocks", "best-alltime", "best-week"]);
    return v.miners.includes("rig1") && /accepted/.test(v.blocks) && v["best-alltime"].includes("rig1") && v["best-week"].includes("rig1");
  }, "worker, block and best difficulty on the page", 90_000, 250);
  const seen = await texts(page, ["miners", "best-alltime"]);
  const view = {
    ...(await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return { marker: g.__sameDocument, pwned: g.__pwned, scripts: g.document.scripts.length, images: g.document.images.length };
    })),
    miners: seen.miners,
    best: seen["best-alltime"],
  };
  assert.equal(view.marker, 42, "the same document: updated without a reload");
  assert.equal(navigations, 1, "one navigation only");
  assert.equal(view.pwned, undefined, "no injected script ran");
  assert.equal(view.scripts, 1, "no script element was injected");
  assert.equal(view.images, 0, "no image element was injected");
  assert.ok(view.miners.includes(`x<script>window.__pwned=1</script>"'`), "the hostile worker name is shown as text");
  assert.ok(view.miners.includes(`<img src=x onerror="window.__pwned=2">`), "the hostile user agent is shown as text");
  assert.ok(!view.miners.includes("\u202e") && !view.miners.includes("\u0000") && !view.miners.includes("\u001b"), "control and bidi characters replaced");
  assert.match(view.best, /rig1.*\d/, "a best difficulty with a number");
  assert.deepEqual(errors, [], "no script error or CSP violation");
  const shot = await page.screenshot({ type: "png" });
  assertNotBlank("status page", shot);

  // The platform page (collector, PGlite): the leaderboard, blocks and the region fill in without a reload.
  const platform = await browser.context.newPage();
  platform.on("pageerror", noteError);
  await platform.goto(platformUrl);
  await waitFor(async () => {
    const v = await texts(platform, ["leaderboard", "blocks", "regions"]);
    return v.leaderboard.includes("rig1") && /submitted|accepted/.test(v.blocks) && v.regions.includes("eu");
  }, "leaderboard, blocks and region on the platform page", 60_000, 250);
  await waitFor(async () => /^\d/.test((await texts(platform, ["eps"])).eps), "event throughput measured", 30_000, 250);
  const pshot = await platform.screenshot({ type: "png" });
  assertNotBlank("platform page", pshot);
  assert.deepEqual(errors, [], "no script error on the platform page");

  if (process.env.TBG_SCREENSHOT_DIR) {
    await writeFile(join(process.env.TBG_SCREENSHOT_DIR, "status-page.png"), shot);
    await writeFile(join(process.env.TBG_SCREENSHOT_DIR, "platform-page.png"), pshot);
  }
  miner.child.kill("SIGINT");
  assert.equal(await miner.exited, 0, miner.output());
  t.diagnostic(`status page ${shot.length} B, platform page ${pshot.length} B`);
});
