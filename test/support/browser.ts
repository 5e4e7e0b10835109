/**
 * A real headless browser for page tests: Debian's system Chromium driven by playwright-core (which
 * never downloads a browser of its own). `chromiumPath()` is null when none is installed: browser
 * tests then skip, naming the reason (.ci/run installs the `chromium` package).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { PNG } from "pngjs";

/** The system Chromium (TBG_CHROMIUM overrides), or null. */
export function chromiumPath(): string | null {
  const candidates = [process.env.TBG_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** Why browser tests skip here, or false when they run. */
export function browserSkipReason(): string | false {
  return chromiumPath() ? false : "no system Chromium (/usr/bin/chromium; apt-get install chromium, as .ci/run does)";
}

/** Launch flags: headless, no sandbox (tests run as root), nothing that talks to the network by itself. */
export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

/** A fresh browser profile (its own --user-data-dir), closed and deleted by `close()`. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium");
  const profile = await mkdtemp(join(tmpdir(), "tbg-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Pixel statistics of a PNG: luminance standard deviation and distinct colours (a blank page has ~0 and 1). */
export function pngStats(png: Buffer): { width: number; height: number; lumaStdDev: number; colours: number } {
  const img = PNG.sync.read(png);
  let sum = 0;
  let sumSq = 0;
  const colours = new Set<number>();
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const r = img.data[i * 4];
    const g = img.data[i * 4 + 1];
    const b = img.data[i * 4 + 2];
    const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += y;
    sumSq += y * y;
    if (colours.size < 10_000) colours.add((r << 16) | (g << 8) | b);
  }
  const mean = sum / n;
  return { width: img.width, height: img.height, lumaStdDev: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), colours: colours.size };
}
