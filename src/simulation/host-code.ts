/**
 * The EVM host's TypeScript, compiled once by the process that starts hosts rather than by every host.
 *
 * Under ts-node (`npm start`, the tests, the benchmarks) a host started with ts-node of its own spent ~1.3 s of CPU
 * compiling before it could answer (loading TypeScript, then its 15 modules), of ~1.6 s in all; the fork replaces its
 * host every few thousand decisions, so that was paid again and again on a machine that serves decisions meanwhile.
 * Here the starting process compiles the host's modules once with its own ts-node (the same output ts-node would give
 * the host) into a file only its user can read, and each host loads them from it (host-preload.js) with plain node.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** What ts-node puts on `process` (its REGISTER_INSTANCE): its compiler, when this process runs under it. */
interface TsNodeService {
  compile(code: string, fileName: string): string;
}

/** Requires of relative paths in compiled CommonJS: the modules a module loads from the project. */
const RELATIVE_REQUIRE = /\brequire\("(\.{1,2}\/[^"]+)"\)/g;

let written: string | undefined;

/** The running ts-node's compiler, if this process runs under ts-node. */
function tsNode(): TsNodeService | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { REGISTER_INSTANCE } = require("ts-node") as { REGISTER_INSTANCE: symbol };
    return (process as unknown as Record<symbol, TsNodeService | undefined>)[REGISTER_INSTANCE];
  } catch {
    return undefined;
  }
}

/** The TypeScript file `specifier` names from `from`, or undefined for anything else (JavaScript, JSON). */
function typescriptFile(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, "index.ts"), base].find((f) => f.endsWith(".ts") && existsSync(f));
}

/**
 * Compiles `entry` and every TypeScript module it loads, and writes them (absolute path → JavaScript) to a file:
 * its path, or undefined when this process does not run under ts-node (the host is then started with ts-node of its
 * own). Done once a process; the file is removed when the process exits.
 */
export function compiledHostCode(entry: string): string | undefined {
  if (written !== undefined && existsSync(written)) return written;
  const service = tsNode();
  if (!service) return undefined;
  const code: Record<string, string> = {};
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (code[file] !== undefined) continue;
    const js = service.compile(readFileSync(file, "utf8"), file);
    code[file] = js;
    for (const [, specifier] of js.matchAll(RELATIVE_REQUIRE)) {
      const dependency = typescriptFile(file, specifier!);
      if (dependency !== undefined && code[dependency] === undefined) queue.push(dependency);
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "countersign-host-"));
  const target = path.join(dir, "code.json");
  writeFileSync(target, JSON.stringify(code), { mode: 0o600 });
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  written = target;
  return target;
}
