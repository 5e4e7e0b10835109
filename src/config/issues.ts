/**
 * Turns zod issues into `{ key, reason }` lines an operator can act on: the key path as written
 * in the file (`btcd[1].url`), what was expected, what was found, and "did you mean" for a
 * misspelt key. Pure.
 */
import type { z } from "zod";
import { formatKeyPath, type ConfigIssue } from "./errors.ts";
import type { KeyPath } from "./json-text.ts";
import { knownKeysAt } from "./schema.ts";

type Issue = z.core.$ZodIssue;

/** The value at `path` in the raw document, or undefined. */
export function valueAt(root: unknown, path: KeyPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** JSON type name of a value, for "expected X, got Y". */
function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${show(v)}`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `${v}`;
  return typeof v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const EXPECTED_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "an array",
  object: "an object",
};

/** Levenshtein distance, bounded by the short strings config keys are. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** "unknown key", plus the closest known key when one is near. */
function unknownKeyReason(key: string, path: KeyPath): string {
  const known = knownKeysAt(path);
  const lower = key.toLowerCase();
  let best: string | null = null;
  let bestDist = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  const hint = best !== null && bestDist <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : "";
  return `unknown key${hint}`;
}

/** True when zod wrote the message itself (ours are written where the schema is declared). */
function isDefaultMessage(message: string): boolean {
  return /^(Too small|Too big|Invalid|Unrecognized|Expected)/.test(message);
}

/** Appends the offending value unless the message already quotes it. */
function withActual(message: string, actual: unknown): string {
  return typeof actual === "string" && message.includes(actual) ? message : `${message} (got ${show(actual)})`;
}

function boundReason(issue: Extract<Issue, { code: "too_small" | "too_big" }>, actual: unknown): string {
  const small = issue.code === "too_small";
  const bound = Number(small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === "array") return small ? `needs at least ${bound} entr${bound === 1 ? "y" : "ies"}` : `at most ${bound} entries`;
  if (issue.origin === "string") return small ? (bound <= 1 ? "must not be empty" : `at least ${bound} characters`) : `at most ${bound} characters`;
  const op = small ? (inclusive ? "≥" : ">") : inclusive ? "≤" : "<";
  return `must be ${op} ${bound} (got ${show(actual)})`;
}

/** Converts zod issues (paths relative to `base`) into config issues. */
export function toConfigIssues(issues: readonly Issue[], root: unknown, base: KeyPath = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...(issue.path as Array<string | number>)];
    const actual = valueAt(root, path);
    const key = formatKeyPath(path);
    switch (issue.code) {
      case "unrecognized_keys":
        for (const k of issue.keys) out.push({ key: formatKeyPath([...path, k]), reason: unknownKeyReason(k, path) });
        break;
      case "invalid_union": {
        // Report the branch that matched the value's type (its issues lie deeper), e.g. serverurl[0].
        const deeper = issue.errors.find((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0));
        if (deeper) out.push(...toConfigIssues(deeper, root, path));
        else out.push({ key, reason: `${issue.message}, got ${jsonType(actual)}` });
        break;
      }
      case "invalid_type":
        if (actual === undefined) out.push({ key, reason: `required (${EXPECTED_NAMES[issue.expected] ?? issue.expected})` });
        else out.push({ key, reason: `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${jsonType(actual)}` });
        break;
      case "invalid_value":
        out.push({ key, reason: `expected one of ${issue.values.map((v) => show(v)).join(", ")}, got ${jsonType(actual)}` });
        break;
      case "too_small":
      case "too_big":
        out.push({ key, reason: isDefaultMessage(issue.message) ? boundReason(issue, actual) : withActual(issue.message, actual) });
        break;
      default:
        out.push({ key, reason: isDefaultMessage(issue.message) ? `invalid value ${show(actual)}` : withActual(issue.message, actual) });
    }
  }
  return out;
}
