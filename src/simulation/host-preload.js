/**
 * Preloaded into an EVM host (node -r) started from TypeScript: its TypeScript modules run from the code the starting
 * process compiled (host-code.ts; COUNTERSIGN_HOST_CODE names the file: absolute path → JavaScript) instead of being
 * compiled again here. A TypeScript module not in it fails to load, loudly: the host then fails to start, and no
 * simulation runs on code other than the starting process's.
 */
const { readFileSync } = require("node:fs");

const code = JSON.parse(readFileSync(process.env.COUNTERSIGN_HOST_CODE, "utf8"));
require.extensions[".ts"] = (module, filename) => {
  const js = code[filename];
  if (js === undefined) throw new Error(`${filename} is not in the EVM host's compiled code (${process.env.COUNTERSIGN_HOST_CODE})`);
  module._compile(js, filename);
};
