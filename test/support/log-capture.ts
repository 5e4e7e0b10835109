/** A pool logger that keeps every line in memory (parsed), for tests that check what the operator sees. */
import pino from "pino";
import type { LoggerHandle } from "../../src/app/logger.ts";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(level = "debug"): { handle: LoggerHandle; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level, base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { handle: { logger, reopen: () => {}, flush: () => {} }, lines };
}

/** pino level numbers. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
