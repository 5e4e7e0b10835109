import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { MINING_EVENTS_STREAM } from "../../src/pipeline/nats/jetstream.ts";
import { startNats } from "../support/servers.ts";
import { makeShares, waitFor } from "../storage/fixtures.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

test("tbg publisher: binds the socket, publishes to mining.events.<region>.<type>, stops cleanly on SIGTERM", async (t) => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-pubcli-"));
  t.after(async () => {
    await nats.close();
    await rm(dir, { recursive: true, force: true });
  });
  const socket = join(dir, "events.sock");
  const child = spawn(process.execPath, [TBG, "publisher", "--socket", socket, "--nats-url", nats.url, "--region", "asia", "--spool-dir", join(dir, "spool"), "--stats-interval", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.after(() => { if (child.exitCode === null) child.kill("SIGKILL"); });
  await waitFor(() => out.includes("waiting for events"), "publisher started", 30_000);

  const sock = new DgramSocket();
  sock.on("error", () => {});
  const events = makeShares(100);
  for (const e of events) {
    const buf = Buffer.from(JSON.stringify(e));
    sock.sendTo(buf, 0, buf.length, socket);
  }
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await waitFor(async () => (await jsm.streams.info(MINING_EVENTS_STREAM).catch(() => undefined))?.state.messages === 100, "100 messages in the stream");
  const msg = await jsm.streams.getMessage(MINING_EVENTS_STREAM, { last_by_subj: "mining.events.asia.share_submitted" });
  assert.equal((msg!.json() as { event_id: string }).event_id, events[99].event_id);
  sock.close();
  child.kill("SIGTERM");
  assert.equal(await exited, 0, out);
  assert.match(out, /100 published, 0 left in the spool/);
});
