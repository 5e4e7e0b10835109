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

import { createHmac, randomBytes } from "node:crypto";
import { TbgError } from "./errors.ts";

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

/** Deepest nesting {@link storageTextProblem} and {@link sanitizeDeep} walk (events are a few levels deep). */
export const MAX_TEXT_DEPTH = 64;

/** A value nested deeper than {@link MAX_TEXT_DEPTH}: refused rather than walked (no stack overflow). */
export class TooDeepError extends TbgError {
  constructor(path: string) {
    super("VALUE_TOO_DEEP", `${path || "(root)"}: nested deeper than ${MAX_TEXT_DEPTH} levels`);
  }
}

/**
 * What PostgreSQL would refuse in any string (key or value) of a JSON-like value, by path: a NUL
 * (22021 in `text`, 22P05 in `jsonb`) or a lone surrogate (22P02 in `jsonb`). Null when none. A value
 * nested deeper than {@link MAX_TEXT_DEPTH} is a problem too (never walked recursively past it).
 */
export function storageTextProblem(value: unknown, path = "", depth = 0): string | null {
  if (typeof value === "string") {
    return STORAGE_BAD.test(value) ? `${path || "(root)"}: ${textProblem(value) ?? "contains a NUL"}` : null;
  }
  if (typeof value !== "object" || value === null) return null;
  if (depth >= MAX_TEXT_DEPTH) return `${path || "(root)"}: nested deeper than ${MAX_TEXT_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = storageTextProblem(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if (STORAGE_BAD.test(k)) return `${here}: key ${textProblem(k) ?? "contains a NUL"}`;
    const p = storageTextProblem(v, here, depth + 1);
    if (p) return p;
  }
  return null;
}

/**
 * A copy of a JSON-like value with every string (keys too) sanitised by {@link sanitizeText}.
 * Throws {@link TooDeepError} past {@link MAX_TEXT_DEPTH} levels.
 */
export function sanitizeDeep<T>(value: T, depth = 0, path = ""): T {
  if (typeof value === "string") return sanitizeText(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_TEXT_DEPTH) throw new TooDeepError(path);
  if (Array.isArray(value)) return value.map((v: unknown, i) => sanitizeDeep(v, depth + 1, `${path}[${i}]`)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[sanitizeText(k)] = sanitizeDeep(v, depth + 1, path ? `${path}.${k}` : k);
  return out as T;
}

/*
 * Display of miner-supplied text (worker names, user agents) shown to a human: a terminal or a web page. Control
 * characters (C0, DEL, C1: NUL, ESC sequences that would drive a terminal) and the Unicode bidirectional
 * controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F: an RTL override would make "gpj.exe" read
 * "exe.jpg") are replaced by U+FFFD, and the result is clipped, so a hostile name can neither restyle
 * the output nor pass for another one. HTML escaping is a separate matter: the pages only ever set
 * text through `textContent`.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** The regular expression source of {@link displaySafe}'s replaced set (the pages' script uses the same). */
export const UNSAFE_TEXT_SOURCE = UNSAFE.source;

/** `s` with control and bidi characters replaced by U+FFFD, clipped to `max` characters (… marks a cut). */
export function displaySafe(s: string, max = 128): string {
  const clean = s.replace(UNSAFE, "\ufffd");
  return clean.length <= max ? clean : `${clipText(clean, max - 1)}…`;
}

/** How payout addresses appear on public status pages: as they are, shortened, or as a pseudonym. */
export type AddressDisplay = "full" | "short" | "hidden";
export const ADDRESS_DISPLAY_VALUES: readonly AddressDisplay[] = ["full", "short", "hidden"];

/**
 * Shows addresses as configured: `full`; `short` = first 6 … last 4 characters; `hidden` = `miner-` and 8 hex
 * digits of an HMAC under a key drawn at start, so rows stay distinguishable while the process runs but the
 * address cannot be recovered by hashing candidate addresses.
 */
export class AddressMask {
  private readonly key = randomBytes(16);
  constructor(readonly display: AddressDisplay) {}

  show(address: string): string {
    if (this.display === "full") return displaySafe(address, 100);
    if (this.display === "short") return address.length <= 12 ? displaySafe(address, 12) : displaySafe(`${address.slice(0, 6)}…${address.slice(-4)}`, 12);
    return `miner-${createHmac("sha256", this.key).update(address).digest("hex").slice(0, 8)}`;
  }
}
