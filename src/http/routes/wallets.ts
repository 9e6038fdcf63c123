/**
 * GET /v1/wallets/:address (what an agent needs to plan) and POST /v1/wallets/:address/pause (an operator trips
 * the breaker: pause() on chain with the guardian key, the wallet flagged so that later operations go to a person,
 * an audit record). POST /v1/wallets/:address/anomaly/clear lifts the flag once people have looked.
 */
import type { FastifyInstance } from "fastify";
import { parse } from "../parse";
import { pauseRequestSchema, walletParamsSchema } from "../schemas";
import type { ServiceContext } from "../context";
import { readWalletView } from "../wallet-view";

export function walletRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { cosigner, breaker, approverOnly } = ctx;

  app.get("/v1/wallets/:address", async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    return readWalletView(cosigner.fork, address, cosigner.key.address, cosigner.served);
  });

  app.post("/v1/wallets/:address/pause", { onRequest: approverOnly }, async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    const body = parse(pauseRequestSchema, req.body ?? {});
    const operator = body.operator ?? "operator";
    return breaker.pause(address, { source: "api", operator, reason: body.reason ?? `paused by ${operator} through the API` });
  });

  app.post("/v1/wallets/:address/anomaly/clear", { onRequest: approverOnly }, async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    const body = parse(pauseRequestSchema, req.body ?? {});
    return breaker.clear(address, body.operator ?? "operator");
  });
}
