/**
 * Schema migrations: numbered SQL files (`NNN_name.sql`) per back end under src/store/migrations/<kind>/, the same
 * numbering for every back end, applied in order in one transaction at start and recorded in `schema_migrations`.
 * A store refuses to open a schema newer than the migrations it knows: an older replica must not write into a
 * newer layout it does not understand.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export type StoreKind = "sqlite" | "postgres";

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * The migrations of a back end, oldest first; their versions are 1, 2, … with no gap.
 * @example loadMigrations("postgres").map((m) => m.version) // [1, 2]
 */
export function loadMigrations(kind: StoreKind, dir = join(__dirname, "migrations", kind)): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .map((file) => {
      const m = FILE.exec(file);
      if (!m) throw new Error(`migration file ${join(dir, file)} is not named NNN_name.sql`);
      return { version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), "utf8") };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations of ${kind} are not numbered 1, 2, …: found ${m.version} where ${i + 1} belongs`);
  });
  return migrations;
}

/**
 * The migrations still to apply to a schema at `applied`; refuses a schema newer than `known`.
 * @throws Error naming both versions when the database is ahead of this code.
 */
export function pendingMigrations(migrations: Migration[], applied: number, kind: StoreKind): Migration[] {
  const known = migrations.length;
  if (applied > known) {
    throw new Error(
      `the ${kind} schema is at version ${applied}, newer than this co-signer knows (${known}): run the newer co-signer, or restore a backup of the older schema`,
    );
  }
  return migrations.slice(applied);
}
