/** Empties the stores a test shares across cases: the database schema (migrations re-run on next start) and Redis. */
import { createClient } from "redis";
import { PgEventStore } from "../../src/pipeline/storage/event-store.ts";

export async function emptyDatabase(url: string): Promise<void> {
  const admin = new PgEventStore({ url, migrate: false });
  await admin.start();
  await admin.database.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
  await admin.close();
}

export async function emptyRedis(url: string): Promise<void> {
  const c = createClient({ url });
  await c.connect();
  await c.flushAll();
  c.destroy();
}
