/**
 * Errors are API: every failure the engine reports has a stable `code` from the catalogue
 * (./error-codes.ts, docs/errors.md); callers and tests switch on `code`, never on message text.
 * `cause` is passed through.
 */
import type { ErrorCode } from "./error-codes.ts";

export type { ErrorCode };

export class TbgError extends Error {
  /** Stable machine-readable code, e.g. `CONFIG_INVALID`, `RPC_TIMEOUT`. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad command-line usage: exit code 2 and the command's help. */
export class UsageError extends TbgError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** Human text for any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
