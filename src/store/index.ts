/**
 * The store: interfaces (types.ts) and the back ends that implement them. `openStore` picks one from a location.
 */
import { PostgresStore } from "./postgres";
import { SqliteStore } from "./sqlite";
import type { Store } from "./types";

export * from "./types";
export { requestHash, toJson } from "./json";
export { SqliteStore } from "./sqlite";
export { PostgresStore } from "./postgres";

/**
 * Opens the store at `location`: a postgres:// URL for PostgreSQL (replicas), else a file path (or ":memory:") for
 * SQLite.
 * @example const store = await openStore("data/countersign.sqlite")
 */
export async function openStore(location: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) return PostgresStore.open(location);
  return SqliteStore.open(location);
}
