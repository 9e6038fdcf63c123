/**
 * What the route modules share: the co-signer, the services they call, the limits, and the one check of the approver
 * (operator) token. Routes import this module, never the server.
 */
import type { FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Address } from "viem";
import type { Config } from "../config";
import type { Cosigner } from "../cosigner";
import type { Guardian } from "../monitor/guardian";
import type { Approvals } from "../services/approvals";
import type { Breaker } from "../services/breaker";
import { bearerMatches } from "./auth";
import { HttpError } from "./errors";
import type { ServiceMetrics } from "./metrics";
import type { RateLimiter } from "./rate-limit";

/** A deployment record: where the contracts the service serves live (deployments/<network>.json). */
export type DeploymentInfo = { chainId: number; wallet: Address } & Record<string, unknown>;

export interface ServiceContext {
  cosigner: Cosigner;
  config: Config;
  logger: Logger;
  metrics: ServiceMetrics;
  breaker: Breaker;
  /** The breaker's guardian key, if one is configured. */
  guardian: Guardian | null;
  approvals: Approvals;
  deployment?: DeploymentInfo;
  signerLimiter: RateLimiter;
  /** Proposals per wallet, counted once the signer is verified as one of its session keys. */
  walletLimiter: RateLimiter;
  /** An onRequest hook: 401 unless the request carries the approver (operator) token. */
  approverOnly(req: FastifyRequest): Promise<void>;
  /** Whether the request carries the approver (operator) token. */
  isApprover(req: FastifyRequest): boolean;
}

/**
 * The approver-token checks of a configuration: one hook that refuses, one test that tells.
 * @example app.post("/v1/audit", { onRequest: approverOnly }, handler)
 */
export function approverChecks(config: Config): Pick<ServiceContext, "approverOnly" | "isApprover"> {
  const isApprover = (req: FastifyRequest) => config.APPROVER_TOKEN !== undefined && bearerMatches(req.headers.authorization, config.APPROVER_TOKEN);
  return {
    isApprover,
    async approverOnly(req) {
      if (!config.APPROVER_TOKEN) {
        throw new HttpError(401, "UNAUTHORIZED", "approvals, the audit log and the breaker are disabled: no APPROVER_TOKEN is configured");
      }
      if (!isApprover(req)) {
        throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required: Authorization: Bearer <APPROVER_TOKEN>");
      }
    },
  };
}
