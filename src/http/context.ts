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
import type { MonitorStatus } from "../monitor/follower";
import type { Approvals } from "../services/approvals";
import type { Breaker } from "../services/breaker";
import { Approvers, type Approver } from "../approvals/approvers";
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
  /** The chain follower running in this service, if any: its lag makes /healthz unhealthy. */
  monitor?: { status(): MonitorStatus };
  approvals: Approvals;
  deployment?: DeploymentInfo;
  signerLimiter: RateLimiter;
  /** Proposals per wallet, counted once the signer is verified as one of its session keys. */
  walletLimiter: RateLimiter;
  /** An onRequest hook: 401 unless the request carries the approver (operator) token. */
  approverOnly(req: FastifyRequest): Promise<void>;
  /** Whether the request carries the approver (operator) token. */
  isApprover(req: FastifyRequest): boolean;
  /** The named approver whose token the request carries (APPROVERS_FILE, or APPROVER_TOKEN as APPROVER_NAME), if any. */
  approverOf(req: FastifyRequest): Approver | undefined;
}

/**
 * The approver-token checks of a configuration: one hook that refuses, one test that tells, one that names. Every
 * approver of APPROVERS_FILE and the holder of APPROVER_TOKEN pass them.
 * @example app.post("/v1/audit", { onRequest: approverOnly }, handler)
 */
export function approverChecks(config: Config, approvers?: Approvers): Pick<ServiceContext, "approverOnly" | "isApprover" | "approverOf"> {
  const known = approvers ?? Approvers.load({ file: config.APPROVERS_FILE, legacyToken: config.APPROVER_TOKEN, legacyName: config.APPROVER_NAME });
  const approverOf = (req: FastifyRequest) => known.byHeader(req.headers.authorization);
  const isApprover = (req: FastifyRequest) => approverOf(req) !== undefined;
  return {
    isApprover,
    approverOf,
    async approverOnly(req) {
      if (!known.configured) {
        throw new HttpError(401, "UNAUTHORIZED", "approvals, the audit log and the breaker are disabled: no APPROVER_TOKEN or APPROVERS_FILE is configured");
      }
      if (!isApprover(req)) {
        throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required: Authorization: Bearer <APPROVER_TOKEN>");
      }
    },
  };
}
