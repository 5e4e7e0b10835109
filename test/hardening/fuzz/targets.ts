/**
 * Fuzz targets (issue 8 item 6). Each takes a seeded Rng, feeds generated input to the code under test,
 * checks invariants, and returns how many inputs it consumed. Anything thrown is a finding: either an
 * exception escaping the code under test (a crash) or a broken invariant (a `FuzzViolation`).
 *
 * - framing: random bytes in random chunks through LineDecoder, checked against a reference split, and
 *   every line through decodeRequest. One input = one byte stream.
 * - decode: fast-check JSON-RPC-shaped values and raw text through decodeRequest. One input = one line.
 * - session: a Session (the server's state machine) driven line by line through a recording transport
 *   and a host made of the engine's real parts; hostile handshakes, submits built from the jobs it was
 *   sent (so the validator and block path run), junk, clock jumps, new templates. One input = one line.
 * - events: validateEvent (the collector's entry point) on raw bytes, mutated valid events and
 *   fast-check JSON. One input = one datagram.
 */
import fc from "fast-check";
import { LineDecoder } from "../../../src/core/stratum/framing.ts";
import { decodeRequest, type Decoded } from "../../../src/core/stratum/messages.ts";
import { validateEvent } from "../../../src/pipeline/events/schemas.ts";
import { ALL_EVENT_TYPES } from "../../../src/pipeline/events/types.ts";
import { exampleEvent } from "../../events/fixtures.ts";
import { REGTEST_ADDRESSES } from "../../support/addresses.ts";
import { Rng, deepJson, jsonText, randomJson, randomString, HOSTILE_NUMBERS, HOSTILE_STRINGS } from "./rng.ts";
import { createFuzzHost, newSession, POOL_VERSION_MASK, type FuzzHost } from "./session-host.ts";

export class FuzzViolation extends Error {}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new FuzzViolation(what);
}

export interface FuzzTarget<Ctx = unknown> {
  name: string;
  /** Share of the total inputs. */
  weight: number;
  /** Per-batch state, built from the batch seed (fast-check samples, a session host). */
  begin(seed: number, budget: number): Ctx;
  /** Runs one input (or one short sequence of them); returns how many inputs it consumed. Throws on a finding. */
  step(rng: Rng, ctx: Ctx): number;
}

/** Erases a target's context type for the runner. */
function target<Ctx>(t: FuzzTarget<Ctx>): FuzzTarget {
  return t as unknown as FuzzTarget;
}

// ---- decodeRequest invariants -------------------------------------------------------------------

const METHODS = ["mining.subscribe", "mining.authorize", "mining.configure", "mining.suggest_difficulty", "mining.extranonce.subscribe", "mining.submit", "unknown"];
const FAILURES = ["invalid_json", "not_a_request", "response", "bad_params"];
const HEX = /^[0-9a-fA-F]*$/;
const isId = (v: unknown) => v === null || typeof v === "string" || typeof v === "number";

function checkDecoded(d: Decoded): void {
  if (!d.ok) {
    check(FAILURES.includes(d.failure.kind), `unknown failure kind ${d.failure.kind}`);
    check(isId(d.failure.id), "failure id type");
    return;
  }
  const r = d.request;
  check(METHODS.includes(r.method), `unknown method ${r.method}`);
  check(isId(r.id), "request id type");
  switch (r.method) {
    case "mining.authorize":
      check(typeof r.username === "string" && r.username.length >= 1 && r.username.length <= 256, "username bounds");
      break;
    case "mining.suggest_difficulty":
      check(Number.isFinite(r.difficulty) && r.difficulty > 0, `difficulty ${r.difficulty}`);
      break;
    case "mining.configure":
      check(Array.isArray(r.extensions) && r.extensions.length <= 16 && r.extensions.every((e) => typeof e === "string"), "extensions");
      check(typeof r.params === "object" && r.params !== null && !Array.isArray(r.params), "configure params");
      break;
    case "mining.submit": {
      const s = r.submit;
      check(s.jobId.length >= 1 && s.jobId.length <= 64, "job id bounds");
      check(HEX.test(s.extranonce2Hex) && s.extranonce2Hex.length <= 64, "en2");
      check(HEX.test(s.ntimeHex) && s.ntimeHex.length >= 1 && s.ntimeHex.length <= 8, "ntime");
      check(HEX.test(s.nonceHex) && s.nonceHex.length >= 1 && s.nonceHex.length <= 8, "nonce");
      check(s.versionBitsHex === null || (HEX.test(s.versionBitsHex) && s.versionBitsHex.length >= 1 && s.versionBitsHex.length <= 8), "version bits");
      break;
    }
    case "mining.subscribe":
      check(r.userAgent === null || r.userAgent.length <= 128, "user agent bounds");
      break;
    case "unknown":
      check(r.name.length <= 64, "unknown name bounds");
      break;
  }
}

// ---- framing ------------------------------------------------------------------------------------

/** Splits a stream the way the decoder must: lines ≤ limit, `\r` stripped, blank lines skipped, stop at the first overflow. */
function referenceLines(stream: Buffer, limit: number): { lines: string[]; violation: boolean } {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = stream.indexOf(10, start);
    const end = nl === -1 ? stream.length : nl;
    if (end - start > limit) return { lines, violation: true };
    if (nl === -1) return { lines, violation: false };
    let line = stream.toString("utf8", start, nl);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim().length > 0) lines.push(line);
    start = nl + 1;
  }
}

function randomStream(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + rng.int(8);
  for (let i = 0; i < n; i++) {
    const r = rng.int(6);
    if (r === 0) parts.push(rng.bytes(rng.int(200)));
    else if (r === 1) parts.push(Buffer.from("\r\n".repeat(rng.int(3)) + "\n"));
    else if (r === 2) parts.push(Buffer.from(jsonText(rng, sessionMessage(rng, null)) + (rng.chance(0.8) ? "\n" : "\r\n")));
    else if (r === 3) parts.push(Buffer.from(randomString(rng, 80)));
    else if (r === 4) parts.push(Buffer.from("😀é\u0000", "utf8").subarray(0, 1 + rng.int(8)));
    else parts.push(Buffer.from(deepJson(1 + rng.int(300), rng.chance(0.5) ? "array" : "object") + "\n"));
  }
  return Buffer.concat(parts);
}

const framing = target({
  name: "framing",
  weight: 0.2,
  begin: () => null,
  step(rng) {
    {
      const stream = randomStream(rng);
      const limit = rng.pick([1, 16, 64, 256, 4096]);
      const got: string[] = [];
      let violations = 0;
      const dec = new LineDecoder({ maxLineBytes: limit, onLine: (l) => got.push(l), onViolation: () => violations++ });
      // Random chunking, sometimes byte by byte.
      for (let at = 0; at < stream.length; ) {
        const size = rng.chance(0.2) ? 1 : 1 + rng.int(64);
        dec.push(stream.subarray(at, at + size));
        at += size;
      }
      const want = referenceLines(stream, limit);
      check(violations === (want.violation ? 1 : 0), `violations ${violations}, want ${want.violation ? 1 : 0}`);
      check(got.length === want.lines.length && got.every((l, k) => l === want.lines[k]), "lines differ from the reference split");
      check(dec.pendingBytes <= limit, "pending bytes above the limit");
      for (const line of got) checkDecoded(decodeRequest(line));
    }
    return 1;
  },
});

// ---- decode (fast-check) ------------------------------------------------------------------------

const fcId = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
const fcParamValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(...HOSTILE_STRINGS, ...HOSTILE_NUMBERS),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.stringMatching(/^[0-9a-fA-F]{0,20}$/),
);
const fcRequest = fc.record(
  {
    id: fcId,
    method: fc.oneof(fc.constantFrom(...METHODS.filter((m) => m !== "unknown")), fc.string(), fc.constantFrom(...HOSTILE_STRINGS)),
    params: fc.oneof(fc.array(fcParamValue, { maxLength: 8 }), fcParamValue, fc.dictionary(fc.constantFrom(...HOSTILE_STRINGS), fcParamValue)),
    result: fc.jsonValue({ maxDepth: 1 }),
    error: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);
const fcLine = fc.oneof(
  { weight: 6, arbitrary: fcRequest.map((r) => JSON.stringify(r)) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 120 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 120 }) },
);

const decode = target({
  name: "decode",
  weight: 0.3,
  begin: (seed, budget) => ({ lines: fc.sample(fcLine, { numRuns: budget, seed }), next: 0 }),
  step(rng, ctx) {
    const line = ctx.lines[ctx.next++ % ctx.lines.length];
    let text = line;
    if (rng.chance(0.1)) {
      try {
        text = jsonText(rng, JSON.parse(line));
      } catch {
        // not JSON: fed as it is
      }
    }
    checkDecoded(decodeRequest(text));
    // Now and then, nesting far past anything a 4 KiB line allows (max_line_bytes may be set to 1 MiB).
    if (rng.chance(0.0005)) {
      checkDecoded(decodeRequest(deepJson(100_000 + rng.int(200_000), rng.chance(0.5) ? "array" : "object")));
      return 2;
    }
    return 1;
  },
});

// ---- session ------------------------------------------------------------------------------------

const USERS = [REGTEST_ADDRESSES.p2wpkh, `${REGTEST_ADDRESSES.p2tr}.rig`, `${REGTEST_ADDRESSES.p2pkh}_w1`, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "notanaddress", ""];
const NOTIFICATIONS = new Set(["mining.set_difficulty", "mining.notify", "mining.set_version_mask", "client.reconnect", "mining.set_extranonce"]);

interface JobSeen {
  id: string;
  ntime: number;
}

function randomId(rng: Rng): unknown {
  const r = rng.int(8);
  return r < 4 ? rng.int(1000) : r === 4 ? randomString(rng, 10) : r === 5 ? null : r === 6 ? randomJson(rng, 1) : rng.pick(HOSTILE_NUMBERS);
}

/** One message for a session: well-formed, nearly well-formed or hostile, using the last job when given. */
function sessionMessage(rng: Rng, job: JobSeen | null, users: string[] = USERS): unknown {
  const id = randomId(rng);
  const r = rng.int(20);
  if (r < 7 && job) {
    const worker = rng.chance(0.85) ? rng.pick(users) : randomString(rng);
    const en2 = rng.chance(0.85) ? rng.hex(16) : rng.chance(0.5) ? rng.hex(rng.int(40)) : randomJson(rng, 1);
    const ntime = rng.chance(0.85) ? (job.ntime + rng.int(30) - 2) >>> 0 : rng.next();
    const ntimeHex = rng.chance(0.95) ? ntime.toString(16).padStart(8, "0") : randomJson(rng, 1);
    const nonce = rng.chance(0.95) ? rng.hex(8) : randomJson(rng, 1);
    const params: unknown[] = [worker, rng.chance(0.9) ? job.id : randomString(rng, 10), en2, ntimeHex, nonce];
    if (rng.chance(0.5)) params.push(rng.chance(0.7) ? ((rng.next() & POOL_VERSION_MASK) >>> 0).toString(16) : rng.chance(0.5) ? rng.hex(8) : randomJson(rng, 1));
    if (rng.chance(0.05)) params.push(randomJson(rng, 1));
    if (rng.chance(0.05)) params.splice(rng.int(params.length), 1);
    return { id, method: "mining.submit", params };
  }
  switch (r) {
    case 7:
    case 8: {
      const exts = rng.chance(0.7) ? ["version-rolling", "minimum-difficulty", "subscribe-extranonce", "info"].filter(() => rng.chance(0.6)) : (randomJson(rng, 2) as unknown[]);
      const p: Record<string, unknown> = {};
      if (rng.chance(0.8)) p["version-rolling.mask"] = rng.chance(0.6) ? rng.hex(1 + rng.int(9)) : randomJson(rng, 1);
      if (rng.chance(0.5)) p["version-rolling.min-bit-count"] = randomJson(rng, 1);
      if (rng.chance(0.5)) p["minimum-difficulty.value"] = rng.chance(0.5) ? rng.pick(HOSTILE_NUMBERS) : randomJson(rng, 1);
      if (rng.chance(0.1)) Object.defineProperty(p, "__proto__", { value: { "version-rolling.mask": "ffffffff" }, enumerable: true });
      return { id, method: "mining.configure", params: rng.chance(0.9) ? [exts, p] : randomJson(rng, 2) };
    }
    case 9:
      return { id, method: "mining.subscribe", params: rng.chance(0.7) ? [randomString(rng, 60)] : randomJson(rng, 2) };
    case 10:
    case 11:
      return { id, method: "mining.authorize", params: rng.chance(0.8) ? [rng.pick(users) + (rng.chance(0.3) ? "." + randomString(rng, 8) : ""), "x"] : randomJson(rng, 2) };
    case 12: {
      const d = rng.pick<unknown>([...HOSTILE_NUMBERS, rng.float() * 1000, "1000", "NaN", [rng.pick(HOSTILE_NUMBERS)], randomJson(rng, 1)]);
      return { id, method: "mining.suggest_difficulty", params: rng.chance(0.7) ? [d] : d };
    }
    case 13:
      return { id, method: "mining.extranonce.subscribe", params: [] };
    case 14:
      return { id, method: randomString(rng, 30), params: randomJson(rng, 2) };
    case 15:
      return { id, result: randomJson(rng, 1), error: null };
    default:
      return randomJson(rng, 3);
  }
}

function parseOut(line: string): Record<string, unknown> {
  check(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, "output is not exactly one line");
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new FuzzViolation(`output is not JSON: ${line.slice(0, 200)}`);
  }
  check(typeof msg === "object" && msg !== null && !Array.isArray(msg), "output is not an object");
  return msg as Record<string, unknown>;
}

/** Checks what the session sent in response to one input; returns the last job announced. */
function checkOutputs(lines: string[], state: { sawDifficulty: boolean; job: JobSeen | null }): void {
  check(lines.length <= 4, `${lines.length} messages for one line`);
  for (const line of lines) {
    const m = parseOut(line);
    check("id" in m && isId(m.id), "output id");
    if (typeof m.method === "string") {
      check(NOTIFICATIONS.has(m.method), `unexpected notification ${m.method}`);
      check(Array.isArray(m.params), "notification params");
      const params = m.params as unknown[];
      if (m.method === "mining.set_difficulty") {
        check(typeof params[0] === "number" && Number.isFinite(params[0]) && params[0] > 0, `set_difficulty ${String(params[0])}`);
        state.sawDifficulty = true;
      } else if (m.method === "mining.notify") {
        check(state.sawDifficulty, "notify before set_difficulty");
        check(params.length === 9, "notify params");
        check(params.slice(0, 4).every((p) => typeof p === "string") && Array.isArray(params[4]) && typeof params[8] === "boolean", "notify types");
        state.job = { id: params[0] as string, ntime: parseInt(params[7] as string, 16) };
      }
    } else {
      check("result" in m && "error" in m, "reply without result/error");
      const e = m.error;
      check(e === null || (Array.isArray(e) && e.length === 3 && Number.isInteger(e[0]) && typeof e[1] === "string" && e[2] === null), "error tuple");
    }
  }
}

const session = target({
  name: "session",
  weight: 0.3,
  begin: () => ({ fh: createFuzzHost(), uses: 0 }),
  step(rng, ctx: { fh: FuzzHost; uses: number }) {
    let consumed = 0;
    {
      // A fresh host now and then bounds the job registry and duplicate sets across a long run.
      if (ctx.uses++ > 200) {
        ctx.fh = createFuzzHost();
        ctx.uses = 0;
      }
      const fh = ctx.fh;
      const { session: s, transport } = newSession(fh);
      const state = { sawDifficulty: false, job: null as JobSeen | null };
      const script: unknown[] = [];
      const user = rng.pick(USERS.slice(0, 3));
      if (rng.chance(0.7)) {
        if (rng.chance(0.5)) script.push({ id: 1, method: "mining.configure", params: [["version-rolling"], { "version-rolling.mask": rng.chance(0.8) ? "ffffffff" : rng.hex(8) }] });
        script.push({ id: 2, method: "mining.subscribe", params: ["fuzz/1"] });
        script.push({ id: 3, method: "mining.authorize", params: [user, "x"] });
      }
      const length = 1 + rng.int(30);
      for (let i = 0; i < length; i++) {
        const msg = i < script.length ? script[i] : sessionMessage(rng, state.job, rng.chance(0.9) ? [user] : USERS);
        const line = rng.chance(0.05) ? randomString(rng, 100) : rng.chance(0.01) ? deepJson(1 + rng.int(2000), "array") : jsonText(rng, msg);
        const before = transport.sent.length;
        s.handleLine(line);
        consumed++;
        checkOutputs(transport.sent.slice(before), state);
        if (rng.chance(0.1)) {
          fh.advance(rng.chance(0.9) ? rng.int(10_000) : rng.int(3_600_000));
          const b = transport.sent.length;
          s.tick(fh.nowMs());
          checkOutputs(transport.sent.slice(b), state);
        }
        if (rng.chance(0.03)) {
          fh.newTemplate(rng.chance(0.3));
          const job = fh.jobs.current;
          const b = transport.sent.length;
          if (job) s.sendJob(job);
          checkOutputs(transport.sent.slice(b), state);
        }
      }
      check((s.versionMask & ~POOL_VERSION_MASK) >>> 0 === 0, "negotiated mask outside the pool mask");
      check(Number.isFinite(s.difficulty) && s.difficulty > 0, `session difficulty ${s.difficulty}`);
      if (rng.chance(0.2)) {
        const b = transport.sent.length;
        s.sendReconnect();
        checkOutputs(transport.sent.slice(b), state);
      }
      s.dispose();
    }
    return consumed;
  },
});

// ---- events (collector entry point) -------------------------------------------------------------

function mutate(rng: Rng, value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > 4) return rng.chance(0.3) ? randomJson(rng, 1) : value;
  if (Array.isArray(value)) return value.map((v) => (rng.chance(0.3) ? mutate(rng, v, depth + 1) : v));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (rng.chance(0.05)) continue; // drop a field
    Object.defineProperty(out, k, { value: rng.chance(0.15) ? mutate(rng, v, depth + 1) : v, enumerable: true, writable: true, configurable: true });
  }
  if (rng.chance(0.1)) Object.defineProperty(out, rng.pick(HOSTILE_STRINGS), { value: randomJson(rng, 1), enumerable: true, writable: true, configurable: true });
  return out;
}

const fcEventish = fc.record({ event: fc.oneof(fc.constantFrom(...ALL_EVENT_TYPES), fc.string()), data: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] });

const events = target({
  name: "events",
  weight: 0.2,
  begin: (seed, budget) => ({ values: fc.sample(fcEventish, { numRuns: Math.max(1, Math.ceil(budget / 4)), seed }), next: 0 }),
  step(rng, ctx) {
    {
      const i = ctx.next++;
      const r = rng.int(10);
      let input: Buffer;
      if (r < 6) input = Buffer.from(jsonText(rng, mutate(rng, exampleEvent(rng.pick(ALL_EVENT_TYPES)))));
      else if (r < 8) input = Buffer.from(JSON.stringify({ ...exampleEvent(rng.pick(ALL_EVENT_TYPES)), ...ctx.values[i % ctx.values.length] }));
      else if (r < 9) input = rng.bytes(rng.int(300));
      else input = rng.chance(0.5) ? Buffer.from(deepJson(1 + rng.int(2000), "object")) : Buffer.alloc(4097 + rng.int(100), 0x20);
      const v = validateEvent(input);
      check(typeof v.ok === "boolean", "validateEvent result shape");
      if (v.ok) {
        check(ALL_EVENT_TYPES.includes(v.event.event), "accepted an unknown type");
        check(validateEvent(Buffer.from(JSON.stringify(v.event))).ok, "an accepted event does not validate after a round trip");
      } else check(typeof v.error === "string" && v.error.length > 0, "refusal without a reason");
    }
    return 1;
  },
});

export const TARGETS: readonly FuzzTarget[] = [framing, decode, session, events];
