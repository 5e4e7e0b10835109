/**
 * `tbg <command>`: the one command-line entry. Each command lives in ./commands/<name>.ts,
 * exports `help` (text) and `run(argv)`, and is its own composition root: it builds the parts it needs.
 * A failure is printed with its code and what to do about it (src/util/error-codes.ts, docs/errors.md).
 */
import { TbgError, UsageError, errorText } from "../util/errors.ts";
import { hintFor } from "../util/error-codes.ts";

export interface Command {
  /** One line for `tbg --help`. */
  summary: string;
  /** Full help text for `tbg <command> --help`. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * Command name → its module, loaded lazily so one command's dependencies never load (or slow) another:
 * `tbg pool` loads no bcoin, PGlite, NATS client or benchmark code (test/cli/pool-imports.test.ts).
 * Literal import() calls, so the compiled build (bin/compiled.mjs) gives each command its own chunk.
 */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  dev: () => import("./commands/dev.ts"),
  pool: () => import("./commands/pool.ts"),
  miner: () => import("./commands/miner.ts"),
  bench: () => import("./commands/bench.ts"),
  "bench-node": () => import("./commands/bench-node.ts"),
  "bench-suite": () => import("./commands/bench-suite.ts"),
  collector: () => import("./commands/collector.ts"),
  publisher: () => import("./commands/publisher.ts"),
  node: () => import("./commands/node.ts"),
  monitor: () => import("./commands/monitor.ts"),
  status: () => import("./commands/status.ts"),
};

async function load(name: string): Promise<Command | undefined> {
  const importer = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return importer ? (await importer()).command : undefined;
}

async function usage(): Promise<string> {
  const lines = ["usage: tbg <command> [options]   (tbg <command> --help for its options)", "", "commands:"];
  for (const name of Object.keys(COMMANDS)) {
    const cmd = await load(name).catch(() => undefined);
    if (cmd) lines.push(`  ${name.padEnd(12)} ${cmd.summary}`);
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(await usage());
    return name ? 0 : 2;
  }
  const cmd = await load(name);
  if (!cmd) {
    console.error(`tbg: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`tbg ${name}: ${err.message}\n\n${cmd.help}`);
      return 2;
    }
    console.error(formatCliError(name, err));
    return 1;
  }
}

/** `tbg NAME: message [CODE]`, then what to do about it when the code is in the catalogue. */
export function formatCliError(name: string, err: unknown): string {
  if (!(err instanceof TbgError)) return `tbg ${name}: ${errorText(err)}`;
  const hint = hintFor(err.code);
  return `tbg ${name}: ${errorText(err)} [${err.code}]${hint ? `\n  what to do: ${hint}` : ""}`;
}
