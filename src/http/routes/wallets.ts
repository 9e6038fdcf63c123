/**
 * GET /v1/wallets/:address (what an agent needs to plan) and POST /v1/wallets/:address/pause (an operator trips
 * the breaker: pause() on chain with the guardian key, the wallet flagged so that later operations go to a person,
 * an audit record). POST /v1/wallets/:address/anomaly/clear lifts the flag once people have looked.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "../errors";
import { parse } from "../parse";
import { pauseRequestSchema, walletParamsSchema } from "../schemas";
import type { ServiceContext } from "../server";
import { readWalletView } from "../wallet-view";

export function walletRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { cosigner, metrics, guardian, logger } = ctx;
  const authenticate = async (req: FastifyRequest) => ctx.requireToken(req);

  app.get("/v1/wallets/:address", async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    return readWalletView(cosigner.fork, address, cosigner.key.address, cosigner.served);
  });

  app.post("/v1/wallets/:address/pause", { onRequest: authenticate }, async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    const body = parse(pauseRequestSchema, req.body ?? {});
    if (!guardian) {
      throw new HttpError(503, "GUARDIAN_UNAVAILABLE", "no guardian key is configured (GUARDIAN_KEYSTORE_PATH or GUARDIAN_PRIVATE_KEY)");
    }
    const view = await readWalletView(cosigner.fork, address, cosigner.key.address, cosigner.served);
    if (!view.guardians.includes(guardian.address)) {
      throw new HttpError(422, "NOT_A_GUARDIAN", `this service's guardian ${guardian.address} is not a guardian of ${address}`, {
        guardian: guardian.address,
        guardians: view.guardians,
      });
    }
    const operator = body.operator ?? "operator";
    const reason = body.reason ?? `paused by ${operator} through the API`;
    // Always sent, even if the fork says paused: the fork may be a block behind an unpause.
    const result = await guardian.pause(address);
    const chainId = cosigner.fork.chainId;
    const evidence = { source: "api", operator, guardian: guardian.address, txHash: result.txHash, status: result.status };
    cosigner.store.flagAnomaly(chainId, address, reason, evidence);
    const record = cosigner.store.appendAudit("breaker.pause", address, {
      chainId,
      wallet: address,
      reason,
      ...evidence,
      blockNumber: result.blockNumber,
    });
    metrics.breakerTrips.inc();
    logger.warn({ wallet: address, txHash: result.txHash, operator, reason, auditSeq: record.seq }, "breaker: wallet paused");
    return {
      wallet: address,
      paused: true,
      txHash: result.txHash,
      status: result.status,
      ...(result.blockNumber !== undefined ? { blockNumber: result.blockNumber.toString() } : {}),
      guardian: guardian.address,
      auditSeq: record.seq,
    };
  });

  app.post("/v1/wallets/:address/anomaly/clear", { onRequest: authenticate }, async (req) => {
    const { address } = parse(walletParamsSchema, req.params);
    const body = parse(pauseRequestSchema, req.body ?? {});
    const chainId = cosigner.fork.chainId;
    const before = cosigner.store.activeAnomaly(chainId, address);
    const operator = body.operator ?? "operator";
    cosigner.store.clearAnomaly(chainId, address, operator);
    logger.info({ wallet: address, operator, was: before ?? null }, "anomaly flag cleared");
    return { wallet: address, cleared: before !== undefined, anomaly: before ?? null };
  });
}
