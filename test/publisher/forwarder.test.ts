import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "../../src/pipeline/nats/spool.ts";
import { Forwarder } from "../../src/pipeline/nats/forwarder.ts";
import { waitFor } from "../support/wait.ts";

test("a failing spool read is reported and the publish loop restarts instead of dying", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-fwd-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = await Spool.open({ dir });
  const realRead = spool.read.bind(spool);
  let readFailures = 0;
  spool.read = async (n: number) => {
    if (readFailures < 2) {
      readFailures++;
      throw new Error("EIO: i/o error, read");
    }
    return realRead(n);
  };
  const published: string[] = [];
  const errors: string[] = [];
  const link = {
    ready: true,
    whenReady: async () => {},
    publish: async (_subject: string, _payload: Uint8Array, msgId: string) => {
      published.push(msgId);
      return { duplicate: false, seq: published.length, stream: "MINING_EVENTS" } as never;
    },
  };
  const fwd = new Forwarder({ spool, link, region: "eu", retryInitialMs: 10, onError: (e) => errors.push(e.message) });
  fwd.start();
  for (let i = 0; i < 3; i++) spool.append(Buffer.from(JSON.stringify({ event: "share_submitted", event_id: `e${i}` })));
  await waitFor(() => published.length >= 3, "all three published after the read failures", 5000);
  assert.deepEqual(published.slice(0, 3), ["e0", "e1", "e2"]);
  assert.equal(errors.filter((m) => m.includes("EIO")).length, 2);
  await fwd.close();
  await spool.close();
});
