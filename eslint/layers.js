/**
 * ESLint rule `tbg/layers`: imports inside src/ run one way.
 *
 *   pool core (src/core/), lowest first; each folder imports only the folders before it:
 *     bitcoin → stats → bitcoind → work → shares → security → stratum → relay → engine
 *   then src/app (the pool process: composition, observability, records) → src/cli (every command).
 *   event pipeline (src/pipeline/), beside the core: events → nats, storage → collector.
 *   tools (src/tools/), beside both: may use the core and each other, never the app or the pipeline
 *     (the monitor reads one vocabulary file of the pipeline: the region pattern).
 *   shared base, importable from everywhere: src/util, src/config, src/http (src/core/bitcoin, the
 *   bottom of the core, imports only util: the config uses it to check addresses).
 *
 * A folder may always import its own files. Files outside src/ (tests, bench, scripts) are not checked.
 * The rule resolves each relative import against the importing file, so `../engine/engine.ts` from
 * src/core/stratum is caught however the path is spelled.
 */
import path from "node:path";

const BASE = ["util", "config", "http"];
const CORE = ["core/bitcoin", "core/stats", "core/bitcoind", "core/work", "core/shares", "core/security", "core/stratum", "core/relay", "core/engine"];
const PIPELINE = ["pipeline/events", "pipeline/nats", "pipeline/storage", "pipeline/collector"];
const TOOLS = ["tools/stratum-client", "tools/miner", "tools/bench", "tools/bench-node", "tools/regtest-node", "tools/monitor"];

/** Folder (relative to src/) → the folders its files may import, besides itself. */
export const LAYERS = {
  util: [],
  http: ["util"],
  // The config checks addresses with the bitcoin layer (which imports only util), and lists the event
  // types a pool may emit (events.types) from that one vocabulary file.
  config: ["util", "core/bitcoin", "pipeline/events/types.ts"],
  ...Object.fromEntries(CORE.map((f, i) => [f, [...BASE, ...CORE.slice(0, i)]])),
  "core/bitcoin": ["util"],
  "pipeline/events": [...BASE],
  "pipeline/nats": [...BASE, "pipeline/events"],
  "pipeline/storage": [...BASE, "pipeline/events"],
  "pipeline/collector": [...BASE, "pipeline/events", "pipeline/nats", "pipeline/storage"],
  ...Object.fromEntries(TOOLS.map((f) => [f, [...BASE, ...CORE, ...TOOLS]])),
  // The region monitor checks region labels with the event vocabulary's pattern.
  "tools/monitor": [...BASE, ...CORE, ...TOOLS, "pipeline/events/schemas.ts"],
  app: [...BASE, ...CORE, ...PIPELINE],
  cli: [...BASE, ...CORE, ...PIPELINE, ...TOOLS, "app"],
};

const GROUPS = new Set(["core", "pipeline", "tools"]);

/** The layer folder of a path relative to src/ ("core/work/jobs.ts" → "core/work"), or null. */
export function layerOf(rel) {
  const parts = rel.split("/");
  if (parts.length < 2) return null; // a file directly in src/
  return GROUPS.has(parts[0]) ? (parts.length > 2 ? `${parts[0]}/${parts[1]}` : null) : parts[0];
}

const within = (rel, prefix) => rel === prefix || rel.startsWith(prefix.endsWith(".ts") ? prefix : `${prefix}/`);

const rule = {
  meta: {
    type: "problem",
    docs: { description: "imports inside src/ run one way: core layers upward, pipeline and tools beside them (docs/architecture.md)" },
    schema: [],
    messages: {
      wrongWay: "{{from}} must not import {{to}} ('{{spec}}'): layers import one way (see docs/architecture.md). Move the shared piece down instead.",
      unknownFolder: "src/{{from}} is not in the layer table of eslint/layers.js: add it there and to docs/architecture.md.",
    },
  },
  create(context) {
    const file = context.filename ?? context.getFilename();
    const srcDir = path.join(context.cwd ?? context.getCwd(), "src");
    const fromRel = path.relative(srcDir, file).split(path.sep).join("/");
    if (fromRel.startsWith("..") || path.isAbsolute(fromRel)) return {};
    const from = layerOf(fromRel);
    if (from === null) return {};
    const allowed = LAYERS[from];
    const check = (node, spec) => {
      if (typeof spec !== "string" || !spec.startsWith(".")) return;
      const toRel = path.relative(srcDir, path.resolve(path.dirname(file), spec)).split(path.sep).join("/");
      if (toRel.startsWith("..")) return;
      if (within(toRel, from)) return;
      if (allowed.some((p) => within(toRel, p))) return;
      context.report({ node, messageId: "wrongWay", data: { from: `src/${from}`, to: `src/${layerOf(toRel) ?? toRel}`, spec } });
    };
    return {
      Program(node) {
        if (!allowed) context.report({ node, messageId: "unknownFolder", data: { from } });
      },
      ImportDeclaration: (node) => allowed && check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => allowed && node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => allowed && check(node.source, node.source.value),
      ImportExpression: (node) => allowed && node.source.type === "Literal" && check(node.source, node.source.value),
    };
  },
};

export default { rules: { layers: rule } };
