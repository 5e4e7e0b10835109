/**
 * Errors are API (STYLE.md §4): every failure the engine reports has a stable `code`
 * string; callers and tests switch on `code`, never on message text. `cause` is passed through.
 */
export class TbgError extends Error {
  /** Stable machine-readable code, e.g. `CONFIG_INVALID`, `RPC_TIMEOUT`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
