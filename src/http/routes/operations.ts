/**
 * POST /v1/operations (propose), GET /v1/operations/:id, POST /v1/operations/:id/approve and /reject.
 * Decision statuses map to 200 approved, 202 pending_approval, 422 rejected; refusals map through their code.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Hex } from "viem";
import type { Decision } from "../../api";
import { CountersignError } from "../../errors";
import { HttpError } from "../errors";
import { parse } from "../parse";
import { READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readSigner } from "../read-auth";
import { approvalRequestSchema, operationParamsSchema } from "../schemas";
import type { ServiceContext } from "../context";

const STATUS: Record<Decision["status"], number> = { approved: 200, pending_approval: 202, rejected: 422 };

export function operationRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { cosigner, metrics, signerLimiter, walletLimiter, config } = ctx;

  /** Takes one operation from `limiter` for `key`, or refuses with 429 RATE_LIMITED naming the scope. */
  function limit(limiter: typeof signerLimiter, scope: "signer" | "wallet", key: string, perMinute: number, what: string): void {
    const take = limiter.take(key);
    if (!take.ok) {
      metrics.rateLimited.inc({ scope });
      throw new HttpError(
        429,
        "RATE_LIMITED",
        `${what} at most ${perMinute} operations per minute`,
        { scope, [scope]: key, retryAfterSeconds: take.retryAfterSeconds },
        { "retry-after": String(take.retryAfterSeconds) },
      );
    }
  }

  /**
   * Limits per agent signer. The engine calls it once it has validated the body and recovered the signature (the
   * session key is known only then), so neither is done twice.
   */
  const limitBySigner = (signer: string) =>
    limit(signerLimiter, "signer", signer, config.RATE_LIMIT_PER_MINUTE, `session key ${signer} may propose`);

  /**
   * Limits per wallet. The engine calls it once the signer is verified as an active session key of the wallet, so
   * a stranger's requests (refused after one small read) never use up the wallet's allowance.
   */
  const limitByWallet = (wallet: string) =>
    limit(walletLimiter, "wallet", wallet, config.RATE_LIMIT_PER_WALLET_PER_MINUTE, `wallet ${wallet} may be sent`);

  const send = (reply: FastifyReply, decision: Decision) => reply.code(STATUS[decision.status]).send(decision);

  /**
   * The decision with what GET /v1/operations/:id adds (operationViewSchema): the intent and its memo, who decided
   * it, and, once the monitor recorded it, the execution (transaction, block, actual changes, matchesSimulation).
   */
  async function operationView(decision: Decision): Promise<Decision> {
    const [stored, executions] = await Promise.all([cosigner.store.get(decision.id), cosigner.store.executionsOfDecision(decision.id)]);
    const intent = (stored?.request as { intent?: Record<string, unknown> } | undefined)?.intent;
    const executed = executions.at(-1);
    return {
      ...decision,
      ...(intent ? { intent, memo: typeof intent.memo === "string" ? intent.memo : null } : {}),
      decidedBy: stored?.decidedBy ?? null,
      ...(executed
        ? {
            execution: {
              txHash: executed.txHash as Hex,
              blockNumber: executed.blockNumber.toString(),
              changes: executed.changes,
              matchesSimulation: executed.matchesSimulation === true,
              relayer: executed.relayer,
              gasUsed: executed.gasUsed,
            },
          }
        : {}),
    };
  }

  app.post("/v1/operations", async (req, reply) => {
    const started = performance.now();
    // Validation and the signature's recovery wait for the end of this turn's I/O: an answer of the fork's EVM
    // arriving with a burst of requests then starts the next simulation before their checks run, not after them.
    await new Promise((resolve) => setImmediate(resolve));
    const decision = await cosigner.engine.propose(req.body, { admit: limitBySigner, admitAuthenticated: limitByWallet });
    metrics.decided(decision, (performance.now() - started) / 1000, "propose");
    return send(reply, decision);
  });

  /**
   * A decision (and its co-signature) is shown to the approver token, or to a read signed by the session key that
   * proposed it (src/http/read-auth.ts); to anyone else 401, before the id is looked up.
   */
  app.get("/v1/operations/:id", async (req, reply) => {
    const { id } = parse(operationParamsSchema, req.params);
    if (ctx.isApprover(req)) {
      const decision = await cosigner.engine.get(id);
      if (!decision) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
      return reply.code(200).send(await operationView(decision));
    }
    if (req.headers.authorization !== undefined && req.headers[READ_SIGNATURE_HEADER] === undefined) {
      throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required: Authorization: Bearer <APPROVER_TOKEN>");
    }
    const read = await readSigner(id, req.headers[READ_SIGNATURE_HEADER], req.headers[READ_TIMESTAMP_HEADER], Math.floor(Date.now() / 1000));
    if (!read.ok) {
      throw new HttpError(
        401,
        "UNAUTHORIZED",
        `reading a decision needs the approver token or a read signed by its session key (${READ_SIGNATURE_HEADER}, ${READ_TIMESTAMP_HEADER}): ${read.problem}`,
      );
    }
    const proposer = await cosigner.engine.proposer(id);
    if (!proposer) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
    if (proposer !== read.signer) throw new HttpError(401, "UNAUTHORIZED", `${read.signer} did not propose decision ${id}`);
    const decision = await cosigner.engine.get(id);
    if (!decision) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
    return reply.code(200).send(await operationView(decision));
  });

  app.post("/v1/operations/:id/approve", { onRequest: ctx.approverOnly }, async (req, reply) => {
    const { id } = parse(operationParamsSchema, req.params);
    const body = parse(approvalRequestSchema, req.body ?? {});
    // Who approves is who the token says; the body's `approver` is only a label kept beside the name.
    const approver = ctx.approverOf(req);
    if (!approver) throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required");
    return reply.code(200).send(await ctx.approvals.approve(id, approver, body.approver));
  });

  app.post("/v1/operations/:id/reject", { onRequest: ctx.approverOnly }, async (req, reply) => {
    const { id } = parse(operationParamsSchema, req.params);
    const body = parse(approvalRequestSchema, req.body ?? {});
    const approver = ctx.approverOf(req);
    if (!approver) throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required");
    return reply.code(200).send(await ctx.approvals.reject(id, approver, body.note, body.approver));
  });
}
