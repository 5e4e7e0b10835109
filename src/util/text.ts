/**
 * The one rule for text a miner chooses (Stratum username and so the worker name, user agent,
 * password): well-formed UTF-16 (no lone surrogate) and no control character (C0, DEL, C1).
 * PostgreSQL refuses NUL in `text` (22021) and a lone surrogate escape in `jsonb` (22P02), a log
 * line with a raw ESC or newline can forge another line, and a clip that counts UTF-16 units can
 * cut a surrogate pair in half: so lengths are clipped by code point here.
 *
 * The Stratum boundary applies the rule (an authorize whose username breaks it is refused, a user
 * agent is sanitised); the event schema enforces the same rule (TEXT_PATTERN); the collector
 * sanitises a `block_found` that breaks it rather than lose the block. Pure.
 */

/** Control characters (C0, DEL, C1) and lone surrogates (`\p{Cs}` only matches unpaired ones with the `u` flag). */
const BAD = /[\p{Cc}\p{Cs}]/u;
const BAD_GLOBAL = /[\p{Cc}\p{Cs}]/gu;

/** NUL or a lone surrogate: what PostgreSQL refuses in `text` / `jsonb`. */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const STORAGE_BAD = /[\u0000\p{Cs}]/u;

/** JSON Schema / zod pattern of acceptable text (ECMA-262 with the `u` flag, as ajv compiles patterns). */
export const TEXT_PATTERN = /^[^\p{Cc}\p{Cs}]*$/u;

/** Why `s` breaks the rule (names the first offending character and its index), or null. */
export function textProblem(s: string): string | null {
  const m = BAD.exec(s);
  if (!m) return null;
  const cp = m[0].codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  const what = cp >= 0xd800 && cp <= 0xdfff ? "an unpaired surrogate" : "a control character";
  return `contains ${what} (${hex}) at index ${m.index}`;
}

/** `s` with every control character and lone surrogate replaced by U+FFFD. */
export function sanitizeText(s: string): string {
  return BAD.test(s) ? s.replace(BAD_GLOBAL, "\uFFFD") : s;
}

/** At most `maxUnits` UTF-16 units, never ending inside a surrogate pair (clips by code point). */
export function clipText(s: string, maxUnits: number): string {
  if (s.length <= maxUnits) return s;
  let end = maxUnits;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return s.slice(0, end);
}

/** Sanitise then clip: what a miner-supplied string becomes when it is kept rather than refused. */
export function safeText(s: string, maxUnits: number): string {
  return clipText(sanitizeText(s), maxUnits);
}

/**
 * Escapes control characters and lone surrogates for a terminal (`\n`, `\x1b`, `\u{d800}`…), so a
 * miner-chosen string can neither forge a log line nor send terminal escape sequences.
 */
export function escapeControl(s: string): string {
  if (!BAD.test(s)) return s;
  return s.replace(BAD_GLOBAL, (c) => {
    const cp = c.codePointAt(0)!;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u{${cp.toString(16)}}`;
  });
}

/**
 * What PostgreSQL would refuse in any string (key or value) of a JSON-like value, by path: a NUL
 * (22021 in `text`, 22P05 in `jsonb`) or a lone surrogate (22P02 in `jsonb`). Null when none.
 */
export function storageTextProblem(value: unknown, path = ""): string | null {
  if (typeof value === "string") {
    return STORAGE_BAD.test(value) ? `${path || "(root)"}: ${textProblem(value) ?? "contains a NUL"}` : null;
  }
  if (typeof value !== "object" || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = storageTextProblem(value[i], `${path}[${i}]`);
      if (p) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if (STORAGE_BAD.test(k)) return `${here}: key ${textProblem(k) ?? "contains a NUL"}`;
    const p = storageTextProblem(v, here);
    if (p) return p;
  }
  return null;
}

/** A copy of a JSON-like value with every string (keys too) sanitised by {@link sanitizeText}. */
export function sanitizeDeep<T>(value: T): T {
  if (typeof value === "string") return sanitizeText(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => sanitizeDeep(v)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[sanitizeText(k)] = sanitizeDeep(v);
  return out as T;
}
