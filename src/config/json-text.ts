/**
 * The config file's JSON reader. Differs from JSON.parse where an operator benefits:
 * - Reading stops after the top-level value: ckpool reads its config with
 *   `YYJSON_READ_STOP_WHEN_DONE` (formerly jansson's `JSON_DISABLE_EOF_CHECK`), and its sample
 *   `ckpool.conf` ends with free text ("Comments from here on are ignored.").
 * - Syntax errors carry line and column (JSON.parse's message has no position for some errors).
 * - Duplicate keys are reported (JSON.parse silently keeps the last one, hiding copy-paste slips).
 * - A UTF-8 byte order mark is skipped.
 * Pure: text in, value out.
 */

/** A path into the parsed document: object keys and array indexes. */
export type KeyPath = ReadonlyArray<string | number>;

/** Successful read. */
export interface JsonTextValue {
  ok: true;
  value: unknown;
  /** Paths of keys that appear more than once in the same object (the last occurrence wins). */
  duplicateKeys: KeyPath[];
  /** Non-whitespace text after the top-level value (ignored, as ckpool does). */
  hasTrailingText: boolean;
}

/** Syntax error with a 1-based line and column. */
export interface JsonTextError {
  ok: false;
  /** 0-based UTF-16 offset into the text. */
  offset: number;
  line: number;
  column: number;
  reason: string;
}

/** Deepest nesting accepted: configs are shallow; this keeps hostile input from exhausting the stack. */
const MAX_DEPTH = 64;

class Fail {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

/** Reads the first JSON value of `text` (see the module comment for how this differs from JSON.parse). */
export function parseJsonText(text: string): JsonTextValue | JsonTextError {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const duplicateKeys: KeyPath[] = [];

  const describe = (at: number): string => (at >= text.length ? "end of file" : JSON.stringify(text[at]));
  const skipWs = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const expect = (ch: string, what: string): void => {
    if (text[i] !== ch) throw new Fail(i, `expected ${what}, found ${describe(i)}`);
    i++;
  };

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      }
      if (c < 0x20) throw new Fail(i, "control character in string (escape it, e.g. \\n)");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, "invalid \\u escape");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, `invalid escape \\${e ?? ""}`);
        i += 2;
        continue;
      }
      i++;
    }
    throw new Fail(start, "unterminated string");
  };

  const parseNumber = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) throw new Fail(i, `invalid number starting with ${describe(i)}`);
    i += m[0].length;
    return Number(m[0]);
  };

  const parseValue = (path: Array<string | number>): unknown => {
    if (path.length > MAX_DEPTH) throw new Fail(i, `nesting deeper than ${MAX_DEPTH} levels`);
    skipWs();
    const c = text[i];
    if (c === "{") return parseObject(path);
    if (c === "[") return parseArray(path);
    if (c === '"') return parseString();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return parseNumber();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    throw new Fail(i, `expected a value, found ${describe(i)}`);
  };

  const parseObject = (path: Array<string | number>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    i++; // {
    skipWs();
    if (text[i] === "}") {
      i++;
      return out;
    }
    while (true) {
      skipWs();
      if (text[i] === "}" && seen.size > 0) throw new Fail(i, "trailing comma before '}' (JSON does not allow one)");
      if (text[i] !== '"') throw new Fail(i, `expected a double-quoted key, found ${describe(i)}`);
      const key = parseString();
      skipWs();
      expect(":", "':' after the key");
      const value = parseValue([...path, key]);
      if (seen.has(key)) duplicateKeys.push([...path, key]);
      seen.add(key);
      // defineProperty, not assignment: a "__proto__" key must stay an ordinary (and then unknown) key.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      skipWs();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        return out;
      }
      throw new Fail(i, `expected ',' or '}' after a value, found ${describe(i)}`);
    }
  };

  const parseArray = (path: Array<string | number>): unknown[] => {
    const out: unknown[] = [];
    i++; // [
    skipWs();
    if (text[i] === "]") {
      i++;
      return out;
    }
    while (true) {
      skipWs();
      if (text[i] === "]" && out.length > 0) throw new Fail(i, "trailing comma before ']' (JSON does not allow one)");
      out.push(parseValue([...path, out.length]));
      skipWs();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        return out;
      }
      throw new Fail(i, `expected ',' or ']' after a value, found ${describe(i)}`);
    }
  };

  try {
    const value = parseValue([]);
    skipWs();
    return { ok: true, value, duplicateKeys, hasTrailingText: i < text.length };
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    const before = text.slice(0, err.offset);
    const line = before.split("\n").length;
    const column = err.offset - (before.lastIndexOf("\n") + 1) + 1;
    return { ok: false, offset: err.offset, line, column, reason: err.reason };
  }
}
