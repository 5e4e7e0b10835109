/**
 * Config failures ("a bad config names the key and the reason and exits non-zero").
 * Two failure modes, two classes: the file cannot be read as JSON (`CONFIG_READ`), or it is JSON
 * whose keys are wrong (`CONFIG_INVALID`, every offending key listed, not just the first).
 */
import { TbgError, errorText } from "../util/errors.ts";
import type { KeyPath } from "./json-text.ts";

/** One problem with one key. */
export interface ConfigIssue {
  /** Key path as an operator would write it: `btcd[1].url`, `serverurl[0]`, `stratum.max_line_bytes`. */
  key: string;
  /** Why the value is refused, and what is expected instead. */
  reason: string;
}

/** A config setting that loads but deserves the operator's attention (e.g. an ignored ckpool key). */
export type ConfigWarning = ConfigIssue;

/** `key: reason` lines, indented, one per issue. */
function issueLines(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  ${i.key || "(top level)"}: ${i.reason}`).join("\n");
}

/** The config is valid JSON but one or more keys are wrong. */
export class ConfigError extends TbgError {
  /** Every problem found (validation does not stop at the first). */
  readonly issues: readonly ConfigIssue[];
  /** The file path, or a label such as `<dev>` for configs built in code. */
  readonly origin: string;
  constructor(origin: string, issues: readonly ConfigIssue[]) {
    const n = issues.length;
    super("CONFIG_INVALID", `invalid config ${origin} (${n} problem${n === 1 ? "" : "s"}):\n${issueLines(issues)}`);
    this.issues = issues;
    this.origin = origin;
  }
}

/** The config file is missing, unreadable, or not JSON. */
export class ConfigFileError extends TbgError {
  readonly path: string;
  /** 1-based position of a JSON syntax error, when that is the failure. */
  readonly line: number | null;
  readonly column: number | null;
  constructor(path: string, message: string, options: { line?: number; column?: number; cause?: unknown } = {}) {
    super("CONFIG_READ", message, { cause: options.cause });
    this.path = path;
    this.line = options.line ?? null;
    this.column = options.column ?? null;
  }
}

/**
 * Text for `tbg pool -c FILE` to print before exiting non-zero: for a ConfigError, a header and
 * one `key: reason` line per problem; for anything else, its message.
 */
export function formatConfigError(err: unknown): string {
  if (err instanceof ConfigError || err instanceof ConfigFileError) return err.message;
  return errorText(err);
}

/** Text for warnings, one per line (for the logger at start-up). */
export function formatConfigWarnings(warnings: readonly ConfigWarning[]): string {
  return issueLines(warnings);
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `["btcd", 1, "url"]` → `btcd[1].url`; odd keys are quoted: `events["a b"]`. */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (IDENT_RE.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
