/**
 * Logging: pino. JSON lines to stdout (and, with `logdir`, to `logdir/tbg.log` too) in production; `pretty` gives short human
 * lines for `tbg dev`. `reopen()` re-opens the log file (SIGUSR1, for logrotate).
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { escapeControl } from "../util/text.ts";

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Directory for `tbg.log`; null = stdout. */
  logdir?: string | null;
  /** Human-readable single lines instead of JSON (dev). */
  pretty?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/**
 * A tiny pretty printer: "12:00:01 INFO  message key=value". Control characters (a miner's user agent
 * or a refused username quoted in a message) are escaped (`\x1b`, `\n`): raw, they could forge log
 * lines or drive the operator's terminal.
 */
export function prettyStream(out: { write(s: string): unknown }) {
  return {
    write(line: string) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { level, time, msg, pid: _p, hostname: _h, ...rest } = o;
        const t = new Date(Number(time)).toISOString().slice(11, 19);
        const extras = Object.entries(rest)
          .map(([k, v]) => `${escapeControl(k)}=${typeof v === "string" ? escapeControl(v) : JSON.stringify(v)}`)
          .join(" ");
        out.write(`${t} ${(LEVEL_NAMES[Number(level)] ?? "").padEnd(5)} ${escapeControl(String(msg ?? ""))}${extras ? "  " + extras : ""}\n`);
      } catch {
        out.write(`${escapeControl(line.replace(/\n$/, ""))}\n`);
      }
    },
  };
}

export interface LoggerHandle {
  logger: Logger;
  /** Re-opens the log file (no-op for stdout). */
  reopen(): void;
  flush(): void;
}

export function createLogger(opts: LoggerOptions): LoggerHandle {
  if (opts.logdir) {
    // The file AND the terminal (stdout): an operator who starts the pool by hand sees it run, and
    // learns where the file is from the first line.
    mkdirSync(opts.logdir, { recursive: true });
    const file = join(opts.logdir, "tbg.log");
    const dest = pino.destination({ dest: file, sync: false, mkdir: true });
    const terminal = opts.pretty ? prettyStream(process.stdout) : pino.destination({ dest: 1, sync: true });
    const level = opts.level === "silent" ? "fatal" : opts.level;
    const logger = pino({ level: opts.level, base: undefined }, pino.multistream([{ level: level as pino.Level, stream: dest }, { level: level as pino.Level, stream: terminal }]));
    logger.info({ file: resolve(file) }, "logging to %s and to the terminal", resolve(file));
    return { logger, reopen: () => dest.reopen(), flush: () => dest.flushSync() };
  }
  if (opts.pretty) {
    const logger = pino({ level: opts.level, base: undefined }, prettyStream(process.stdout));
    return { logger, reopen: () => {}, flush: () => {} };
  }
  const dest = pino.destination({ dest: 1, sync: true });
  const logger = pino({ level: opts.level, base: undefined }, dest);
  return { logger, reopen: () => {}, flush: () => {} };
}
