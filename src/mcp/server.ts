/**
 * The MCP server: Countersign's agent SDK as five tools an LLM agent calls over stdio. It holds only the session
 * key (inside the CosignerClient); every decision is the co-signer's, a person's, or the wallet's. stdout is the
 * protocol: the logs go to stderr, one line per tool call with the decision id and digest, never a key or password.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import pino, { type Logger } from "pino";
import { createPublicClient, getAddress, http, isAddress, type Address, type PublicClient } from "viem";
import { CosignerClient } from "../client";
import { createLogger } from "../logger";
import { AssetBook, type DeploymentNames } from "./assets";
import { loadMcpConfig, loadSessionKey, type McpConfig } from "./config";
import { getDecisionInput, proposeCallInput, proposeSwapInput, proposeTransferInput, SERVER_INSTRUCTIONS, TOOL_DESCRIPTIONS, walletStatusInput } from "./schemas";
import { CountersignTools } from "./tools";

/** The server's name and version as it introduces itself to an MCP client. */
export const SERVER_INFO = { name: "countersign", version: "0.1.0" } as const;

export interface McpServerOptions {
  client: CosignerClient;
  publicClient: PublicClient;
  /** The co-signer's base URL: its GET /v1/deployment names recipients, tokens and the DEX. */
  cosignerUrl: string;
  /** The DEX for swaps; default the deployment record's `dex`. */
  dex?: Address;
  logger: Logger;
}

/**
 * Builds the MCP server with the five tools (not connected to a transport).
 * @example const server = createCountersignServer({ client, publicClient, cosignerUrl, logger }); await server.connect(new StdioServerTransport())
 */
export function createCountersignServer(options: McpServerOptions): McpServer {
  const { client, logger } = options;
  const names = deploymentNames(options.cosignerUrl);
  const book = new AssetBook(options.publicClient, async () => {
    const [wallet, deployment] = await Promise.all([client.getWallet(), names()]);
    const budgeted = wallet.budgets.map((b) => b.token).filter((t): t is Address => t !== "native");
    const listed = Object.values(deployment.tokens ?? {}).filter((t) => isAddress(t)).map((t) => getAddress(t));
    return [...budgeted, ...listed];
  });
  const withNames = async () => book.addNames(await names());
  const tools = new CountersignTools({
    client,
    book,
    dex: async () => {
      if (options.dex) return options.dex;
      const d = (await names()).dex;
      return d && isAddress(d) ? getAddress(d) : undefined;
    },
  });

  const server = new McpServer(SERVER_INFO, { instructions: SERVER_INSTRUCTIONS });
  /** Runs a handler with the names loaded and logs one line per call: the outcome, decision id, digest, tx, codes. */
  const run =
    <A>(tool: string, handler: (args: A) => Promise<CallToolResult>) =>
    async (args: A): Promise<CallToolResult> => {
      try {
        await withNames();
        const result = await handler(args);
        const s = (result.structuredContent ?? {}) as Record<string, unknown>;
        const codes = Array.isArray(s.reasons) ? (s.reasons as { code: string }[]).map((r) => r.code) : undefined;
        const tx = s.transaction as { hash?: string } | undefined;
        logger.info({ tool, outcome: s.outcome, decisionId: s.decisionId, digest: s.digest, txHash: tx?.hash, codes }, "tool call");
        return result;
      } catch (err) {
        logger.warn({ tool, error: err instanceof Error ? err.message : String(err) }, "tool error");
        throw err;
      }
    };
  const openWorld = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };
  server.registerTool(
    "wallet_status",
    { title: "Wallet status", description: TOOL_DESCRIPTIONS.wallet_status, inputSchema: walletStatusInput, annotations: { readOnlyHint: true, openWorldHint: true } },
    run("wallet_status", () => tools.walletStatus()),
  );
  server.registerTool(
    "propose_transfer",
    { title: "Propose a payment", description: TOOL_DESCRIPTIONS.propose_transfer, inputSchema: proposeTransferInput, annotations: openWorld },
    run("propose_transfer", (args) => tools.proposeTransfer(args)),
  );
  server.registerTool(
    "propose_swap",
    { title: "Propose a swap", description: TOOL_DESCRIPTIONS.propose_swap, inputSchema: proposeSwapInput, annotations: openWorld },
    run("propose_swap", (args) => tools.proposeSwap(args)),
  );
  server.registerTool(
    "propose_call",
    { title: "Propose contract calls", description: TOOL_DESCRIPTIONS.propose_call, inputSchema: proposeCallInput, annotations: openWorld },
    run("propose_call", (args) => tools.proposeCall(args)),
  );
  server.registerTool(
    "get_decision",
    { title: "Get a decision", description: TOOL_DESCRIPTIONS.get_decision, inputSchema: getDecisionInput, annotations: openWorld },
    run("get_decision", (args) => tools.getDecision(args)),
  );
  return server;
}

/**
 * The co-signer's deployment record (GET /v1/deployment), fetched once it answers; {} while it does not (a service
 * started without one answers 404). Names are labels for the model, never authority.
 */
function deploymentNames(cosignerUrl: string): () => Promise<DeploymentNames> {
  let known: DeploymentNames | undefined;
  return async () => {
    if (known) return known;
    try {
      const res = await fetch(`${cosignerUrl.replace(/\/+$/, "")}/v1/deployment`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 404) return (known = {});
      if (res.status !== 200) return {};
      const body = (await res.json()) as Record<string, unknown>;
      const record = (v: unknown) => (typeof v === "object" && v !== null ? (v as Record<string, string>) : undefined);
      known = {
        wallet: typeof body.wallet === "string" ? body.wallet : undefined,
        tokens: record(body.tokens),
        recipients: record(body.recipients),
        dex: typeof body.dex === "string" ? body.dex : undefined,
      };
      return known;
    } catch {
      return {};
    }
  };
}

/**
 * Starts the server over stdio from the environment (`npm run mcp`, `countersign-mcp`); resolves once connected.
 * @example await main(process.env)
 */
export async function main(env: Record<string, string | undefined> = process.env): Promise<{ server: McpServer; config: McpConfig }> {
  const config = loadMcpConfig(env);
  const logger = createLogger(config.LOG_LEVEL, pino.destination(2)).child({ component: "mcp" });
  const sessionKey = await loadSessionKey(config);
  const publicClient = createPublicClient({ transport: http(config.RPC_URL) }) as PublicClient;
  const client = new CosignerClient({ cosignerUrl: config.COSIGNER_URL, publicClient, rpcUrl: config.RPC_URL, sessionKey, wallet: config.WALLET });
  const server = createCountersignServer({ client, publicClient, cosignerUrl: config.COSIGNER_URL, dex: config.DEX, logger });
  await server.connect(new StdioServerTransport());
  // The client closed our stdin: nothing more can arrive, so stop (an MCP client may not signal otherwise).
  process.stdin.once("end", () => void server.close().finally(() => process.exit(0)));
  logger.info({ wallet: config.WALLET, cosignerUrl: config.COSIGNER_URL, rpcUrl: config.RPC_URL, sessionKey: sessionKey.address }, "countersign MCP server on stdio");
  return { server, config };
}
