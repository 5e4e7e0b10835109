/** `tbg pool -c CONFIG`: the engine against the configured bitcoind nodes. */
import type { Command } from "../main.ts";
import { parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { loadConfig } from "../../config/load.ts";
import { formatConfigWarnings } from "../../config/errors.ts";
import { runPool } from "../../app/run-pool.ts";
import { stratumWorkerConfig } from "../../app/workers.ts";

const help = `usage: tbg pool -c CONFIG [--log-level LEVEL]

Runs the mining engine: Stratum V1 on every 'serverurl', work from the 'btcd' nodes,
events to the configured sinks, /health and /metrics on health.port.

options:
  -c, --config FILE    JSON config (ckpool key names; see docs/configuration.md)
  --log-level LEVEL    override log.level (fatal|error|warn|info|debug|trace)
  --pretty             human-readable log lines instead of JSON

Exits non-zero when the config is invalid (each bad key is named). SIGTERM/SIGINT shut down cleanly;
SIGUSR1 re-opens the log file.`;

export const command: Command = {
  summary: "run the mining engine with a config file",
  help,
  async run(argv) {
    const f = parseFlags(argv, { config: { type: "string", short: "c" }, "log-level": { type: "string" }, pretty: { type: "boolean" } });
    if (!f.config) throw new UsageError("-c CONFIG is required");
    // A bad config throws ConfigError / ConfigFileError: printed as every other error,
    // "tbg pool: <every problem> [CODE]", exit 1 (see docs/configuration.md).
    // A Stratum worker process runs on its primary's config (the file may have changed since).
    const worker = stratumWorkerConfig();
    if (worker) return runPool(worker, { pretty: Boolean(f.pretty) });
    const config = await loadConfig(f.config as string);
    if (config.warnings.length) console.error(formatConfigWarnings(config.warnings));
    if (f["log-level"]) config.log.level = f["log-level"] as typeof config.log.level;
    return runPool(config, { pretty: Boolean(f.pretty) });
  },
};
