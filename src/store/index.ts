/**
 * The store: interfaces (types.ts) and the back ends that implement them. `openStore` picks one from a location.
 */
import { SqliteStore } from "./sqlite";
import type { Store } from "./types";

export * from "./types";
export { requestHash, toJson } from "./json";
export { SqliteStore } from "./sqlite";

/**
 * Opens the store at `location`: a file path (or ":memory:") for SQLite.
 * @example const store = await openStore("data/countersign.sqlite")
 */
export async function openStore(location: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new Error("a PostgreSQL store is not available in this version; use a SQLite path");
  }
  return SqliteStore.open(location);
}
