import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJsonText } from "../../src/config/json-text.ts";

function value(text: string): unknown {
  const r = parseJsonText(text);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  return r.value;
}

function error(text: string): { line: number; column: number; reason: string } {
  const r = parseJsonText(text);
  assert.ok(!r.ok, "parsed");
  return { line: r.line, column: r.column, reason: r.reason };
}

test("agrees with JSON.parse on valid documents", () => {
  const docs = ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"],"b":{"c":{}},"d":[]}', "  {}  ", '"s"', "0", "[ ]"];
  for (const d of docs) assert.deepEqual(value(d), JSON.parse(d));
});

test("stops after the top-level value, as ckpool does, and says there was trailing text", () => {
  const r = parseJsonText('{"a":1}\nComments from here on are ignored.\n');
  assert.ok(r.ok);
  assert.deepEqual(r.value, { a: 1 });
  assert.equal(r.hasTrailingText, true);
  const clean = parseJsonText('{"a":1}\n');
  assert.ok(clean.ok && !clean.hasTrailingText);
});

test("skips a UTF-8 byte order mark", () => {
  assert.deepEqual(value('\ufeff{"a":1}'), { a: 1 });
});

test("syntax errors carry 1-based line and column", () => {
  assert.deepEqual(error('{\n  "a": 1\n  "b": 2\n}'), { line: 3, column: 3, reason: "expected ',' or '}' after a value, found \"\\\"\"" });
  assert.match(error('{"a":1,}').reason, /trailing comma before '}'/);
  assert.match(error("[1,]").reason, /trailing comma before ']'/);
  assert.match(error("{a:1}").reason, /double-quoted key/);
  assert.match(error('{"a":tru}').reason, /expected a value/);
  assert.match(error('{"a":"x').reason, /unterminated string/);
  assert.match(error('{"a":"\t"}').reason, /control character/);
  assert.match(error('{"a":"\\x"}').reason, /invalid escape/);
  assert.match(error('{"a":01}').reason, /expected ',' or '}'/);
  assert.match(error("").reason, /end of file/);
  assert.deepEqual(error('{\n\n     "a" 1}').line, 3);
});

test("reports duplicate keys by path, last value wins", () => {
  const r = parseJsonText('{"a":1,"b":[{"x":1,"x":2}],"a":3}');
  assert.ok(r.ok);
  assert.deepEqual(r.duplicateKeys, [["b", 0, "x"], ["a"]]);
  assert.deepEqual(r.value, { a: 3, b: [{ x: 2 }] });
});

test("a __proto__ key is an own property, not the prototype", () => {
  const v = value('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(v, "__proto__"));
  assert.equal((v as { polluted?: number }).polluted, undefined);
});

test("deep nesting is refused instead of exhausting the stack", () => {
  assert.match(error("[".repeat(10_000)).reason, /nesting deeper/);
});
