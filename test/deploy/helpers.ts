/**
 * Readers for the files under deploy/ (no Docker engine runs here, so tests keep them honest by parsing
 * them): compose YAML (with merge keys), bitcoind INI, systemd units, the Dockerfile, and the CLI's help.
 */
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { parse as parseYaml } from "yaml";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const DEPLOY = `${ROOT}deploy/`;
export const TBG = `${ROOT}bin/tbg`;

export const read = (path: string) => readFileSync(path, "utf8");

/** A compose service as far as the tests look at it. */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: string[];
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  healthcheck?: { disable?: boolean };
  cap_add?: string[];
}
export interface ComposeFile {
  path: string;
  dir: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet: string }> } }>;
  volumes?: Record<string, unknown>;
}

export function loadCompose(rel: string): ComposeFile {
  const path = `${DEPLOY}${rel}`;
  const doc = parseYaml(read(path), { merge: true }) as Omit<ComposeFile, "path" | "dir">;
  return { ...doc, path, dir: dirname(path) };
}

/** Compose `${VAR:-default}` interpolation with the defaults (what `docker compose config` does with no env). */
export function interpolate(s: string): string {
  return s.replace(/\$\{([A-Z0-9_]+):-([^}]*)\}/g, (_m, _v, d: string) => d);
}

export function networksOf(s: ComposeService): string[] {
  if (!s.networks) return ["default"];
  return Array.isArray(s.networks) ? s.networks : Object.keys(s.networks);
}

/** A bind mount `SRC:TARGET[:ro]` with a relative SRC, resolved against the compose file's directory. */
export interface Mount {
  source: string;
  target: string;
  bind: boolean;
}
export function mountsOf(c: ComposeFile, s: ComposeService): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [src, target] = v.split(":");
    const bind = src.startsWith(".") || src.startsWith("/");
    return { source: bind ? resolve(c.dir, src) : src, target, bind };
  });
}

/** The host file mounted at `target` in the service, if any. */
export function boundFile(c: ComposeFile, s: ComposeService, target: string): string | undefined {
  return mountsOf(c, s).find((m) => m.bind && m.target === target)?.source;
}

/** Container ports published by the service. */
export function publishedPorts(s: ComposeService): number[] {
  return (s.ports ?? []).map((p) => Number(String(p).split(":").pop()));
}

/** The value after a flag in an argv list. */
export function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** `host:port` out of a URL-ish string (nats://user:pass@host:port, postgres://…, tcp://host:port, host:port). */
export function hostPort(s: string): { host: string; port: number } {
  const u = new URL(/^[a-z]+:\/\//.test(s) ? s : `tcp://${s}`);
  return { host: u.hostname, port: Number(u.port) };
}

/** Bitcoin Core's config file: top-level keys and `[chain]` sections; repeated keys kept in order. */
export function parseBitcoinConf(text: string): { top: Map<string, string[]>; sections: Map<string, Map<string, string[]>> } {
  const top = new Map<string, string[]>();
  const sections = new Map<string, Map<string, string[]>>();
  let cur = top;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const sec = /^\[([a-z]+)\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1], cur);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`bitcoin.conf: not key=value: ${raw}`);
    const k = line.slice(0, eq).trim();
    cur.set(k, [...(cur.get(k) ?? []), line.slice(eq + 1).trim()]);
  }
  return { top, sections };
}

/** A systemd unit: section → key → values (repeated keys kept). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let cur: Map<string, string[]> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      cur = new Map();
      out.set(sec[1], cur);
      continue;
    }
    if (!cur) throw new Error(`unit: key outside a section: ${raw}`);
    const eq = line.indexOf("=");
    const k = line.slice(0, eq);
    cur.set(k, [...(cur.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** Dockerfile instructions (continuations joined, comments dropped). */
export function parseDockerfile(text: string): Array<{ op: string; args: string }> {
  const out: Array<{ op: string; args: string }> = [];
  let acc = "";
  for (const raw of text.split("\n")) {
    if (!acc && (raw.trim().startsWith("#") || !raw.trim())) continue;
    acc += raw.replace(/\\$/, " ");
    if (raw.endsWith("\\")) continue;
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(acc);
    if (m) out.push({ op: m[1], args: m[2].trim() });
    acc = "";
  }
  return out;
}

/** The CLI's command names, from its registry. */
export async function cliCommands(): Promise<string[]> {
  const src = read(`${ROOT}src/cli/main.ts`);
  const block = /const COMMANDS[^{]*\{([\s\S]*?)\};/.exec(src)![1];
  return [...block.matchAll(/^\s*"?([a-z-]+)"?:/gm)].map((m) => m[1]);
}

const helpCache = new Map<string, string>();
/** `tbg <command> --help` output (what flags it takes). */
export function cliHelp(command: string): string {
  if (!helpCache.has(command)) {
    const r = spawnSync(process.execPath, [TBG, command, "--help"], { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`tbg ${command} --help: ${r.stderr}`);
    helpCache.set(command, r.stdout);
  }
  return helpCache.get(command)!;
}

/** Every `--flag` in an argv is one the command's help names. */
export function unknownFlags(command: string, argv: string[]): string[] {
  const help = cliHelp(command);
  return argv.filter((a) => a.startsWith("-")).filter((a) => !new RegExp(`(^|[\\s,])${a.replace(/[-]/g, "\\-")}(\\s|,|$)`, "m").test(help));
}

export { existsSync };
