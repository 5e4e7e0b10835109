/**
 * Versioned schema migrations ("schema migrations are versioned files applied at start").
 *
 * Files: `migrations/NNN_name.sql` (NNN = version, at least 3 digits, unique). Applied in version order,
 * each in its own transaction together with its `schema_migrations` row, so a failure leaves the
 * schema at the previous version. Re-running is a no-op. An applied file whose text changed is an
 * error (edit by adding a new migration, never by rewriting an applied one).
 *
 * Directive (first comment lines): `-- tbg:requires <capability>` applies the file only when the
 * database has the capability (today only `timescaledb`); otherwise it is skipped and not recorded,
 * so it applies on a later start once the capability appears.
 *
 * Concurrent starters serialise on a transaction-scoped advisory lock and re-check the version inside
 * it. Works on PostgreSQL and PGlite (same SQL).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { Database, Queryable } from "./queryable.ts";
import { MigrationAheadError, MigrationChecksumError, MigrationFailedError, MigrationFileError } from "./errors.ts";

/** The repository's migrations/ directory. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../../migrations/", import.meta.url));

/** Capabilities a migration may require. */
export const KNOWN_CAPABILITIES = ["timescaledb"] as const;
/** A database capability probed at start. */
export type Capability = (typeof KNOWN_CAPABILITIES)[number];

/** One migration file. */
export interface Migration {
  version: number;
  /** File name without version and extension, e.g. `core`. */
  name: string;
  /** The file name, e.g. `001_core.sql`. */
  file: string;
  sql: string;
  /** sha256 of the file text, hex. */
  checksum: string;
  /** Capabilities from `-- tbg:requires` lines. */
  requires: Capability[];
}

/** What {@link migrate} did. */
export interface MigrationReport {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** Versions skipped for a missing capability. */
  skipped: number[];
  /** Capabilities the database has. */
  capabilities: Capability[];
  /** Highest applied version after the call (0 for none). */
  current: number;
}

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /** Directory with the `.sql` files. Default {@link DEFAULT_MIGRATIONS_DIR}. */
  dir?: string;
  /** Use these instead of reading `dir` (tests). */
  migrations?: Migration[];
  /** Override the capability probe, e.g. `[]` to force the plain-PostgreSQL path. */
  capabilities?: readonly Capability[];
  /** Progress messages (one per applied or skipped file). */
  log?: (message: string) => void;
}

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const REQUIRES_PATTERN = /^--\s*tbg:requires\s+(\S+)\s*$/;
/** Advisory lock key shared by every migrating process ("tbg-migrate" as a number). */
const LOCK_KEY = 7_426_271_903;

/** Parses one migration file's name and directives. Throws {@link MigrationFileError}. */
export function parseMigration(file: string, sql: string): Migration {
  const m = FILE_PATTERN.exec(file);
  if (!m) throw new MigrationFileError(`migration file name '${file}' does not match NNN_name.sql`);
  const requires: Capability[] = [];
  for (const line of sql.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (!trimmed.startsWith("--")) break; // directives live in the leading comment block only
    const r = REQUIRES_PATTERN.exec(trimmed);
    if (!r) continue;
    const cap = r[1] as Capability;
    if (!KNOWN_CAPABILITIES.includes(cap)) throw new MigrationFileError(`${file}: unknown capability '${r[1]}'`);
    requires.push(cap);
  }
  return {
    version: Number(m[1]),
    name: m[2],
    file,
    sql,
    checksum: createHash("sha256").update(sql).digest("hex"),
    requires,
  };
}

/** Reads and parses every `NNN_name.sql` in `dir`, sorted by version. Other files are ignored. */
export async function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const out: Migration[] = [];
  for (const file of files) out.push(parseMigration(file, await readFile(join(dir, file), "utf8")));
  return sortMigrations(out);
}

function sortMigrations(list: Migration[]): Migration[] {
  const sorted = [...list].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].version === sorted[i - 1].version) {
      throw new MigrationFileError(`duplicate migration version ${sorted[i].version}: ${sorted[i - 1].file}, ${sorted[i].file}`);
    }
  }
  return sorted;
}

/**
 * Which capabilities the database has. TimescaleDB counts only if `CREATE EXTENSION` works
 * (pg_available_extensions lists it even when it is missing from shared_preload_libraries), so the
 * probe tries it in a transaction that is always rolled back.
 */
export async function probeCapabilities(db: Database): Promise<Capability[]> {
  const available = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'timescaledb'",
  );
  if ((available.rows[0]?.n ?? 0) === 0) return [];
  const probe = new Error("probe rollback");
  try {
    await db.transaction(async (tx) => {
      await tx.exec("CREATE EXTENSION IF NOT EXISTS timescaledb");
      throw probe; // roll back: the migration creates it for real
    });
  } catch (err) {
    if (err === probe) return ["timescaledb"];
  }
  return [];
}

async function ensureTable(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version     integer PRIMARY KEY,
      name        text NOT NULL,
      checksum    text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now(),
      duration_ms integer NOT NULL
    )`);
  });
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedVersions(db: Queryable): Promise<Map<number, AppliedRow>> {
  const res = await db.query<AppliedRow>("SELECT version, name, checksum FROM schema_migrations ORDER BY version");
  return new Map(res.rows.map((r) => [r.version, r]));
}

/**
 * Brings the schema up to date. Idempotent; safe to run from several processes at once.
 * Throws {@link MigrationChecksumError}, {@link MigrationAheadError}, {@link MigrationFailedError}.
 */
export async function migrate(db: Database, opts: MigrateOptions = {}): Promise<MigrationReport> {
  const migrations = opts.migrations ? sortMigrations(opts.migrations) : await loadMigrations(opts.dir);
  const capabilities = opts.capabilities ? [...opts.capabilities] : await probeCapabilities(db);
  await ensureTable(db);
  const known = new Map(migrations.map((m) => [m.version, m]));
  const before = await appliedVersions(db);
  for (const row of before.values()) {
    const m = known.get(row.version);
    if (!m) throw new MigrationAheadError(row.version, `database has migration ${row.version} (${row.name}) that this code does not know; upgrade the code`);
    if (m.checksum !== row.checksum) throw new MigrationChecksumError(row.version, `migration ${m.file} changed after it was applied (checksum differs); add a new migration instead`);
  }
  const report: MigrationReport = { applied: [], skipped: [], capabilities, current: 0 };
  for (const m of migrations) {
    if (before.has(m.version)) continue;
    const missing = m.requires.filter((c) => !capabilities.includes(c));
    if (missing.length > 0) {
      report.skipped.push(m.version);
      opts.log?.(`migration ${m.file}: skipped (needs ${missing.join(", ")})`);
      continue;
    }
    const started = performance.now();
    try {
      const did = await db.transaction(async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
        const again = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
        if (again.rows.length > 0) return false; // another process applied it while we waited
        // A migration may rewrite a big table (TimescaleDB's create_hypertable with migrate_data):
        // lift the pool's statement_timeout for this transaction only.
        await tx.exec("SET LOCAL statement_timeout = 0");
        await tx.exec(m.sql);
        await tx.query("INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)", [
          m.version, m.name, m.checksum, Math.round(performance.now() - started),
        ]);
        return true;
      });
      if (did) {
        report.applied.push(m.version);
        opts.log?.(`migration ${m.file}: applied in ${Math.round(performance.now() - started)} ms`);
      }
    } catch (err) {
      throw new MigrationFailedError(m.version, `migration ${m.file} failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
  const after = await db.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
  report.current = after.rows[0]?.v ?? 0;
  return report;
}
