import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store";
import { storeContract } from "./contract";

storeContract("SQLite (file)", async () => SqliteStore.open(join(mkdtempSync(join(tmpdir(), "cs-store-")), "store.sqlite")));
storeContract("SQLite (:memory:)", async () => SqliteStore.open(":memory:"));
