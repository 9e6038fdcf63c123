/**
 * An MCP client of `countersign-mcp` in a child process over a real stdio transport: how the demo's agent
 * (`npm run demo -- --mcp`) and the tests reach the tool server, exactly as an MCP host would.
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** The server's executable (the package's `bin`). */
export const MCP_BIN = join(__dirname, "bin.js");

/** A connected client and the server process's stderr (its logs). */
export interface McpConnection {
  client: Client;
  /** Calls a tool and returns its result (a refusal and a bad argument are results too; see `isError`). */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Stops the server process. */
  close(): Promise<void>;
}

/**
 * Spawns the server with `env` (COSIGNER_URL, RPC_URL, WALLET, the session key…) and connects to it over stdio.
 * `onStderr` receives the server's log output (stdout is the protocol).
 * @example const mcp = await connectMcp({ COSIGNER_URL, RPC_URL, WALLET, SESSION_KEY_PRIVATE_KEY }); await mcp.call("wallet_status", {})
 */
export async function connectMcp(env: Record<string, string>, onStderr: (chunk: string) => void = () => {}): Promise<McpConnection> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [MCP_BIN], env, stderr: "pipe" });
  transport.stderr?.on("data", (chunk: Buffer) => onStderr(chunk.toString("utf8")));
  const client = new Client({ name: "countersign-agent", version: "0.1.0" });
  await client.connect(transport);
  return {
    client,
    call: async (name, args) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult,
    close: () => client.close(),
  };
}
