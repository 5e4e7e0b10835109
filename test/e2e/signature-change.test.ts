/**
 * Regression: block_found must report the signature that is in the block's coinbase. A session's payout
 * (address and signature) is fixed when it authorizes; a settings-file change mid-session applies to new
 * connections, and block_found used to report the new text while the block carried the old one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import type { BlockFound } from "../../src/core/engine/engine.ts";

test("block_found reports the signature the block carries after a mid-session settings change", async () => {
  const addr = REGTEST_ADDRESSES.p2wsh;
  const settingsDir = await import("node:fs/promises").then((fs) => fs.mkdtemp(join(process.env.TMPDIR ?? "/tmp", "tbg-sig-")));
  const file = join(settingsDir, "users.json");
  await writeFile(file, JSON.stringify({ [addr]: { coinbase_signature: "/old/" } }));
  const pool = await startTestPool({ overrides: { user_settings_file: file } });
  try {
    const sigs = pool.app.engine["signatures"] as { signatureFor(a: string): string | undefined };
    await waitFor(() => sigs.signatureFor(addr) === "/old/", "settings loaded");
    const c = await RawClient.connect(pool.port);
    const job = await c.handshake(`${addr}.w`);
    await writeFile(file, JSON.stringify({ [addr]: { coinbase_signature: "/new/" } }));
    await waitFor(() => sigs.signatureFor(addr) === "/new/", "settings reloaded", 15_000);
    const found = once(pool.app.engine.bus, "block") as Promise<[BlockFound]>;
    const work = c.work(job, Buffer.alloc(c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(`${addr}.w`, work, c.findNonce(work, "block")));
    assert.equal(r.result, true);
    const [block] = await found;
    assert.equal(block.accepted, true);
    assert.equal(block.signature, "/old/");
    assert.ok(Buffer.from(job.coinb1Hex + job.coinb2Hex, "hex").includes(Buffer.from("/old/")), "the block coinbase carries /old/");
    c.close();
  } finally {
    await pool.close();
  }
});
