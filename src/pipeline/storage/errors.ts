/**
 * Storage failure modes (one class per failure mode, stable `code`, `cause` passed through).
 */
import { TbgError } from "../../util/errors.ts";

/** A migration file name or directive is invalid (bad pattern, duplicate version, unknown capability). */
export class MigrationFileError extends TbgError {
  constructor(message: string) {
    super("MIGRATION_INVALID_FILE", message);
  }
}

/** An applied migration's file changed after it was applied (its checksum differs). */
export class MigrationChecksumError extends TbgError {
  constructor(readonly version: number, message: string) {
    super("MIGRATION_CHECKSUM_MISMATCH", message);
  }
}

/** The database has a migration this code does not know (the schema is newer than the code). */
export class MigrationAheadError extends TbgError {
  constructor(readonly version: number, message: string) {
    super("MIGRATION_DB_AHEAD", message);
  }
}

/** A migration's SQL failed; the migration's transaction was rolled back. */
export class MigrationFailedError extends TbgError {
  constructor(readonly version: number, message: string, cause: unknown) {
    super("MIGRATION_FAILED", message, { cause });
  }
}

/**
 * The database could not take the batch for a reason that may pass (connection lost, server
 * restarting, deadlock, serialization failure, or anything not known to be caused by the data).
 * The same batch is retried; nothing is lost, and the conflict keys make the retry harmless.
 */
export class StoreUnavailableError extends TbgError {
  constructor(message: string, cause: unknown) {
    super("STORE_UNAVAILABLE", message, { cause });
  }
}

/**
 * The database refused the batch because of its data (SQLSTATE class 22 "data exception" or
 * 23 "integrity constraint violation"). Retrying the same rows fails again: the batcher splits the
 * batch to isolate the offending event(s) so they never poison the rest.
 */
export class StoreDataError extends TbgError {
  constructor(message: string, readonly sqlState: string | undefined, cause: unknown) {
    super("STORE_DATA_REJECTED", message, { cause });
  }
}

/** The store was used after `close()` or before `start()`. */
export class StoreClosedError extends TbgError {
  constructor(message = "event store is not open") {
    super("STORE_CLOSED", message);
  }
}

/** SQLSTATE of a driver error (pg and PGlite both expose `code`), when it has one. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Sorts a driver error into {@link StoreDataError} (the rows are at fault: classes 22 and 23) or
 * {@link StoreUnavailableError} (everything else, retried). A SQL bug (class 42) is deliberately
 * "unavailable": retrying stalls the pipeline visibly instead of discarding every event as bad data.
 */
export function classifyStoreError(err: unknown): StoreDataError | StoreUnavailableError {
  if (err instanceof StoreDataError || err instanceof StoreUnavailableError) return err;
  const state = sqlStateOf(err);
  const text = err instanceof Error ? err.message : String(err);
  if (state && (state.startsWith("22") || state.startsWith("23"))) return new StoreDataError(`database rejected the data: ${text} [${state}]`, state, err);
  return new StoreUnavailableError(`database unavailable: ${text}${state ? ` [${state}]` : ""}`, err);
}
