/**
 * `tbg monitor -c CONFIG`: the region monitor (src/tools/monitor). Composition root: config → logger →
 * monitor service → run until SIGTERM/SIGINT → close.
 */
import type { Command } from "../main.ts";
import { parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { createLogger } from "../../app/logger.ts";
import { runUntilSignal } from "../../app/run-pool.ts";
import { MONITOR_DEFAULTS as d, loadMonitorConfig } from "../../tools/monitor/config.ts";
import { startMonitorService } from "../../tools/monitor/service.ts";

const help = `usage: tbg monitor -c FILE [options]

Watches every region of a multi-region deployment. Every interval_sec (default ${d.intervalSec} s) it
probes each region's Stratum port (TCP connect and a mining.subscribe round trip) and its /health, and
tracks the region as healthy, degraded (Stratum answers, /health does not say ok) or down (Stratum
fails); a state changes after failure_threshold (default ${d.failureThreshold}) consecutive worse probes,
or recovery_threshold (default ${d.recoveryThreshold}) better ones. It serves, on listen.port (default ${d.port}):

  /regions/NAME/health   200 when NAME is healthy, 503 otherwise (for Route53 / Cloudflare health checks)
  /regions, /regions/NAME  JSON overview / one region
  /route, /route/NAME    where NAME's miners (or "default": unknown location) should be sent now
  /health, /metrics      the monitor itself; Prometheus metrics (tbg_monitor_*)

Config keys: docs/configuration.md (tbg monitor). SIGTERM/SIGINT: stop listening, finish the round, exit.

options:
  -c, --config FILE      JSON config (required)
  --log-level LEVEL      fatal|error|warn|info|debug|trace (default: the config's log.level, else info)
  --pretty               human-readable log lines instead of JSON`;

export const command: Command = {
  summary: "watch every region's Stratum and /health; serve per-region health checks and failover routing",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      config: { type: "string", short: "c" },
      "log-level": { type: "string" },
      pretty: { type: "boolean" },
    });
    if (!f.config) throw new UsageError("-c FILE is required");
    const config = await loadMonitorConfig(f.config as string);
    const log = createLogger({ level: (f["log-level"] as string | undefined) ?? config.logLevel, pretty: Boolean(f.pretty) });
    const service = await startMonitorService(config, { log: log.logger });
    return runUntilSignal({ log, close: () => service.close() }, config.timeoutMs + 10_000);
  },
};
