/** Shared helpers for the event tests: temp socket paths, bounded polling, child readers. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import type { ShareSubmittedData } from "../../src/pipeline/events/types.ts";
import { EXAMPLE_DATA } from "./fixtures.ts";

/** A fresh directory for socket files; `cleanup()` removes it. */
export async function tempSocketDir(): Promise<{ dir: string; path: (name?: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-events-"));
  return { dir, path: (name = "events.sock") => join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Poll `cond` every few ms until true; throws after `timeoutMs` (no sleeps as synchronisation). */
export async function waitFor(cond: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** share_submitted data whose `height` carries a sequence number, to check order on the other side. */
export function numberedShare(i: number): ShareSubmittedData {
  return { ...EXAMPLE_DATA.share_submitted, height: i };
}

/** A child process running test/events/fixtures/child-reader.ts; resolves once it is bound. */
export async function startChildReader(
  socketPath: string,
  expected: number,
): Promise<{ child: ChildProcessWithoutNullStreams; result: Promise<string> }> {
  const script = new URL("./fixtures/child-reader.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, ["--import", "tsx", script, socketPath, String(expected)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = createInterface({ input: child.stdout });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const iterator = lines[Symbol.asyncIterator]();
  const first = await Promise.race([
    iterator.next(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`child reader did not start: ${stderr}`)), 20_000).unref()),
  ]);
  if (first.done || first.value !== "ready") throw new Error(`child reader failed: ${String(first.value)} ${stderr}`);
  const result = iterator.next().then((r) => (r.done ? `exited ${stderr}` : r.value));
  return { child, result };
}
