/**
 * zod v4 schemas for the event envelope and every event type, the collector's `validateEvent`,
 * and the JSON Schema generator behind schemas/events/*.schema.json (scripts/gen-event-schemas.ts).
 *
 * Objects are "loose": unknown fields pass through, so a newer engine that adds an optional
 * field does not get its events refused by an older collector (the compatibility rule in ./types.ts).
 * Two cross-field rules that a flat schema cannot express are zod checks *and* JSON Schema
 * `if`/`then`/`else` (via `.meta()`), so the shipped JSON Schemas enforce exactly what zod enforces.
 *
 * Pure module: no I/O, no clock.
 */
import { z } from "zod";
import {
  ALL_EVENT_TYPES,
  BEST_DIFF_SCOPES,
  BLOCK_OUTCOMES,
  DIFF_UPDATE_REASONS,
  EVENT_SOURCE,
  MAX_EVENT_BYTES,
  RELAY_STATES,
  SHARE_REJECT_REASONS,
  isEventType,
} from "./types.ts";
import type {
  BlockFoundData,
  DiffUpdatedData,
  EventType,
  HashrateUpdateData,
  MinerConnectedData,
  MinerDisconnectedData,
  MiningEvent,
  NewBlockNetworkData,
  RelayStateData,
  ShareBestDiffData,
  ShareSubmittedData,
} from "./types.ts";
import { TEXT_PATTERN, clipText, sanitizeDeep } from "../../util/text.ts";

// ---- field building blocks -------------------------------------------------------------

/**
 * Free text: no control characters, no lone surrogates (src/util/text.ts, the rule the Stratum
 * boundary applies to miner-chosen strings; PostgreSQL refuses NUL and lone surrogates).
 */
const text = (max: number) => z.string().max(max).regex(TEXT_PATTERN, { error: "must not contain control characters or unpaired surrogates" });
/** Largest value of PostgreSQL `integer` (heights are stored as one). */
const INT4_MAX = 2_147_483_647;
/** 21 million BTC in satoshis: no output can pay more. */
export const MAX_REWARD_SATS = 2_100_000_000_000_000;

const address = () => text(128).min(1).describe("Payout address the miner authorised with");
const worker = () => text(128).describe('Worker name (after the first "." of the Stratum username; "" when none)');
const sessionId = () => z.string().regex(/^[0-9a-f]{1,32}$/).describe("Stratum session id, lowercase hex");
/** What Node reports as `socket.remoteAddress`: IPv4, IPv6 (incl. `::ffff:a.b.c.d`), optional `%zone`. */
const ip = () =>
  z.string().regex(/^[0-9A-Fa-f:.]{2,45}(%[0-9A-Za-z._-]{1,16})?$/).describe("Miner's IP address (IPv4 or IPv6)");
const hash256 = () => z.string().regex(/^[0-9a-f]{64}$/);
const height = () => z.int().min(0).max(INT4_MAX).describe("Block height");
const difficulty = () => z.number().positive();
const count = () => z.int().min(0);

// ---- data shapes (kept as plain objects so their types can be checked against ./types.ts) ----

const shareSubmittedShape = {
  user: address(),
  worker: worker(),
  session_id: sessionId(),
  accepted: z.boolean().describe("The pool accepted the share"),
  reject_reason: z.enum(SHARE_REJECT_REASONS).nullable().describe("Why it was rejected; null if and only if accepted"),
  difficulty: z.number().min(0).describe("Difficulty credited: the one assigned to the job the share was for; 0 for a block below its share target (submitted as a block, not credited for hashrate)"),
  share_difficulty: z.number().min(0).describe("Difficulty the share's hash meets (0 when it could not be computed)"),
  job_id: text(64).min(1).describe("Stratum job id"),
  height: height().describe("Height of the block being mined"),
  block: z.boolean().describe("The hash met the network target"),
  ip: ip(),
};

const shareBestDiffShape = {
  user: address(),
  worker: worker(),
  scope: z.enum(BEST_DIFF_SCOPES).describe("Which record was beaten: session, ISO week, or all-time"),
  old_best: difficulty().nullable().describe("Previous record in this scope, null when none"),
  new_best: difficulty().describe("New record (the share difficulty)"),
  week: z
    .string()
    .regex(/^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$/)
    .optional()
    .describe('ISO week, e.g. "2026-W47"; present exactly when scope is "week"'),
  height: height().describe("Height of the block being mined"),
};

const submitResultShape = {
  node: text(128).min(1).describe("Node name from the config"),
  accepted: z.boolean().describe("The node accepted the block"),
  result: text(256).nullable().describe("Raw submitblock result (null on success)"),
  latency_ms: z.number().min(0).describe("Submission round trip, milliseconds"),
};

const blockFoundShape = {
  user: address(),
  worker: worker(),
  height: height().describe("Height of the found block"),
  hash: hash256().describe("Block hash, display (big-endian) hex"),
  reward_sats: z.int().min(0).max(MAX_REWARD_SATS).describe("Coinbase output value in satoshis (subsidy + fees); at most 21 million BTC"),
  coinbase_signature: text(100).describe("Text in the coinbase scriptSig"),
  accepted: z.boolean().describe("At least one node accepted the block"),
  outcome: z
    .enum(BLOCK_OUTCOMES)
    .optional()
    .describe('"accepted" (in a node\'s main chain), "lost_race" (valid and stored, but another block at this height won: a node answered inconclusive) or "rejected"; absent from producers older than this field'),
  submit_results: z.array(z.looseObject(submitResultShape)).max(32).describe("Per-node submission results: the nodes that had answered when the outcome was known"),
  share_difficulty: difficulty().describe("Difficulty the block hash meets"),
  network_difficulty: difficulty().describe("Network difficulty at that height"),
};

const minerConnectedShape = {
  user: address(),
  worker: worker(),
  session_id: sessionId(),
  ip: ip(),
  user_agent: text(256).nullable().describe("User agent from mining.subscribe, null when not sent"),
  extranonce1: z.string().regex(/^([0-9a-f]{2}){1,16}$/).describe("Extranonce1 of the session, lowercase hex"),
  difficulty: difficulty().describe("Starting difficulty"),
};

const minerDisconnectedShape = {
  user: address().nullable().describe("Payout address, null when the session never authorised"),
  worker: worker().nullable().describe("Worker name, null when the session never authorised"),
  session_id: sessionId(),
  ip: ip(),
  reason: text(128).min(1).describe('Why the session ended, e.g. "client_closed", "idle_timeout"'),
  session_seconds: z.number().min(0).describe("Session length, seconds"),
  shares_accepted: count().describe("Shares accepted during the session"),
  shares_rejected: count().describe("Shares rejected during the session"),
  session_best: difficulty().nullable().describe("Best share difficulty of the session, null when none"),
};

const diffUpdatedShape = {
  user: address(),
  worker: worker(),
  session_id: sessionId(),
  old_difficulty: difficulty().nullable().describe("Previous difficulty, null for the first one"),
  new_difficulty: difficulty().describe("New difficulty"),
  reason: z.enum(DIFF_UPDATE_REASONS).describe("Why the difficulty changed"),
};

const hashrate = () => z.number().min(0).describe("Hashes per second");
const hashrateUpdateShape = {
  user: address(),
  worker: worker().nullable().describe("Worker name, null for the user's total"),
  hashrate_hs: z
    .looseObject({ "1m": hashrate(), "5m": hashrate(), "1h": hashrate(), "1d": hashrate(), "7d": hashrate() })
    .describe("Hashrate over each window, H/s"),
};

const newBlockNetworkShape = {
  height: height().describe("Height of the new tip"),
  hash: hash256().describe("Hash of the new tip, display hex"),
  prev_hash: hash256().nullable().describe("Hash of its parent, display hex; null when unknown"),
  source: z
    .string()
    .regex(/^(zmq:[^\p{Cc}\p{Cs}]{1,200}|poll|template)$/u)
    .describe('How the engine learned of it: "zmq:<endpoint>", "poll" or "template"'),
  first_seen_endpoint: text(256).nullable().describe("Endpoint that reported it first; null when unknown"),
};

const relayStateShape = {
  state: z.enum(RELAY_STATES).describe("New relay mode"),
  previous: z.enum(RELAY_STATES).nullable().describe("Previous mode, null at start-up"),
  reason: text(256).min(1).describe("Why the mode changed"),
};

// Compile-time proof that the schemas describe exactly the interfaces in ./types.ts.
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
type Out<S extends z.core.$ZodShape> = z.output<z.ZodObject<S>>;
type Assert<T extends true> = T;
export type _SchemasMatchTypes = [
  Assert<Equal<Out<typeof shareSubmittedShape>, ShareSubmittedData>>,
  Assert<Equal<Out<typeof shareBestDiffShape>, ShareBestDiffData>>,
  Assert<Equal<Omit<Out<typeof blockFoundShape>, "submit_results">, Omit<BlockFoundData, "submit_results">>>,
  Assert<Equal<Out<typeof submitResultShape>, BlockFoundData["submit_results"][number]>>,
  Assert<Equal<Out<typeof minerConnectedShape>, MinerConnectedData>>,
  Assert<Equal<Out<typeof minerDisconnectedShape>, MinerDisconnectedData>>,
  Assert<Equal<Out<typeof diffUpdatedShape>, DiffUpdatedData>>,
  Assert<Equal<Omit<Out<typeof hashrateUpdateShape>, "hashrate_hs">, Omit<HashrateUpdateData, "hashrate_hs">>>,
  Assert<Equal<Out<typeof newBlockNetworkShape>, NewBlockNetworkData>>,
  Assert<Equal<Out<typeof relayStateShape>, RelayStateData>>,
];

// ---- data schemas ---------------------------------------------------------------------------

/** The `data` schema of each event type. */
export const EVENT_DATA_SCHEMAS = {
  share_submitted: z
    .looseObject(shareSubmittedShape)
    .check((ctx) => {
      if ((ctx.value.reject_reason === null) !== ctx.value.accepted) {
        ctx.issues.push({
          code: "custom",
          path: ["reject_reason"],
          input: ctx.value.reject_reason,
          message: ctx.value.accepted ? "must be null when accepted is true" : "must be set when accepted is false",
        });
      }
    })
    .meta({
      if: { properties: { accepted: { const: true } } },
      then: { properties: { reject_reason: { type: "null" } } },
      else: { properties: { reject_reason: { type: "string" } } },
    }),
  share_best_diff: z
    .looseObject(shareBestDiffShape)
    .check((ctx) => {
      const isWeek = ctx.value.scope === "week";
      if (isWeek !== (ctx.value.week !== undefined)) {
        ctx.issues.push({
          code: "custom",
          path: ["week"],
          input: ctx.value.week,
          message: isWeek ? 'required when scope is "week"' : 'only allowed when scope is "week"',
        });
      }
    })
    .meta({
      if: { properties: { scope: { const: "week" } } },
      then: { required: ["week"] },
      else: { not: { required: ["week"] } },
    }),
  block_found: z.looseObject(blockFoundShape),
  miner_connected: z.looseObject(minerConnectedShape),
  miner_disconnected: z.looseObject(minerDisconnectedShape),
  diff_updated: z.looseObject(diffUpdatedShape),
  hashrate_update: z.looseObject(hashrateUpdateShape),
  new_block_network: z.looseObject(newBlockNetworkShape),
  relay_state: z.looseObject(relayStateShape),
} satisfies Record<EventType, z.ZodType>;

/** One-line meaning of each type (JSON Schema `description`, docs). */
export const EVENT_DESCRIPTIONS: Record<EventType, string> = {
  share_submitted: "A share was submitted (accepted or rejected).",
  share_best_diff: "A user beat a best-difficulty record (session, ISO week or all-time); one event per scope beaten.",
  block_found: "A share met the network target; the block was submitted to the configured nodes.",
  miner_connected: "A miner subscribed and authorised.",
  miner_disconnected: "A Stratum session ended.",
  diff_updated: "A session's share difficulty changed.",
  hashrate_update: "Periodic hashrate estimate of a worker (or of a user when worker is null).",
  new_block_network: "The network's chain tip changed.",
  relay_state: "A relay changed operating mode.",
};

// ---- envelope -------------------------------------------------------------------------------

/**
 * Smallest plausible timestamp in µs (2001-09-09). A producer that sends milliseconds or seconds
 * by mistake lands below it and is refused instead of being stored in 1970.
 */
const MIN_TIMESTAMP_US = 1_000_000_000_000_000;
/** Largest plausible timestamp in µs (2100-01-01): a clock or unit error far in the future is refused too. */
const MAX_TIMESTAMP_US = 4_102_444_800_000_000;

/** Region names: lowercase, e.g. `eu`, `us-east`. */
export const REGION_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const envelopeShape = {
  event: z.enum(ALL_EVENT_TYPES).describe("Event type"),
  event_id: z.uuid({ version: "v7" }).describe("UUIDv7 (RFC 9562): unique, time-ordered; the de-duplication key"),
  timestamp: z.int().min(MIN_TIMESTAMP_US).max(MAX_TIMESTAMP_US).describe("When the event happened: integer microseconds since the Unix epoch (2001-09-09 to 2100-01-01)"),
  source: z.literal(EVENT_SOURCE).describe('Always "hosted"'),
  region: z.string().regex(REGION_PATTERN).describe("Region of the emitting instance"),
  instance: text(128).min(1).describe("Name of the emitting instance"),
};

/** The envelope alone, any type, `data` any object (envelope.schema.json). */
export const ENVELOPE_SCHEMA = z
  .looseObject({ ...envelopeShape, data: z.looseObject({}).describe("Type-specific payload") })
  .meta({ title: "Mining event envelope", description: `Common envelope of every mining event. Serialised size at most ${MAX_EVENT_BYTES} bytes.` });

function eventSchema<T extends EventType>(type: T) {
  return z
    .looseObject({ ...envelopeShape, event: z.literal(type).describe("Event type"), data: EVENT_DATA_SCHEMAS[type] })
    .meta({ title: `Mining event: ${type}`, description: EVENT_DESCRIPTIONS[type] });
}

/** Full event schema (envelope + typed data) of each type. */
export const EVENT_SCHEMAS = Object.fromEntries(ALL_EVENT_TYPES.map((t) => [t, eventSchema(t)])) as {
  [K in EventType]: ReturnType<typeof eventSchema<K>>;
};

// ---- validation -----------------------------------------------------------------------------

/** Result of {@link validateEvent}. */
export type EventValidation =
  | {
      ok: true;
      event: MiningEvent;
      /** Set when a `block_found` broke the text rule and was stored with its strings sanitised: what was wrong. */
      sanitized?: string;
    }
  | {
      ok: false;
      /** Human-readable reason naming the offending field(s), e.g. `data.user: Invalid input: expected string, received number`. */
      error: string;
      /** The event type when it was recognised (for per-type malformed counters). */
      type?: EventType;
    };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const MAX_ISSUES_IN_MESSAGE = 3;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((i) => `${formatPath(i.path)}: ${i.message}`);
  if (issues.length > MAX_ISSUES_IN_MESSAGE) parts.push(`(+${issues.length - MAX_ISSUES_IN_MESSAGE} more)`);
  return parts.join("; ");
}

/**
 * Validate one event for a consumer (the collector). Accepts the raw datagram (`Uint8Array`/`Buffer`),
 * a JSON string, or an already-parsed value. Raw input is size-checked against {@link MAX_EVENT_BYTES}
 * and must be UTF-8 JSON. Never throws.
 */
export function validateEvent(input: unknown): EventValidation {
  let value: unknown = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
    if (size > MAX_EVENT_BYTES) return { ok: false, error: `(root): event is ${size} bytes, limit is ${MAX_EVENT_BYTES}` };
    try {
      value = JSON.parse(typeof input === "string" ? input : utf8.decode(input));
    } catch (err) {
      return { ok: false, error: `(root): not UTF-8 JSON (${err instanceof Error ? err.message : String(err)})` };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: "(root): expected a JSON object" };
  }
  const type = (value as { event?: unknown }).event;
  if (!isEventType(type)) {
    const shown = typeof type === "string" ? JSON.stringify(type.slice(0, 64)) : typeof type;
    return { ok: false, error: `event: unknown event type ${shown}, expected one of ${ALL_EVENT_TYPES.join("|")}` };
  }
  const result = EVENT_SCHEMAS[type].safeParse(value);
  if (!result.success) {
    const error = formatIssues(result.error.issues);
    // A found block is never lost to a string: its control characters and lone surrogates become
    // U+FFFD (and worker / signature are clipped by code point), then it is validated again.
    if (type === "block_found") {
      const repaired = repairBlockFound(value);
      const again = EVENT_SCHEMAS.block_found.safeParse(repaired);
      if (again.success) return { ok: true, event: again.data as unknown as MiningEvent, sanitized: error };
    }
    return { ok: false, error, type };
  }
  return { ok: true, event: result.data as unknown as MiningEvent };
}

function repairBlockFound(value: object): object {
  const out = sanitizeDeep(value) as { data?: unknown };
  const data = out.data as Record<string, unknown> | undefined;
  if (data && typeof data === "object") {
    if (typeof data.worker === "string") data.worker = clipText(data.worker, 128);
    if (typeof data.coinbase_signature === "string") data.coinbase_signature = clipText(data.coinbase_signature, 100);
  }
  return out;
}

// ---- JSON Schema generation ----------------------------------------------------------------

/**
 * The machine-readable JSON Schemas (draft 2020-12) shipped in schemas/events/, keyed by file name:
 * `envelope.schema.json` and `<type>.schema.json`. scripts/gen-event-schemas.ts writes them and a
 * test asserts the committed files equal this output.
 */
export function buildEventJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  out["envelope.schema.json"] = z.toJSONSchema(ENVELOPE_SCHEMA) as Record<string, unknown>;
  for (const type of ALL_EVENT_TYPES) {
    out[`${type}.schema.json`] = z.toJSONSchema(EVENT_SCHEMAS[type]) as Record<string, unknown>;
  }
  return out;
}

/** Serialise one generated schema exactly as the committed file is written. */
export function formatJsonSchemaFile(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
