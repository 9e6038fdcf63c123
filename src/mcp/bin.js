#!/usr/bin/env node
// countersign-mcp (and `npm run mcp`): Countersign's MCP server over stdio, from the TypeScript sources
// (src/mcp/server.ts) through ts-node. stdout carries the protocol only; every message goes to stderr.
"use strict";
const { join } = require("node:path");
require("ts-node").register({ transpileOnly: true, project: join(__dirname, "..", "..", "tsconfig.json") });
require("./server.ts")
  .main(process.env)
  .catch((err) => {
    process.stderr.write(`countersign-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
