/**
 * The approver's page and the API it uses. GET /ui serves plain HTML, JS and CSS from src/ui (nothing to build);
 * GET /v1/approvals lists pending operations (newest first) or the history, each with what a person needs to decide:
 * the intent, the simulated changes, the rule that asked and why, the budget left after it, the approvals so far and
 * the time left, plus the names, symbols and decimals of the deployment's addresses. Approving and rejecting are the
 * POST /v1/operations/:id/approve and /reject routes. Approver token only; the page keeps it in sessionStorage.
 */
import type { FastifyInstance } from "fastify";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeFunctionResult, encodeFunctionData, getAddress, parseAbi, type Address, type Hex } from "viem";
import type { SimulationView } from "../../api/decision";
import type { ApprovalStatus } from "../../services/approvals";
import { parse } from "../parse";
import { approvalsQuerySchema } from "../schemas";
import { readWalletView } from "../wallet-view";
import type { ServiceContext } from "../context";

/** The page's files, read once at start (src/ui). */
const UI_DIR = join(__dirname, "..", "..", "ui");
const FILES: Record<string, { file: string; type: string }> = {
  "/ui": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** No inline script or style, nothing from elsewhere, no framing. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const erc20 = parseAbi(["function decimals() view returns (uint8)", "function symbol() view returns (string)"]);

export function uiRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const files = new Map(Object.entries(FILES).map(([route, f]) => [route, { body: readFileSync(join(UI_DIR, f.file), "utf8"), type: f.type }]));
  for (const [route, f] of files) {
    app.get(route, async (_req, reply) =>
      reply
        .code(200)
        .header("content-type", f.type)
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store")
        .send(f.body),
    );
  }
  app.get("/ui/", async (_req, reply) => reply.redirect("/ui"));

  const assets = new Map<string, { symbol: string; decimals: number }>();

  /** Symbol and decimals of a token (read once on the fork), "ETH"/18 for native. */
  async function assetInfo(asset: string): Promise<{ symbol: string; decimals: number } | undefined> {
    if (asset === "native") return { symbol: "ETH", decimals: 18 };
    if (!/^0x[0-9a-fA-F]{40}$/.test(asset)) return undefined;
    const token = getAddress(asset);
    const known = assets.get(token);
    if (known) return known;
    try {
      const read = async (functionName: "decimals" | "symbol") =>
        ctx.cosigner.fork.run(async (rpc) => {
          const raw = await rpc<Hex>("eth_call", [{ to: token, data: encodeFunctionData({ abi: erc20, functionName }) }, "latest"]);
          return decodeFunctionResult({ abi: erc20, functionName, data: raw });
        });
      const info = { decimals: Number(await read("decimals")), symbol: String(await read("symbol")) };
      assets.set(token, info);
      return info;
    } catch {
      return undefined;
    }
  }

  /** Names of the deployment's addresses: the wallet, recipients by name, tokens by symbol, roles, the DEX. */
  function deploymentNames(): Record<string, string> {
    const d = ctx.deployment as (Record<string, unknown> & { wallet?: string }) | undefined;
    const names: Record<string, string> = {};
    const add = (a: unknown, name: string) => {
      if (typeof a === "string" && /^0x[0-9a-fA-F]{40}$/.test(a)) names[getAddress(a)] ??= name;
    };
    if (!d) return names;
    add(d.wallet, "wallet");
    for (const [name, a] of Object.entries((d.recipients as Record<string, string> | undefined) ?? {})) add(a, name);
    for (const [symbol, a] of Object.entries((d.tokens as Record<string, string> | undefined) ?? {})) add(a, symbol);
    for (const [role, a] of Object.entries((d.roles as Record<string, string> | undefined) ?? {})) add(a, role);
    add(d.dex, "dex");
    return names;
  }

  app.get("/v1/approvals", { onRequest: ctx.approverOnly }, async (req, reply) => {
    const query = parse(approvalsQuerySchema, req.query ?? {});
    const chainId = ctx.cosigner.fork.chainId;
    const statuses = query.view === "pending" ? await ctx.approvals.pending(chainId, query.limit) : await ctx.approvals.history(chainId, query.limit);
    // Budgets available now, per wallet, for "budget left after it" (pending only).
    const budgets = new Map<string, Map<string, bigint>>();
    if (query.view === "pending") {
      for (const wallet of new Set(statuses.map((s) => getAddress(s.decision.wallet)))) {
        try {
          const view = await readWalletView(ctx.cosigner.fork, wallet as Address, ctx.cosigner.key.address, ctx.cosigner.served);
          budgets.set(wallet, new Map(view.budgets.map((b) => [b.token === "native" ? "native" : getAddress(b.token), BigInt(b.available)])));
        } catch {
          // The fork is busy or the upstream down: the page shows the rest.
        }
      }
    }
    const items = await Promise.all(statuses.map((s) => item(s, budgets.get(getAddress(s.decision.wallet)))));
    const assetList = new Set<string>();
    for (const i of items) for (const c of i.simulation?.changes ?? []) assetList.add(c.asset);
    for (const t of Object.values((ctx.deployment?.tokens as Record<string, string> | undefined) ?? {})) assetList.add(t);
    const assetInfos: Record<string, { symbol: string; decimals: number }> = {};
    for (const a of assetList) {
      const info = await assetInfo(a);
      if (info) assetInfos[a === "native" ? "native" : getAddress(a)] = info;
    }
    return reply.code(200).send({
      approver: ctx.approverOf(req)?.name ?? null,
      now: new Date().toISOString(),
      view: query.view,
      names: deploymentNames(),
      assets: assetInfos,
      items,
    });
  });

  async function item(s: ApprovalStatus, available: Map<string, bigint> | undefined) {
    const d = s.decision;
    const intent = (d.request as { intent?: Record<string, unknown> } | null)?.intent ?? null;
    const simulation = d.simulation as SimulationView | null;
    const wallet = getAddress(d.wallet);
    const budget: { asset: string; available: string; outflow: string; after: string }[] = [];
    if (available && simulation) {
      for (const c of simulation.changes) {
        if (getAddress(c.account) !== wallet || BigInt(c.delta) >= 0n) continue;
        const asset = c.asset === "native" ? "native" : /^0x[0-9a-fA-F]{40}$/.test(c.asset) ? getAddress(c.asset) : c.asset;
        const now = available.get(asset);
        if (now === undefined) continue;
        const outflow = -BigInt(c.delta);
        budget.push({ asset, available: now.toString(), outflow: outflow.toString(), after: (now - outflow).toString() });
      }
    }
    const executions = s.state === "approved" ? await ctx.cosigner.store.executionsOfDecision(d.id) : [];
    const executed = executions.at(-1);
    return {
      id: d.id,
      state: s.state,
      status: d.status,
      digest: d.digest,
      wallet,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
      expiresAt: s.expiresAt,
      intent,
      memo: typeof intent?.memo === "string" ? intent.memo : null,
      simulation,
      reasons: d.reasons,
      rule: { name: s.rule, description: s.description, reversible: s.reversible, approvalsRequired: s.approvalsRequired },
      approvals: s.approvals,
      decidedBy: d.decidedBy,
      budget,
      execution: executed ? { txHash: executed.txHash, blockNumber: executed.blockNumber.toString() } : d.txHash ? { txHash: d.txHash } : null,
    };
  }
}
