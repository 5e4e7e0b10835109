/**
 * Per-user coinbase signatures from the user settings file ("a JSON file named in config,
 * reloaded on change"). The engine asks {@link UserSettingsFile.signatureFor} when it builds a
 * user's coinbase (priority: this → pool `btcsig` → "/TheBitcoinGame/").
 *
 * File format (docs/operations.md "User settings file"): one object keyed by payout address,
 *   { "bc1q…": { "coinbase_signature": "/Alice/" }, "bc1p…": { "coinbase_signature": "" } }
 * Unknown per-user keys are ignored (room for future settings); an empty signature means "none".
 *
 * Reloading: fs.watch on the *directory* (editors and atomic writers replace the file by rename,
 * which a watch on the file itself stops following) plus a periodic stat as a fallback for
 * filesystems without inotify (NFS, some container mounts); both debounced. A file that does not
 * parse keeps the last good settings and reports the error; so does a missing file (a writer
 * replacing it non-atomically makes it vanish briefly). Write `{}` to clear every signature.
 */
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { TbgError, errorText } from "../util/errors.ts";
import type { SignatureSource } from "../core/engine/engine.ts";

/** Settings of one user. */
export interface UserSettings {
  /** Text for this user's coinbase scriptSig; the engine truncates what does not fit. */
  coinbase_signature?: string;
}

/** The settings file is malformed (code `USER_SETTINGS_INVALID`) or unreadable (`USER_SETTINGS_READ`). */
export class UserSettingsError extends TbgError {}

/** Defaults of {@link UserSettingsFileOptions}. */
export const USER_SETTINGS_DEFAULTS = {
  /** Stat fallback period: changes are noticed within this even without inotify. */
  pollMs: 5_000,
  /** Coalesce the burst of watch events one save produces (truncate + write + rename). */
  debounceMs: 100,
} as const;

/** Result of {@link parseUserSettings}. */
export interface ParsedUserSettings {
  users: Map<string, UserSettings>;
  /** Entries that were skipped, with why (the rest of the file still applies). */
  warnings: string[];
}

/** Outcome of one (re)load, for logs. */
export interface UserSettingsLoaded {
  path: string;
  users: number;
  signatures: number;
  warnings: string[];
}

/** Options of {@link UserSettingsFile}. */
export interface UserSettingsFileOptions {
  /** `user_settings_file` from the config. */
  path: string;
  pollMs?: number;
  debounceMs?: number;
  /** Use fs.watch (default true); false = stat polling only. */
  watch?: boolean;
  /** A new version of the file took effect. */
  onLoaded?: (info: UserSettingsLoaded) => void;
  /** The file could not be read or parsed; the previous settings stay in force. */
  onError?: (err: UserSettingsError) => void;
}

// C0 controls and DEL: unreadable in block explorers and a sign of a broken writer.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Addresses are compared as the engine sees them after authorisation; bech32/bech32m are
 * case-insensitive (BIP173), so those keys match in lower case. Base58 addresses are case-sensitive.
 */
export function normalizeAddressKey(address: string): string {
  return /^(bc|tb|bcrt)1/i.test(address) ? address.toLowerCase() : address;
}

/** Parses the settings file text. Throws `USER_SETTINGS_INVALID` when the whole file is unusable. Pure. */
export function parseUserSettings(text: string): ParsedUserSettings {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UserSettingsError("USER_SETTINGS_INVALID", `not valid JSON: ${errorText(err)}`, { cause: err });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UserSettingsError("USER_SETTINGS_INVALID", "expected a JSON object keyed by payout address");
  }
  const users = new Map<string, UserSettings>();
  const warnings: string[] = [];
  for (const [address, value] of Object.entries(doc)) {
    if (address === "" || address.length > 128 || /\s/.test(address)) {
      warnings.push(`${JSON.stringify(address.slice(0, 64))}: not an address, skipped`);
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      warnings.push(`${address}: expected an object, skipped`);
      continue;
    }
    const sig = (value as Record<string, unknown>).coinbase_signature;
    const settings: UserSettings = {};
    if (sig !== undefined && sig !== null) {
      if (typeof sig !== "string") warnings.push(`${address}: coinbase_signature must be a string, ignored`);
      else if (CONTROL_CHARS.test(sig)) warnings.push(`${address}: coinbase_signature contains control characters, ignored`);
      else if (sig !== "") settings.coinbase_signature = sig;
    }
    users.set(normalizeAddressKey(address), settings);
  }
  return { users, warnings };
}

/** A user settings file kept in memory and reloaded on change; see the module comment. */
export class UserSettingsFile implements SignatureSource {
  readonly path: string;
  private readonly opts: UserSettingsFileOptions;
  private users = new Map<string, UserSettings>();
  private watcher: FSWatcher | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private debounceTimer: ReturnType<typeof setTimeout> | null = null;
  private lastStat = "";
  private lastText: string | null = null;
  private missingReported = false;
  private loading: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private loads = 0;

  constructor(opts: UserSettingsFileOptions) {
    this.opts = opts;
    this.path = opts.path;
  }

  /** The user's signature, or undefined (then the pool's `btcsig` applies). Called on the mining path: a map lookup. */
  signatureFor(address: string): string | undefined {
    return this.users.get(normalizeAddressKey(address))?.coinbase_signature;
  }

  /** All settings of one user, or undefined. */
  settingsFor(address: string): Readonly<UserSettings> | undefined {
    return this.users.get(normalizeAddressKey(address));
  }

  /** Successful loads so far (tests and logs: "did the new file take effect"). */
  get version(): number {
    return this.loads;
  }

  /** Loads the file (a missing or bad file is reported and leaves no signatures), then watches it. */
  async start(): Promise<void> {
    await this.reload();
    this.startWatcher();
    const pollMs = this.opts.pollMs ?? USER_SETTINGS_DEFAULTS.pollMs;
    this.pollTimer = setInterval(() => void this.poll(), pollMs);
    this.pollTimer.unref();
  }

  /** Reads and applies the file now (coalesces with a reload in progress). */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        await this.loadOnce();
      } while (this.again && !this.closed);
    })().finally(() => (this.loading = null));
    return this.loading;
  }

  /** Stops watching. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.pollTimer = this.debounceTimer = null;
    await this.loading;
  }

  private async loadOnce(): Promise<void> {
    let text: string;
    try {
      const st = await stat(this.path);
      this.lastStat = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      text = await readFile(this.path, "utf8");
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      this.lastStat = "";
      if (missing && this.missingReported) return;
      this.missingReported = missing;
      this.lastText = null;
      this.report(new UserSettingsError("USER_SETTINGS_READ", `${this.path}: ${missing ? "file not found" : errorText(err)}; keeping the previous settings`, { cause: err }));
      return;
    }
    this.missingReported = false;
    if (text === this.lastText) return; // same content (a touch, or a watch event for our own read)
    this.lastText = text;
    let parsed: ParsedUserSettings;
    try {
      parsed = parseUserSettings(text);
    } catch (err) {
      const e = err as UserSettingsError;
      this.report(new UserSettingsError(e.code ?? "USER_SETTINGS_INVALID", `${this.path}: ${e.message}; keeping the previous settings`, { cause: err }));
      return;
    }
    this.users = parsed.users;
    this.loads++;
    let signatures = 0;
    for (const s of parsed.users.values()) if (s.coinbase_signature !== undefined) signatures++;
    try {
      this.opts.onLoaded?.({ path: this.path, users: parsed.users.size, signatures, warnings: parsed.warnings });
    } catch {
      // A logging callback must not break reloading.
    }
  }

  private report(err: UserSettingsError): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // ignore
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.reload();
    }, this.opts.debounceMs ?? USER_SETTINGS_DEFAULTS.debounceMs);
    this.debounceTimer.unref();
  }

  private startWatcher(): void {
    if (this.closed || this.watcher || this.opts.watch === false) return;
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name || filename === undefined) this.schedule();
      });
      this.watcher.on("error", () => {
        // The directory went away (or the watch limit was hit): the stat poll carries on and retries the watch.
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null; // no inotify here: rely on polling
    }
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    if (!this.watcher) this.startWatcher();
    let sig = "";
    try {
      const st = await stat(this.path);
      sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch {
      sig = "";
    }
    if (sig !== this.lastStat) this.schedule();
  }
}
