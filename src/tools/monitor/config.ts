/**
 * `tbg monitor` configuration: one JSON file (`-c`), validated with zod; every default in
 * {@link MONITOR_DEFAULTS} with its reason. Pure except {@link loadMonitorConfig}, which reads the file.
 *
 * Unknown keys are refused (a typo would silently keep a default), region names must be unique, and
 * every `failover` entry and `default_region` must name a configured region.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { parseJsonText } from "../../config/json-text.ts";
import { schemaKeyPaths } from "../../config/schema.ts";
import { REGION_PATTERN } from "../../pipeline/events/schemas.ts";
import { TbgError, errorText } from "../../util/errors.ts";

/** Defaults of the monitor, in one place. */
export const MONITOR_DEFAULTS = {
  /** `listen.host`: Route53 and Cloudflare health checkers reach the monitor from the internet. */
  host: "0.0.0.0",
  /** `listen.port`: next to the pool's 9100 and the collector's 9101. */
  port: 9102,
  /** `interval_sec`: one probe round per region every 10 s, Route53's fast health-check interval. */
  intervalSec: 10,
  /** `timeout_ms`: each probe (TCP connect + `mining.subscribe` answer; `/health` answer). Route53 allows 4 s to connect. */
  timeoutMs: 4_000,
  /** `failure_threshold`: consecutive worse observations before a region's state worsens (Route53's default is 3: 30 s at 10 s). */
  failureThreshold: 3,
  /** `recovery_threshold`: consecutive better observations before it improves (Route53 uses the same count both ways). */
  recoveryThreshold: 3,
  /** `transitions_kept`: state changes kept per region for the JSON overview. */
  transitionsKept: 20,
  /** `log.level`. */
  logLevel: "info",
} as const;

/** The config file is not valid; the message names each bad key. */
export class MonitorConfigError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MONITOR_CONFIG_INVALID", message, options);
  }
}

/** `host:port`, the port required (a Stratum address without a port is a classic slip). */
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const hostPort = z.string().refine((s) => {
  const m = HOST_PORT.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65_535;
}, 'expected "host:port" (e.g. "10.0.2.100:3333")');
const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL (e.g. "http://10.0.2.100:9100/health")');
const regionName = z.string().regex(REGION_PATTERN, "lowercase letters, digits, '-' or '_', at most 32 (e.g. us-east)");

/** One region the monitor watches. */
const RegionSchema = z.strictObject({
  /** Region label; the pool's `region`. */
  name: regionName,
  /** `primary` or `relay`: decides the alert severity when it is down. */
  role: z.enum(["primary", "relay"]),
  /** The region's Stratum listener as the monitor reaches it. */
  stratum: hostPort,
  /** The region's `/health` URL. */
  health_url: httpUrl,
  /** Where miners should connect when sent to this region (its DNS name); default: `stratum`. */
  public_stratum: hostPort.optional(),
  /** Regions to send this region's miners to when it is not healthy, in order. */
  failover: z.array(regionName).max(16).optional(),
  /**
   * Maintenance: the region's health endpoint answers 503 and routing sends its miners elsewhere, while it
   * is still probed (its state and alerts unchanged). Take a region out of DNS before stopping it.
   */
  drain: z.boolean().optional(),
});

/** Schema of the whole file. */
export const MonitorFileSchema = z
  .strictObject({
    listen: z.strictObject({ host: z.string().min(1).optional(), port: z.int().min(0).max(65_535).optional() }).optional(),
    interval_sec: z.number().min(0.05).max(3_600).optional(),
    timeout_ms: z.int().min(10).max(60_000).optional(),
    failure_threshold: z.int().min(1).max(100).optional(),
    recovery_threshold: z.int().min(1).max(100).optional(),
    default_region: regionName,
    regions: z.array(RegionSchema).min(1).max(64),
    nats: z
      .strictObject({
        /** The hub's monitoring endpoint (nats-server `http:`), e.g. `http://nats-hub:8222`. */
        monitor_url: httpUrl,
        /** Leaf nodes (relay regions) that should be connected to the hub. */
        expected_leafnodes: z.int().min(0).max(1_000),
      })
      .optional(),
    transitions_kept: z.int().min(1).max(1_000).optional(),
    log: z.strictObject({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional() }).optional(),
  })
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.regions.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: "custom", path: ["regions", i, "name"], message: `region "${r.name}" is listed twice` });
      if (r.name === "default") ctx.addIssue({ code: "custom", path: ["regions", i, "name"], message: `"default" is reserved (/route/default answers for unknown locations); name the region otherwise` });
      names.add(r.name);
    });
    const intervalMs = Math.round((c.interval_sec ?? MONITOR_DEFAULTS.intervalSec) * 1000);
    const timeoutMs = c.timeout_ms ?? MONITOR_DEFAULTS.timeoutMs;
    if (timeoutMs >= intervalMs) ctx.addIssue({ code: "custom", path: ["timeout_ms"], message: `${timeoutMs} ms must be shorter than interval_sec (${intervalMs} ms): a round must end before the next one is due` });
    if (!names.has(c.default_region)) ctx.addIssue({ code: "custom", path: ["default_region"], message: `"${c.default_region}" is not one of the regions (${[...names].join(", ")})` });
    c.regions.forEach((r, i) =>
      (r.failover ?? []).forEach((f, j) => {
        if (!names.has(f)) ctx.addIssue({ code: "custom", path: ["regions", i, "failover", j], message: `"${f}" is not one of the regions (${[...names].join(", ")})` });
        else if (f === r.name) ctx.addIssue({ code: "custom", path: ["regions", i, "failover", j], message: "a region cannot fail over to itself" });
      }),
    );
  });

/** The file's shape. */
export type MonitorFileConfig = z.infer<typeof MonitorFileSchema>;

/** One region, resolved. */
export interface RegionConfig {
  name: string;
  role: "primary" | "relay";
  stratumHost: string;
  stratumPort: number;
  /** `host:port` as configured. */
  stratum: string;
  /** Where miners are told to connect. */
  publicStratum: string;
  healthUrl: string;
  failover: string[];
  /** Maintenance: reported unhealthy (503) and routed around, still probed. */
  drain: boolean;
}

/** Fully resolved monitor settings. */
export interface MonitorConfig {
  host: string;
  port: number;
  intervalMs: number;
  timeoutMs: number;
  failureThreshold: number;
  recoveryThreshold: number;
  defaultRegion: string;
  regions: RegionConfig[];
  nats: { monitorUrl: string; expectedLeafnodes: number } | null;
  transitionsKept: number;
  logLevel: string;
}

/** Every key path the file accepts, read off the schema (`regions[].name`); the docs test checks each is documented. */
export function monitorKeyPaths(): string[] {
  return schemaKeyPaths(MonitorFileSchema);
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = HOST_PORT.exec(s)!;
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** Validated file → settings. */
export function resolveMonitorConfig(file: MonitorFileConfig): MonitorConfig {
  const d = MONITOR_DEFAULTS;
  return {
    host: file.listen?.host ?? d.host,
    port: file.listen?.port ?? d.port,
    intervalMs: Math.round((file.interval_sec ?? d.intervalSec) * 1000),
    timeoutMs: file.timeout_ms ?? d.timeoutMs,
    failureThreshold: file.failure_threshold ?? d.failureThreshold,
    recoveryThreshold: file.recovery_threshold ?? d.recoveryThreshold,
    defaultRegion: file.default_region,
    regions: file.regions.map((r) => {
      const { host, port } = splitHostPort(r.stratum);
      return { name: r.name, role: r.role, stratumHost: host, stratumPort: port, stratum: r.stratum, publicStratum: r.public_stratum ?? r.stratum, healthUrl: r.health_url, failover: r.failover ?? [], drain: r.drain ?? false };
    }),
    nats: file.nats ? { monitorUrl: file.nats.monitor_url, expectedLeafnodes: file.nats.expected_leafnodes } : null,
    transitionsKept: file.transitions_kept ?? d.transitionsKept,
    logLevel: file.log?.level ?? d.logLevel,
  };
}

/** Parses config text (JSON). Throws {@link MonitorConfigError} naming every bad key, or the line and column of a syntax error. */
export function parseMonitorConfig(text: string, name = "<config>"): MonitorConfig {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new MonitorConfigError(`${name}:${parsed.line}:${parsed.column}: not valid JSON: ${parsed.reason}`);
  const problems: string[] = parsed.duplicateKeys.map((p) => `  ${p.join(".")}: key given twice`);
  const r = MonitorFileSchema.safeParse(parsed.value);
  if (!r.success) {
    for (const i of r.error.issues) {
      const path = i.path.map((p, k) => (typeof p === "number" ? `[${p}]` : `${k > 0 ? "." : ""}${String(p)}`)).join("") || "(root)";
      problems.push(i.code === "unrecognized_keys" ? `  ${i.keys.map((k) => (path === "(root)" ? k : `${path}.${k}`)).join(", ")}: unknown key` : `  ${path}: ${i.message}`);
    }
  }
  if (problems.length > 0) throw new MonitorConfigError(`${name}: invalid monitor config\n${problems.join("\n")}`);
  return resolveMonitorConfig(r.data!);
}

/** Reads and validates a config file. Throws {@link MonitorConfigError}. */
export async function loadMonitorConfig(path: string): Promise<MonitorConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new MonitorConfigError(`cannot read ${path}: ${errorText(err)}`, { cause: err });
  }
  return parseMonitorConfig(text, path);
}
