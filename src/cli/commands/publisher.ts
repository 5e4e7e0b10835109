/**
 * `tbg publisher`: relay-side bridge from the engine's Unix datagram event socket to NATS JetStream,
 * spooling to disk while NATS is unreachable. Composition root for src/pipeline/nats.
 */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { REGION_PATTERN } from "../../pipeline/events/schemas.ts";
import { JetStreamPublisher } from "../../pipeline/nats/publisher.ts";
import { untilStopSignal } from "../signals.ts";
import { NATS_FLAG_HELP, NATS_FLAG_OPTIONS, natsAuthFrom } from "../nats-flags.ts";
import { redactNatsServers } from "../../pipeline/events/nats-options.ts";

const FSYNC = ["always", "interval", "never"] as const;

const help = `usage: tbg publisher --region R --spool-dir DIR [options]

Binds the engine's event socket, appends every valid event to an on-disk spool, and publishes it to
NATS JetStream subject mining.events.<region>.<event_type> with Nats-Msg-Id = event_id (stream
MINING_EVENTS, created or updated: limits retention, max age 24 h, 2-minute duplicate window).
While NATS is down events stay in the spool and go out in order when it returns; a restart resumes
from the spool. Ctrl-C (SIGINT) or SIGTERM stops it after saving the spool cursor.

options:
  --socket PATH          datagram socket to bind (default data/events.sock: the engine's default
                         events.socket_path, data_dir/events.sock; its directory must not be
                         writable by other users)
  --nats-url URL         NATS server(s), comma-separated (default nats://127.0.0.1:4222)
  --region R             region in the subject, e.g. us-east (required)
  --spool-dir DIR        spool directory (required; created if missing)
  --fsync MODE           spool durability: always | interval (default; fdatasync every 50 ms) | never
  --spool-max-mb N       refuse new events past this spool size, MiB (default 1024; block_found always kept)
  --retain-hours H       keep acknowledged events this long to publish them again if the stream is found
                         reset (re-created, or its sequence gone backwards) (default 6; 0 = off)
  --retain-mb N          ... and at most this much of them, MiB (default 256)
  --stream-max-gb N      MINING_EVENTS max bytes, GiB (default 10)
  --stats-interval S     print a stats line every S seconds (default 60; 0 = never)
${NATS_FLAG_HELP}`;

export const command: Command = {
  summary: "forward engine events from the datagram socket to NATS JetStream (with a disk spool)",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      socket: { type: "string" },
      "nats-url": { type: "string" },
      region: { type: "string" },
      "spool-dir": { type: "string" },
      fsync: { type: "string" },
      "spool-max-mb": { type: "string" },
      "stream-max-gb": { type: "string" },
      "retain-hours": { type: "string" },
      "retain-mb": { type: "string" },
      "stats-interval": { type: "string" },
      ...NATS_FLAG_OPTIONS,
    });
    const region = f.region as string | undefined;
    if (!region || !REGION_PATTERN.test(region)) throw new UsageError("--region is required: lowercase letters, digits, '-' or '_' (e.g. us-east)");
    const spoolDir = f["spool-dir"] as string | undefined;
    if (!spoolDir) throw new UsageError("--spool-dir is required");
    const fsync = (f.fsync as string | undefined) ?? "interval";
    if (!(FSYNC as readonly string[]).includes(fsync)) throw new UsageError(`--fsync must be one of ${FSYNC.join(", ")}`);
    const statsEverySec = intFlag("stats-interval", f["stats-interval"] as string | undefined, 60);

    let lastError = "";
    const natsUrl = (f["nats-url"] as string | undefined) ?? "nats://127.0.0.1:4222";
    const pub = new JetStreamPublisher({
      auth: natsAuthFrom(f, process.env),
      socketPath: (f.socket as string | undefined) ?? "data/events.sock",
      natsUrl,
      region,
      spoolDir,
      spool: {
        fsync: fsync as (typeof FSYNC)[number],
        maxBytes: intFlag("spool-max-mb", f["spool-max-mb"] as string | undefined, 1024) * 1024 * 1024,
        retainMs: intFlag("retain-hours", f["retain-hours"] as string | undefined, 6) * 3_600_000,
        retainBytes: intFlag("retain-mb", f["retain-mb"] as string | undefined, 256) * 1024 * 1024,
      },
      stream: { maxBytes: intFlag("stream-max-gb", f["stream-max-gb"] as string | undefined, 10) * 1024 ** 3 },
      onError: (err, context) => {
        // A NATS outage repeats the same error every reconnect attempt: print each distinct one once.
        const line = `${context}: ${err.message}`;
        if (line !== lastError) console.error(`tbg publisher: ${line}`);
        lastError = line;
      },
      onStreamReset: (reason) => console.error(`tbg publisher: WARNING ${reason}; publishing the retained spool again`),
    });
    await pub.start();
    console.log(`tbg publisher: region ${region}, NATS ${redactNatsServers(natsUrl)}, spool ${spoolDir}; waiting for events (Ctrl-C to stop)`);
    const timer = statsEverySec > 0 ? setInterval(() => console.log(JSON.stringify({ publisher: pub.stats() })), statsEverySec * 1000) : undefined;
    timer?.unref();

    await untilStopSignal();
    clearInterval(timer);
    await pub.close();
    const s = pub.stats();
    console.log(`tbg publisher: stopped; ${s.forwarder.published} published, ${s.spool.unacked} left in the spool`);
    return 0;
  },
};
