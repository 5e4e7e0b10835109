/**
 * `tbg dev` (= `npm start`): everything on this machine with embedded defaults — an in-process bcoin
 * regtest node, the engine on it with difficulty low enough for a CPU miner, events, /health and /metrics.
 */
import { join, relative, resolve } from "node:path";
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { TbgError } from "../../util/errors.ts";
import { startEmbeddedNode } from "../../tools/regtest-node/embedded-node.ts";
import { devConfig } from "../../config/load.ts";
import { formatConfigError } from "../../config/errors.ts";
import { startPool, runWithSignals } from "../../app/run-pool.ts";
import { createLogger } from "../../app/logger.ts";
import { REGTEST_DEMO_ADDRESS } from "../demo.ts";
import { Collector } from "../../pipeline/collector/collector.ts";
import { checkPortsFree } from "../../util/ports.ts";
import { DEV_DEFAULTS } from "../../config/defaults.ts";

const help = `usage: tbg dev [options]

Runs everything locally: an embedded regtest node (bcoin, in memory), the mining engine on it,
the event collector on the event socket (embedded PostgreSQL, PGlite, in DIR/pgdata), the live
status page with /health + /metrics, and the collector's platform page. Difficulty starts low (min 0.0001) so a CPU miner finds
shares at once, whatever the Stratum port: the high-difficulty rule of 'tbg pool'
(ports above 4000 start at highdiff) does not apply here. Ctrl-C (SIGINT) or SIGTERM shuts everything down cleanly.

options:
  --stratum-port N     Stratum listen port (default 3333)
  --http-port N        status page (/), /api/status, /health and /metrics port (default 9100)
  --collector-port N   the collector's platform page (/), /api/platform, /health, /metrics (default 9101)
  --node-rpc-port N    the embedded node's JSON-RPC port (default 18443)
  --node-zmq-port N    the embedded node's ZMQ hashblock port (default 28332)
  --events-socket P    Unix datagram socket for events (default DATA_DIR/events.sock: each
                       data dir has its own, so two tbg dev on one host do not collide)
  --data-dir DIR       where records and the event store live (default .tbg-dev)
  --log-level LEVEL    info (default), debug, warn, ...

then, in another terminal:
  ./bin/tbg miner --url stratum+tcp://127.0.0.1:3333 --user ${REGTEST_DEMO_ADDRESS}.rig1`;

export const command: Command = {
  summary: "run node + engine locally with embedded defaults (npm start)",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      "stratum-port": { type: "string" },
      "http-port": { type: "string" },
      "collector-port": { type: "string" },
      "node-rpc-port": { type: "string" },
      "node-zmq-port": { type: "string" },
      "events-socket": { type: "string" },
      "data-dir": { type: "string" },
      "log-level": { type: "string" },
    });
    const stratumPort = intFlag("stratum-port", f["stratum-port"] as string | undefined, 3333);
    const httpPort = intFlag("http-port", f["http-port"] as string | undefined, 9100);
    const collectorPort = intFlag("collector-port", f["collector-port"] as string | undefined, 9101);
    const rpcPort = intFlag("node-rpc-port", f["node-rpc-port"] as string | undefined, 18443);
    const zmqPort = intFlag("node-zmq-port", f["node-zmq-port"] as string | undefined, 28332);
    const dataDir = resolve((f["data-dir"] as string | undefined) ?? ".tbg-dev");
    // Under the data dir (ours, per checkout): never a shared /tmp path another user or another tbg dev could take.
    // sockaddr_un holds 107 bytes: a deep checkout uses the path relative to the working directory.
    const defaultSocket = join(dataDir, "events.sock");
    const eventsSocket = (f["events-socket"] as string | undefined) ?? (Buffer.byteLength(defaultSocket) <= 107 ? defaultSocket : relative(process.cwd(), defaultSocket));
    const level = (f["log-level"] as string | undefined) ?? "info";
    const log = createLogger({ level, pretty: true });
    // Every port at once, before the node and the database start (they take seconds).
    await checkPortsFree([
      { component: "Stratum", host: "127.0.0.1", port: stratumPort, setting: "--stratum-port" },
      { component: "health/metrics HTTP", host: DEV_DEFAULTS.healthHost, port: httpPort, setting: "--http-port" },
      { component: "collector HTTP", host: "127.0.0.1", port: collectorPort, setting: "--collector-port" },
      { component: "embedded node JSON-RPC", host: "127.0.0.1", port: rpcPort, setting: "--node-rpc-port" },
      { component: "embedded node ZMQ", host: "127.0.0.1", port: zmqPort, setting: "--node-zmq-port" },
    ]);

    // Stop signals are handled from here on: one during start-up closes what started and exits 0.
    return runWithSignals(log, async (signal) => {
      const node = await startEmbeddedNode({ rpcPort, zmqPort, user: "tbg" });
      log.logger.info({ rpc: node.rpcUrl, user: node.rpcUser, pass: node.rpcPass, zmq: node.zmqUrl }, "embedded regtest node (bcoin) ready");
      let config;
      try {
        const u = new URL(node.rpcUrl);
        config = devConfig({
          btcd: [{ url: `${u.hostname}:${u.port}`, auth: node.rpcUser, pass: node.rpcPass, zmqnotify: node.zmqUrl }],
          serverurl: [`127.0.0.1:${stratumPort}`],
          health: { port: httpPort },
          events: { socket_path: eventsSocket },
          data_dir: dataDir,
          log: { level: level as "info" },
        });
        // Local CPU miners: the ckpool rule "ports above 4000 start at highdiff" does not apply in dev.
        config.serverurl = config.serverurl.map((s) => ({ ...s, highdiff: false }));
      } catch (err) {
        await node.close();
        throw new TbgError("CONFIG_INVALID", formatConfigError(err), { cause: err });
      }
      // The collector binds the socket before the engine sends to it, and is closed after the engine.
      const collector = new Collector({ socketPath: eventsSocket, dataDir, region: config.region, http: { host: "127.0.0.1", port: collectorPort }, defaultMetrics: false, log: log.logger });
      let app;
      try {
        await collector.start();
        app = await startPool(config, { logger: log }, signal);
      } catch (err) {
        await collector.close();
        await node.close();
        throw err;
      }
      const web = `http://127.0.0.1:${app.obs.health?.port ?? httpPort}`;
      console.log(
        [
          "",
          `  Status:   ${web}/   (live page: miners, best difficulties, blocks)    Platform: ${collector.httpUrl ?? "off"}/`,
          `  Stratum:  stratum+tcp://127.0.0.1:${app.stratumPorts[0]}   (user = a regtest address, e.g. ${REGTEST_DEMO_ADDRESS}.rig1)`,
          `  Health:   ${web}/health    Metrics: ${web}/metrics    API: ${web}/api/status   (tbg status)`,
          `  Node RPC: ${node.rpcUrl}  user=${node.rpcUser} pass=${node.rpcPass}   ZMQ: ${node.zmqUrl}`,
          `  Events:   ${eventsSocket} → ${collector.stats().database.target} (PGlite)`,
          "",
          `  Mine:     ./bin/tbg miner --url stratum+tcp://127.0.0.1:${app.stratumPorts[0]} --user ${REGTEST_DEMO_ADDRESS}.rig1`,
          "",
        ].join("\n"),
      );
      return {
        async close() {
          await app.close();
          await collector.close();
          await node.close();
        },
      };
    });
  },
};
