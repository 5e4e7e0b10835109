/**
 * Issue 12 §6 over a real pool: pretty logs escape control characters a miner chose, and an
 * upper-case bech32 address is the same user as its lower-case spelling.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { prettyStream } from "../../src/app/logger.ts";
import { DgramReader } from "../../src/pipeline/events/dgram-reader.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { startTestPool } from "../support/pool.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { RawClient } from "../support/stratum.ts";
import { waitFor } from "../support/wait.ts";

const ADDRESS = REGTEST_ADDRESSES.p2wpkh;
// Every C0 control except the line feed that ends a line, DEL, C1 and lone surrogates.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]|\p{Cs}/u;

test("pretty log lines escape control characters from miners (message and fields) and never forge a line", async (t) => {
  const out: string[] = [];
  const logger = pino({ level: "debug", base: undefined }, prettyStream({ write: (s: string) => out.push(s) }));
  logger.info({ ua: "evil\u001b[2J\nINFO forged line\u0000" }, "authorize refused: \u001b]0;pwned\u0007");
  assert.equal(out.length, 1);
  assert.equal(out[0].split("\n").length, 2, "one line");
  assert.ok(!RAW_CONTROL.test(out[0].slice(0, -1)), JSON.stringify(out[0]));
  assert.match(out[0], /authorize refused: \\x1b\]0;pwned\\x07 {2}ua=evil\\x1b\[2J\\nINFO forged line\\x00/);

  // Through the pool: a poisoned user agent and username, logged at debug by the engine's log hooks.
  const lines: string[] = [];
  const pool = await startTestPool({ app: { logger: { logger: pino({ level: "trace", base: undefined }, prettyStream({ write: (s: string) => lines.push(s) })), reopen: () => {}, flush: () => {} } } });
  t.after(() => pool.close());
  const c = await RawClient.connect(pool.port);
  await c.request("mining.subscribe", ["ua\u001b[31m"]);
  await c.request("mining.authorize", [`${ADDRESS}.rig\u001b[2J\u0000`, "x"]);
  await c.request("mining.authorize", [`${ADDRESS}.rig1`, "x"]);
  c.close();
  await waitFor(() => lines.some((l) => /rig1/.test(l)), "the authorized miner logged");
  for (const l of lines) assert.ok(!RAW_CONTROL.test(l.slice(0, -1)), `raw control character in ${JSON.stringify(l)}`);
});

test("an upper-case bech32 address is the same user as its lower-case spelling (canonical form in events)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-bech-"));
  const socketPath = join(dir, "events.sock");
  const events: MiningEvent[] = [];
  const reader = new DgramReader({ socketPath, onMessage: (m) => { if (m.ok) events.push(m.event); } });
  await reader.start();
  const pool = await startTestPool({ overrides: { events: { enabled: true, socket_path: socketPath } } });
  t.after(async () => {
    await pool.close();
    await reader.close();
    await rm(dir, { recursive: true, force: true });
  });
  const upper = await RawClient.connect(pool.port);
  await upper.handshake(`${ADDRESS.toUpperCase()}.rig1`);
  const lower = await RawClient.connect(pool.port);
  await lower.handshake(`${ADDRESS}.rig2`);
  await waitFor(() => events.filter((e) => e.event === "miner_connected").length === 2, "two miner_connected");
  const users = events.filter((e): e is MiningEvent<"miner_connected"> => e.event === "miner_connected").map((e) => e.data.user);
  assert.deepEqual(users, [ADDRESS, ADDRESS]);
  upper.close();
  lower.close();
});
