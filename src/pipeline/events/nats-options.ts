/**
 * The one place NATS connection options are built, for every NATS client of the pipeline: the
 * engine's `events.nats` sink, `tbg publisher` and `tbg collector`'s JetStream input. Credentials
 * (token, user/password, a `.creds` file) and TLS (CA, client certificate and key) are given the same
 * way everywhere, and secrets never reach a log line or /health: {@link redactNatsUrl} hides a URL's
 * user-info (`nats://TOKEN@host` carries the token in the user part, `nats://user:pass@host` both),
 * {@link redactNatsText} hides every configured secret in free text such as a client error.
 */
import { readFileSync } from "node:fs";
import { credsAuthenticator, type NodeConnectionOptions } from "@nats-io/transport-node";
import { TbgError } from "../../util/errors.ts";

/** NATS credentials and TLS files. Use one authentication: token, user/pass, or a creds file. */
export interface NatsAuth {
  token?: string | null;
  user?: string | null;
  pass?: string | null;
  /** Path of a NATS `.creds` file (JWT + nkey seed). */
  credsFile?: string | null;
  /** CA certificate(s) that sign the server's certificate (PEM); enables TLS. */
  tlsCaFile?: string | null;
  /** Client certificate (PEM) for servers that verify clients; needs `tlsKeyFile`. */
  tlsCertFile?: string | null;
  /** Private key of `tlsCertFile` (PEM). */
  tlsKeyFile?: string | null;
}

/** A NATS option is unusable (unreadable creds file, a certificate without its key, two authentications). */
export class NatsOptionsError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_OPTIONS_INVALID", message, options);
  }
}

/** What {@link natsConnectionOptions} needs besides the credentials. */
export interface NatsConnectionSettings {
  /** `nats://host:port`, comma-separated for several. */
  url: string;
  /** Client name the server shows. */
  name: string;
  auth?: NatsAuth;
  /** Reconnect forever with this wait between attempts, ms. */
  reconnectTimeWaitMs?: number;
  /** One connect attempt gives up after this long, ms. */
  connectTimeoutMs?: number;
}

/**
 * Connection options for `connect()` of @nats-io/transport-node. Throws {@link NatsOptionsError}
 * for a creds file that cannot be read or a TLS pair that is incomplete, naming the option.
 */
export function natsConnectionOptions(s: NatsConnectionSettings): NodeConnectionOptions {
  // nats.js ignores credentials written in a server URL: take them out and pass them as options
  // (`nats://TOKEN@host` is a token, `nats://user:pass@host` a user and password). Explicit options win.
  const servers: string[] = [];
  const fromUrl: NatsAuth = {};
  for (const raw of s.url.split(",")) {
    const u = raw.trim();
    if (u === "") continue;
    const m = USERINFO.exec(u);
    if (!m) {
      servers.push(u);
      continue;
    }
    servers.push(m[1] + u.slice(m[0].length));
    const info = decodeURIComponent(m[2]);
    const colon = info.indexOf(":");
    if (colon === -1) fromUrl.token = info;
    else {
      fromUrl.user = info.slice(0, colon);
      fromUrl.pass = info.slice(colon + 1);
    }
  }
  const given = s.auth ?? {};
  const explicit = Boolean(given.token || given.user || given.credsFile);
  const a: NatsAuth = explicit ? given : { ...given, ...fromUrl };
  const out: NodeConnectionOptions = {
    servers,
    name: s.name,
    maxReconnectAttempts: -1,
  };
  if (s.reconnectTimeWaitMs !== undefined) out.reconnectTimeWait = s.reconnectTimeWaitMs;
  if (s.connectTimeoutMs !== undefined) out.timeout = s.connectTimeoutMs;
  const kinds = [a.token ? "token" : null, a.user ? "user/pass" : null, a.credsFile ? "creds file" : null].filter((k) => k !== null);
  if (kinds.length > 1) throw new NatsOptionsError(`NATS: use one authentication, got ${kinds.join(" and ")}`);
  if (a.token) out.token = a.token;
  if (a.user) {
    out.user = a.user;
    out.pass = a.pass ?? "";
  }
  if (a.credsFile) {
    let creds: Uint8Array;
    try {
      creds = new Uint8Array(readFileSync(a.credsFile));
    } catch (err) {
      throw new NatsOptionsError(`NATS creds file ${a.credsFile} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    out.authenticator = credsAuthenticator(creds);
  }
  if (Boolean(a.tlsCertFile) !== Boolean(a.tlsKeyFile)) throw new NatsOptionsError("NATS TLS: a client certificate needs its key (give both tls cert and tls key files)");
  if (a.tlsCaFile || a.tlsCertFile) {
    const tls: NonNullable<NodeConnectionOptions["tls"]> = {};
    if (a.tlsCaFile) tls.caFile = a.tlsCaFile;
    if (a.tlsCertFile) tls.certFile = a.tlsCertFile;
    if (a.tlsKeyFile) tls.keyFile = a.tlsKeyFile;
    out.tls = tls;
  }
  return out;
}

/** `scheme://` then the user-info before `@` (no `/` in between). */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i;

/** A NATS server URL without its user-info (token or user:password), e.g. `nats://***@host:4222`. */
export function redactNatsUrl(url: string): string {
  return url.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1***@");
}

/** Comma-separated server URLs, each redacted. */
export function redactNatsServers(urls: string): string {
  return urls.split(",").map(redactNatsUrl).join(",");
}

/** The secrets to hide in text about this connection: the token, the password, and any user-info in the URLs. */
export function natsSecrets(url: string, auth?: NatsAuth): string[] {
  const out = new Set<string>();
  if (auth?.token) out.add(auth.token);
  if (auth?.pass) out.add(auth.pass);
  for (const u of url.split(",")) {
    const m = /^\s*[a-z][a-z0-9+.-]*:\/\/([^@/]*)@/i.exec(u);
    if (!m) continue;
    const colon = m[1].indexOf(":");
    const secret = colon === -1 ? m[1] : m[1].slice(colon + 1); // a token, or the password of user:password
    out.add(secret);
    // The connection uses the percent-decoded form: hide that one too.
    try {
      out.add(decodeURIComponent(secret));
    } catch {
      // malformed escapes: the raw form is all there is
    }
  }
  return [...out].filter((s) => s.length > 0).sort((x, y) => y.length - x.length);
}

/** `text` with every secret of {@link natsSecrets} replaced by `***` (for error messages and logs). */
export function redactNatsText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}
