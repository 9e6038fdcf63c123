/**
 * GET /v1/policy: the approval policy in force (the file's rules, or those REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS
 * stand for), how long a pending operation waits, and the approvers' names (never their tokens). Approver token only:
 * the thresholds are no business of the agent, which could otherwise stay just below them.
 */
import type { FastifyInstance } from "fastify";
import { describeDecision, NO_MATCH_RULE } from "../../approvals/policy";
import { effectivePolicy } from "../../policy/decide";
import type { ServiceContext } from "../context";

export function policyRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get("/v1/policy", { onRequest: ctx.approverOnly }, async (_req, reply) => {
    const policy = effectivePolicy(ctx.cosigner.engine.review);
    return reply.code(200).send({
      source: policy.source,
      description: policy.description ?? null,
      timeZone: policy.timeZone,
      ownAddresses: policy.ownAddresses,
      rules: policy.rules.map((r) => ({
        name: r.name,
        description: r.description,
        reversible: r.reversible,
        match: {
          ...r.match,
          ...(r.match.amount ? { amount: { ...r.match.amount, ...(r.match.amount.above !== undefined ? { above: r.match.amount.above.toString() } : {}) } } : {}),
        },
        decide: r.decide,
        summary: describeDecision(r.decide),
      })),
      noMatch: { name: NO_MATCH_RULE.name, decide: NO_MATCH_RULE.decide, summary: describeDecision(NO_MATCH_RULE.decide) },
      pendingTtlSeconds: ctx.config.PENDING_TTL_SECONDS,
    });
  });
}
