/**
 * Pure parsers for the address-like strings a config holds: ckpool's "host:port", RPC URLs,
 * ZMQ endpoints, NATS server URLs, IPs and CIDR blocks. Each returns the parsed value or a
 * reason string (the reason lands in a ConfigError next to the key path).
 */

/** A host name or IP literal (IPv6 without brackets) and a TCP port. */
export interface HostPort {
  host: string;
  /** 0–65535 (0 only where `allowPortZero`: an ephemeral listen port, used by tests). */
  port: number;
}

/** Result of a parser: the value, or why the text was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** Host names as RFC 1123 allows them, plus `*`-free IPv4 literals (which match the same pattern). */
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

/** True for an IPv4 dotted quad with each part 0–255. */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** True for an IPv6 literal (no brackets, no zone). The WHATWG URL parser does the RFC 4291 grammar. */
export function isIPv6(text: string): boolean {
  if (!text.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** True for an IP literal or a plausible host name. */
export function isHost(text: string): boolean {
  return isIPv4(text) || isIPv6(text) || HOSTNAME_RE.test(text);
}

function parsePort(text: string, allowZero: boolean): Parsed<number> {
  if (!/^\d{1,5}$/.test(text)) return fail(`port "${text}" is not a number`);
  const port = Number(text);
  if (port > 65535 || (port === 0 && !allowZero)) return fail(`port ${port} is out of range (1–65535)`);
  return ok(port);
}

/**
 * ckpool's "host:port" (also "[v6]:port"). The port is mandatory: ckpool requires it, and a
 * default would have to guess between mainnet, testnet, signet and regtest ports.
 */
export function parseHostPort(text: string, opts: { allowPortZero?: boolean } = {}): Parsed<HostPort> {
  const allowZero = opts.allowPortZero ?? false;
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0 || text[end + 1] !== ":") return fail(`expected "[ipv6]:port", got "${text}"`);
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIPv6(host)) return fail(`"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return fail(`expected "host:port", got "${text}" (the port is required)`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return fail(`write IPv6 addresses in brackets: "[${host}]:${portText}"`);
    if (!isHost(host)) return fail(`"${host}" is not a valid host name or IP address`);
  }
  const port = parsePort(portText, allowZero);
  return port.ok ? ok({ host, port: port.value }) : fail(port.reason);
}

/** A bitcoind JSON-RPC endpoint: normalised URL plus its host and port. */
export interface RpcEndpoint extends HostPort {
  /** `http://host:port/` (or https, or with the path that was written), ready for fetch. */
  rpcUrl: string;
}

/**
 * `btcd[].url`: ckpool writes "host:port"; "http://host:port[/path]" and https are accepted too
 * (a wallet path, a TLS-terminating proxy). The port is required in both forms.
 */
export function parseRpcUrl(text: string): Parsed<RpcEndpoint> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail(`"${text}" is not a valid URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return fail(`scheme must be http or https, got "${url.protocol}"`);
    if (url.username || url.password) return fail("put credentials in auth/pass or cookie, not in the URL");
    // WHATWG URL drops a default port ("http://h:80" → port ""), so read it from the text.
    const explicitPort = /^[a-z]+:\/\/(\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(text);
    if (!explicitPort) return fail(`"${text}" has no port (bitcoind RPC: mainnet 8332, testnet 18332, signet 38332, regtest 18443)`);
    const port = parsePort(explicitPort[2], false);
    if (!port.ok) return fail(port.reason);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    return ok({ host, port: port.value, rpcUrl: url.href });
  }
  const hp = parseHostPort(text);
  if (!hp.ok) return fail(`${hp.reason}; bitcoind RPC ports: mainnet 8332, testnet 18332, signet 38332, regtest 18443`);
  const hostText = hp.value.host.includes(":") ? `[${hp.value.host}]` : hp.value.host;
  return ok({ ...hp.value, rpcUrl: `http://${hostText}:${hp.value.port}/` });
}

/**
 * A ZMQ endpoint as Bitcoin Core's `-zmqpubhashblock` publishes it (doc/zmq.md): `tcp://host:port`,
 * or `ipc:///path` for a node on the same machine.
 */
export function parseZmqEndpoint(text: string): Parsed<string> {
  if (text.startsWith("ipc://")) return text.length > "ipc://".length ? ok(text) : fail("ipc:// needs a socket path");
  if (!text.startsWith("tcp://")) return fail(`expected "tcp://host:port" (or ipc://path), got "${text}"`);
  const hp = parseHostPort(text.slice("tcp://".length));
  return hp.ok ? ok(text) : fail(hp.reason);
}

/** NATS server URLs: one URL or a comma-separated list, schemes nats, tls, ws, wss. */
export function parseNatsServers(text: string): Parsed<string[]> {
  const servers = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) return fail("no NATS server URL");
  for (const s of servers) {
    // Never echo the user-info (a token or user:password) into an error message or a log line.
    const shown = s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1***@");
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      return fail(`"${shown}" is not a valid URL`);
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(url.protocol)) return fail(`expected "nats://host:port", got "${shown}"`);
    if (!url.hostname) return fail(`"${shown}" has no host`);
  }
  return ok(servers);
}

/** An IP address or CIDR block ("10.0.0.0/8", "2001:db8::/32"), as used in `bans.allowlist`. */
export function parseIpOrCidr(text: string): Parsed<string> {
  const [ip, prefix, extra] = text.split("/");
  if (extra !== undefined) return fail(`"${text}" is not an IP or CIDR block`);
  const v4 = isIPv4(ip);
  if (!v4 && !isIPv6(ip)) return fail(`"${ip}" is not an IP address`);
  if (prefix !== undefined) {
    const max = v4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return fail(`prefix "/${prefix}" is out of range (0–${max})`);
  }
  return ok(text);
}
