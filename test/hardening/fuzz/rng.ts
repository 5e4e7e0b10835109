/**
 * A small seeded PRNG (sfc32, from PractRand) and hostile-value generators for the fuzz targets.
 * Seeded so every failing input can be replayed from (target, seed, index).
 */

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  hex(chars: number): string {
    let s = "";
    for (let i = 0; i < chars; i++) s += "0123456789abcdefABCDEF"[this.int(this.chance(0.9) ? 16 : 22)];
    return s;
  }
}

/** Strings that have broken parsers before: prototype keys, number-ish text, control and lone-surrogate characters. */
export const HOSTILE_STRINGS: readonly string[] = [
  "", " ", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf",
  "NaN", "Infinity", "-Infinity", "-1", "0", "-0", "1e999", "1e-999", "0x10", "0b1", "1_000", " 12 ",
  "ffffffff", "fffffffff", "FFFFFFFF", "1fffe000", "00000000", "zz", "0x1fffe000", "-1fffe000",
  "%s%s%n", "${x}", "\u0000", "\ud800", "\udfff\ud800", "é", "😀", "\r", "\n", "\\", "\"", "'", "<script>",
  "version-rolling", "version-rolling.mask", "minimum-difficulty", "subscribe-extranonce", "info",
  "mining.submit", "mining.notify", "client.reconnect",
];

/** Numbers JSON can carry that have broken difficulty, time and mask code elsewhere. */
export const HOSTILE_NUMBERS: readonly number[] = [
  0, -0, 1, -1, 0.5, 1e-4, 1e-9, 5e-324, 1e-320, 0.1 + 0.2, 2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
  1e21, 1e300, 1.7976931348623157e308, -1.7976931348623157e308, 4294967295, 0xffffffff + 1, 42, 1000, 65536,
];

/** JSON text fragments JSON.stringify cannot produce (overflowing literals, duplicate and prototype keys). */
export const RAW_VALUE_TEXT: readonly string[] = [
  "1e999", "-1e999", "1e-999", "123456789012345678901234567890", "-0", "0.0000000000000000000001",
  '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":1,"a":2}', '"\\ud800"', '"\\u0000"',
  "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", "{}", "[]", "null", "true", '""',
];

export function randomString(rng: Rng, maxLen = 40): string {
  if (rng.chance(0.5)) return rng.pick(HOSTILE_STRINGS);
  const len = rng.int(maxLen + 1);
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = rng.int(10);
    s += r < 6 ? String.fromCharCode(32 + rng.int(95)) : r < 8 ? String.fromCharCode(rng.int(0x10000)) : rng.hex(1);
  }
  return s;
}

/** Any JSON value, biased toward hostile ones, at most `depth` levels deep. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const r = rng.int(depth > 0 ? 10 : 7);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
    case 3:
      return rng.chance(0.5) ? rng.pick(HOSTILE_NUMBERS) : (rng.float() - 0.5) * 10 ** rng.int(20);
    case 4:
    case 5:
    case 6:
      return randomString(rng);
    case 7:
    case 8: {
      const n = rng.int(6);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(randomJson(rng, depth - 1));
      return out;
    }
    default: {
      const n = rng.int(5);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) Object.defineProperty(out, randomString(rng, 12), { value: randomJson(rng, depth - 1), enumerable: true, writable: true, configurable: true });
      return out;
    }
  }
}

/** A JSON text of `value`, sometimes with a raw fragment spliced in where a value stood. */
export function jsonText(rng: Rng, value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  if (!rng.chance(0.15)) return text;
  const at = text.indexOf(rng.chance(0.5) ? "null" : "0");
  if (at === -1) return text;
  const raw = rng.pick(RAW_VALUE_TEXT);
  return text.slice(0, at) + raw + text.slice(at + (text.startsWith("null", at) ? 4 : 1));
}

/** Nesting `depth` levels of arrays or objects (`[[[…]]]` / `{"a":{"a":…}}`). */
export function deepJson(depth: number, kind: "array" | "object"): string {
  return kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}
