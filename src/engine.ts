/**
 * The co-signer engine: validate → authenticate → simulate → compare → decide → sign → record.
 * The HTTP service only wraps it. It fails closed: whatever it cannot simulate, store or verify, it does not sign.
 */
import type { Logger } from "pino";
import { getAddress, type Address, type Hex } from "viem";
import type { Decision, SimulationView } from "./api/decision";
import { approvalStaleness } from "./approvals/binding";
import type { ServedWallets } from "./authenticate/served-wallets";
import { SessionKeys } from "./authenticate/session-key";
import { operationDigest } from "./eip712";
import { CountersignError, type Reason } from "./errors";
import { boundsProblem, unboundedTransferProblem } from "./intent/bounds";
import { parseOperationRequest, type OperationRequest } from "./intent/schema";
import { callGasReasons } from "./policy/call-gas";
import { compareWithIntent } from "./policy/compare";
import { decide, effectivePolicy, payees, type DecisionStatus, type PolicyDecision, type ReviewPolicy } from "./policy/decide";
import { needsFacts } from "./approvals/policy";
import { describeRevert } from "./policy/revert-reasons";
import { Stops } from "./services/breaker";
import { recoverSigner, type CosignerKey } from "./signing/signer";
import type { Fork } from "./simulation/fork";
import { checkControlLayout } from "./simulation/wallet-control";
import type { SimulationResult } from "./simulation/simulate";
import { MAX_STORED_REQUEST_BYTES, requestHash, toJson, UniqueConflict, type Store, type StoredDecision } from "./store";

export type { Decision, SimulationView } from "./api/decision";

export interface EngineOptions {
  fork: Fork;
  store: Store;
  key: CosignerKey;
  review: ReviewPolicy;
  /** Furthest a deadline may be ahead (seconds, default 300). */
  maxTtlSeconds?: number;
  logger?: Logger;
  /** Wall clock (unix seconds); tests may pin it. */
  now?: () => bigint;
  /** How long a pending decision waits for people (seconds, default 900); never past its deadline. */
  pendingTtlSeconds?: number;
  /**
   * The wallets this co-signer serves (configuration, not "any clone"): any other is refused WALLET_NOT_FOUND
   * before anything runs on the fork.
   */
  served: ServedWallets;
  /**
   * AgentWallet implementations this co-signer serves: a served wallet must also be an EIP-1167 clone of one of
   * them (checked once per wallet on the fork). Empty: any clone.
   */
  implementations?: ReadonlySet<Address>;
}

export interface ProposeOptions {
  /** Admission control once the signer is known (e.g. a per-session-key rate limit); throw to refuse. */
  admit?: (signer: Address) => void;
  /**
   * Admission control once the signer is verified as an active session key of the wallet, before the simulation
   * (e.g. a per-wallet rate limit that strangers cannot use up); throw to refuse.
   */
  admitAuthenticated?: (wallet: Address, signer: Address) => void;
}

/**
 * Decides on operations proposed by agents.
 * @example const decision = await engine.propose(JSON.parse(body))
 */
export class CosignerEngine {
  private readonly maxTtl: bigint;
  private readonly now: () => bigint;
  private readonly sessionKeys = new SessionKeys();
  /** The breaker's stops: wallets and keys being paused or revoked, refused before the chain shows it. */
  readonly stops = new Stops();
  /** Told which rule of the approval policy decided each new decision (each server counts them per rule). */
  readonly policyListeners = new Set<(policy: PolicyDecision | undefined, status: DecisionStatus) => void>();

  constructor(private readonly options: EngineOptions) {
    this.maxTtl = BigInt(options.maxTtlSeconds ?? 300);
    this.now = options.now ?? (() => BigInt(Math.floor(Date.now() / 1000)));
  }

  get chainId(): number {
    return this.options.fork.chainId;
  }

  get cosigner(): Address {
    return this.options.key.address;
  }

  /** The review policy (the approval policy's rules) this engine decides with. */
  get review(): ReviewPolicy {
    return this.options.review;
  }

  /** The wallets this co-signer serves. */
  get served(): ServedWallets {
    return this.options.served;
  }

  /**
   * Proposes an operation. Returns a decision (approved with a co-signature, rejected, or pending approval), or
   * throws a CountersignError when the request cannot be decided (invalid, unauthenticated, conflicting, or the
   * fork, upstream or store is unavailable).
   */
  async propose(input: unknown, options: ProposeOptions = {}): Promise<Decision> {
    const started = performance.now();
    const req = parseOperationRequest(input);
    const { store, key } = this.options;
    if (req.chainId !== this.chainId) {
      throw new CountersignError("CHAIN_MISMATCH", `this co-signer serves chain ${this.chainId}, not ${req.chainId}`);
    }
    // Served wallets only, and nothing larger than what is stored: both known before anything is looked up or run.
    this.options.served.check(req.wallet, this.chainId);
    const json = toJson(req);
    const size = json.length;
    if (size > MAX_STORED_REQUEST_BYTES) {
      throw new CountersignError("INVALID_REQUEST", `the request is ${size} bytes once parsed; at most ${MAX_STORED_REQUEST_BYTES} are decided and kept`, {
        bytes: size,
        limit: MAX_STORED_REQUEST_BYTES,
      });
    }
    const digest = operationDigest(req.chainId, req.wallet, req);
    const bodyHash = requestHash(json);
    // Authenticate the signature before anything is looked up: a stored decision (and its co-signature) is shown
    // only to the session key that proposed it.
    const signer = recoverSessionKey(digest, req.agentSignature);
    options.admit?.(signer);
    // The outcome the wallet will enforce must be the one the intent derives: nothing else is worth simulating.
    const problem = boundsProblem(req.bounds, req.intent, req.wallet, req.calls);
    if (problem) throw new CountersignError("BOUNDS_MISMATCH", problem);
    if (req.idempotencyKey) {
      const prior = await store.findByIdempotencyKey(req.idempotencyKey);
      if (prior && prior.requestHash === bodyHash && prior.sessionKey === signer) return toDecision(prior);
      if (prior) {
        throw new CountersignError("IDEMPOTENCY_CONFLICT", `idempotency key ${req.idempotencyKey} was used with another request`, conflictDetails(prior, signer));
      }
    }
    const same = await store.findByDigest(req.chainId, req.wallet, digest);
    if (same) {
      if (same.sessionKey !== signer) throw new CountersignError("UNKNOWN_SESSION_KEY", `${signer} did not propose this operation`);
      if (same.status === "approved") this.checkStops(req.wallet, signer, this.options.fork.head.number);
      return toDecision(same);
    }
    const live = await store.findLiveByNonce(req.chainId, req.wallet, req.nonce.toString());
    if (live) {
      throw new CountersignError("NONCE_CONFLICT", `nonce ${req.nonce} of ${req.wallet} was already decided for another operation`, conflictDetails(live, signer));
    }
    this.checkDeadline(req);
    this.checkStops(req.wallet, signer, this.options.fork.head.number);
    // Signed now, outside the fork's lock; used by the simulation and returned only if the decision is "approved".
    const cosignature = key.sign(digest);
    const attempt = await this.simulate(req, signer, cosignature, options.admitAuthenticated);
    // Only refusals of a key the wallet confirmed as an active session key are evidence worth keeping; anything
    // earlier can be produced at will with random signatures and would only fill the log.
    if (!attempt.ok) {
      if (attempt.keyVerified) await this.recordRefusal(req, digest, attempt.refusal, signer);
      throw attempt.refusal;
    }
    const { sim } = attempt;
    try {
      // A trip while this ran on a state before the breaker's transaction: refused all the same.
      this.checkStops(req.wallet, signer, sim.blockNumber - 1n);
      const reasons = judge(req, sim);
      const recipients = payees(req.intent, req.wallet, sim.changes);
      const known = await Promise.all(recipients.map((r) => store.isRecipientKnown(req.chainId, req.wallet, r)));
      // The wallet's owner, allowlist and budgets, read only when a rule of the approval policy needs them.
      const review = this.options.review;
      const facts = reasons.length === 0 && needsFacts(effectivePolicy(review)) ? await review.walletFacts?.(req.wallet) : undefined;
      const outcome = decide(
        {
          reasons,
          intent: req.intent,
          wallet: req.wallet,
          changes: sim.changes,
          grossOutflow: sim.grossOutflow,
          newRecipients: recipients.filter((_r, i) => !known[i]),
          anomaly: await store.activeAnomaly(req.chainId, req.wallet),
          facts,
        },
        this.options.review,
      );
      const stored = await this.record({ req, digest, bodyHash, sessionKey: signer, outcome, simulation: toSimulationView(sim), cosignature, recipients });
      // A trip that landed during the awaits above: the decision stays recorded, its signature is not handed out.
      if (stored.status === "approved") this.checkStops(req.wallet, signer, sim.blockNumber - 1n);
      for (const listen of this.policyListeners) listen(outcome.policy, outcome.status);
      this.log(stored, started);
      return toDecision(stored);
    } catch (err) {
      if (err instanceof CountersignError && !err.details.by) await this.recordRefusal(req, digest, err, signer);
      throw err;
    }
  }

  /**
   * A person approves a pending decision: the operation is simulated again at the current head and signed only if
   * it still matches its intent and its figures are no worse for the wallet than those the person saw (and pay no
   * one the person did not see paid). Otherwise it stays pending with the new figures and APPROVAL_STALE, for the
   * person to look again.
   */
  async approve(id: string, approver: string): Promise<Decision> {
    const started = performance.now();
    const pending = await this.pending(id);
    const req = parseOperationRequest(pending.request);
    const digest = pending.digest as Hex;
    let status: DecisionStatus = "rejected";
    let reasons: Reason[];
    let simulation: SimulationView | null = null;
    let signature: Hex | null = null;
    try {
      this.checkDeadline(req);
      const sessionKey = recoverSessionKey(digest, req.agentSignature);
      const cosignature = this.options.key.sign(digest);
      this.checkStops(req.wallet, sessionKey, this.options.fork.head.number);
      const attempt = await this.simulate(req, sessionKey, cosignature);
      if (!attempt.ok) throw attempt.refusal;
      const { sim } = attempt;
      this.checkStops(req.wallet, sessionKey, sim.blockNumber - 1n);
      reasons = judge(req, sim);
      simulation = toSimulationView(sim);
      const stale = reasons.length === 0 ? approvalStaleness(pending.simulation as SimulationView | null, simulation, req.wallet) : undefined;
      if (stale) return await this.restate({ pending, req, sim, simulation, stale, approver, started });
      if (reasons.length === 0) {
        status = "approved";
        signature = cosignature;
      }
    } catch (err) {
      if (!(err instanceof CountersignError)) throw err;
      // A refusal at approval time (expired, paused, nonce used …) settles the decision; an outage does not.
      if (["UPSTREAM_UNAVAILABLE", "FORK_STALE", "SIMULATION_FAILED", "STORE_UNAVAILABLE", "BUSY"].includes(err.code)) throw err;
      reasons = [{ code: err.code, message: err.message }];
    }
    const stored = await this.options.store.resolvePending(
      id,
      { status, reasons, simulation, cosignerSignature: signature, decidedBy: approver },
      { status, reasons, simulation },
    );
    this.log(stored, started);
    // A trip that landed while the person's approval was re-simulated and recorded: the signature stays back.
    if (stored.status === "approved") this.checkStops(req.wallet, recoverSessionKey(digest, req.agentSignature), this.options.fork.head.number);
    return toDecision(stored);
  }

  /** Keeps a pending decision pending with the figures of a re-simulation the person has not seen, and why. */
  private async restate(r: {
    pending: StoredDecision;
    req: OperationRequest;
    sim: SimulationResult;
    simulation: SimulationView;
    stale: Reason;
    approver: string;
    started: number;
  }): Promise<Decision> {
    const { pending, req, simulation, approver } = r;
    const reasons = [r.stale, ...(pending.reasons as Reason[]).filter((x) => x.code !== "APPROVAL_STALE")];
    const recipients = payees(req.intent, req.wallet, r.sim.changes);
    const stored = await this.options.store.restatePending(pending.id, { simulation, reasons, recipients }, { approver, reasons, simulation });
    this.log(stored, r.started);
    return toDecision(stored);
  }

  /** A person rejects a pending decision. */
  async reject(id: string, approver: string, note?: string): Promise<Decision> {
    const started = performance.now();
    const pending = await this.pending(id);
    const reasons: Reason[] = [{ code: "REJECTED_BY_APPROVER", message: note ? `rejected by ${approver}: ${note}` : `rejected by ${approver}` }];
    const stored = await this.options.store.resolvePending(
      id,
      { status: "rejected", reasons, simulation: pending.simulation, cosignerSignature: null, decidedBy: approver },
      { status: "rejected", reasons },
    );
    this.log(stored, started);
    return toDecision(stored);
  }

  /** A stored decision, or undefined. Whoever asks must be its proposer (see `proposer`) or an approver. */
  async get(id: string): Promise<Decision | undefined> {
    const stored = await this.options.store.get(id);
    if (!stored) return undefined;
    const decision = toDecision(stored);
    // While the breaker's stop holds, an approved decision is shown without its signature (as its replay is refused).
    const stopped =
      stored.status === "approved" && stored.sessionKey && this.stops.check(getAddress(stored.wallet), getAddress(stored.sessionKey), this.options.fork.head.number);
    if (stopped) delete decision.cosignerSignature;
    return decision;
  }

  /** The session key that proposed a stored decision (the one key that may read it besides an approver), or undefined. */
  async proposer(id: string): Promise<Address | undefined> {
    const sessionKey = (await this.options.store.get(id))?.sessionKey;
    return sessionKey ? getAddress(sessionKey) : undefined;
  }

  private async pending(id: string): Promise<StoredDecision> {
    const stored = await this.options.store.get(id);
    if (!stored) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
    if (stored.status !== "pending_approval") {
      throw new CountersignError("NOT_PENDING", `decision ${id} is ${stored.status}, not pending approval`, { id });
    }
    return stored;
  }

  /** The deadline window, checked against the wall clock before anything runs on the fork. */
  private checkDeadline(req: OperationRequest): void {
    const now = this.now();
    if (req.deadline < now) {
      throw new CountersignError("DEADLINE_PASSED", `deadline ${req.deadline} is before now (${now})`);
    }
    if (req.deadline > now + this.maxTtl) {
      throw new CountersignError("DEADLINE_TOO_FAR", `deadline ${req.deadline} is more than ${this.maxTtl} s ahead of now (${now})`);
    }
  }

  /**
   * Reads the wallet's view of the session key, nonce and pause, then runs the operation on the fork. A refusal is
   * returned, with whether the wallet had confirmed the signer as an active session key before it.
   */
  private async simulate(
    req: OperationRequest,
    sessionKey: Address,
    cosignature: Hex,
    admitAuthenticated?: (wallet: Address, signer: Address) => void,
  ): Promise<Attempt> {
    const { fork, key, served } = this.options;
    served.check(req.wallet, this.chainId);
    // Set once the wallet confirmed the signer; a refusal is thrown inside the run, so the fork keeps nothing the
    // refused run read (see Fork.run), and turned into an Attempt here.
    let keyVerified = false;
    try {
      const sim = await fork.run(async (rpc, env) => {
        await this.checkWalletCode(rpc, req.wallet);
        // Authenticate with one small read before the fork reads anything the request names (balances, targets).
        await this.sessionKeys.check(rpc, env, req.wallet, sessionKey);
        keyVerified = true;
        admitAuthenticated?.(req.wallet, sessionKey);
        const input = { ...req, signer: sessionKey, cosignerSignature: cosignature, watch: watchedBalances(req) };
        return fork.simulate(env, input, key.address, { req, sessionKey });
      });
      return { ok: true, sim };
    } catch (err) {
      if (err instanceof CountersignError) return { ok: false, refusal: err, keyVerified };
      throw err;
    }
  }

  private readonly knownWallets = new Set<Address>();

  /**
   * Refuses (WALLET_NOT_FOUND) an address that is not an EIP-1167 clone of a served implementation, or whose storage
   * does not keep its control state where the simulation reads it (checkControlLayout).
   */
  private async checkWalletCode(rpc: Fork["rpc"], wallet: Address): Promise<void> {
    if (this.knownWallets.has(wallet)) return;
    const implementation = cloneImplementation(await rpc<Hex>("eth_getCode", [wallet, "latest"]));
    const served = this.options.implementations;
    if (!implementation) throw new CountersignError("WALLET_NOT_FOUND", `${wallet} is not an AgentWallet on this chain`, { wallet });
    if (served && served.size > 0 && !served.has(implementation)) {
      throw new CountersignError("WALLET_NOT_FOUND", `${wallet} is a clone of ${implementation}, not of an AgentWallet this co-signer serves`, { wallet });
    }
    // The simulation reads the wallet's control state from its storage: the slots must hold what the getters answer.
    await checkControlLayout(rpc, wallet);
    this.knownWallets.add(wallet);
  }

  /** Commits a decision; a concurrent decision of the same operation is returned, another one's is a conflict. */
  private async record(r: {
    req: OperationRequest;
    digest: Hex;
    bodyHash: string;
    sessionKey: Address;
    outcome: { status: DecisionStatus; reasons: Reason[]; policy?: PolicyDecision };
    simulation: SimulationView;
    cosignature: Hex;
    recipients: Address[];
  }): Promise<StoredDecision> {
    const { req, digest, bodyHash, sessionKey, simulation, cosignature, recipients } = r;
    const { status, reasons } = r.outcome;
    const { store } = this.options;
    const decision = {
      chainId: req.chainId,
      wallet: req.wallet,
      nonce: req.nonce.toString(),
      digest,
      status,
      sessionKey,
      idempotencyKey: req.idempotencyKey ?? null,
      requestHash: bodyHash,
      request: req,
      simulation,
      reasons,
      cosignerSignature: status === "approved" ? cosignature : null,
      recipients,
      ...(status === "pending_approval" && r.outcome.policy ? { approval: this.approvalRequest(r.outcome.policy, req.deadline) } : {}),
    };
    const evidence = {
      chainId: req.chainId,
      wallet: req.wallet,
      nonce: req.nonce,
      digest,
      status,
      sessionKey,
      intent: req.intent,
      memo: req.intent.memo ?? null,
      calls: req.calls,
      deadline: req.deadline,
      callGasLimit: req.callGasLimit,
      bounds: req.bounds,
      simulation,
      reasons,
      ...(r.outcome.policy ? { policy: r.outcome.policy } : {}),
    };
    try {
      return await store.insert(decision, evidence);
    } catch (err) {
      if (!(err instanceof UniqueConflict)) throw err;
      const same = await store.findByDigest(req.chainId, req.wallet, digest);
      // The same operation decided concurrently: its decision, but only to the session key that proposed it.
      if (same && err.index === "nonce") {
        if (same.sessionKey !== sessionKey) throw new CountersignError("UNKNOWN_SESSION_KEY", `${sessionKey} did not propose this operation`);
        return same;
      }
      throw err.index === "nonce"
        ? new CountersignError("NONCE_CONFLICT", `nonce ${req.nonce} of ${req.wallet} was decided concurrently for another operation`)
        : new CountersignError("IDEMPOTENCY_CONFLICT", `idempotency key ${req.idempotencyKey} is taken`);
    }
  }

  /** Who must approve a pending decision, and until when: PENDING_TTL from now, never past the operation's deadline. */
  private approvalRequest(policy: PolicyDecision, deadline: bigint) {
    const until = this.now() + BigInt(this.options.pendingTtlSeconds ?? this.options.review.pendingTtlSeconds ?? 900);
    const expires = until < deadline ? until : deadline;
    return {
      rule: policy.rule,
      approvalsRequired: Math.max(1, policy.approvalsRequired),
      reversible: policy.reversible,
      description: policy.description,
      expiresAt: new Date(Number(expires) * 1000).toISOString(),
    };
  }

  /** Throws the breaker's refusal when the wallet or this key is being stopped (fork state at `stateBlock`). */
  private checkStops(wallet: Address, signer: Address, stateBlock: bigint): void {
    const refusal = this.stops.check(wallet, signer, stateBlock);
    if (refusal) throw refusal;
  }

  /** Appends a "refusal" audit record, with the session key the wallet verified (the monitor counts them per key). */
  private async recordRefusal(req: OperationRequest, digest: Hex, err: CountersignError, sessionKey: Address): Promise<void> {
    try {
      await this.options.store.appendAudit("refusal", digest, {
        chainId: req.chainId,
        wallet: req.wallet,
        sessionKey,
        nonce: req.nonce,
        digest,
        code: err.code,
        message: err.message,
      });
    } catch {
      // The refusal stands whether or not it could be recorded.
    }
    this.options.logger?.info({ digest, wallet: req.wallet, nonce: req.nonce.toString(), code: err.code }, "operation refused");
  }

  private log(d: StoredDecision, started: number): void {
    this.options.logger?.info(
      {
        digest: d.digest,
        id: d.id,
        status: d.status,
        wallet: d.wallet,
        nonce: d.nonce,
        reasons: d.reasons.map((r) => r.code),
        block: (d.simulation as SimulationView | null)?.blockNumber,
        ms: Math.round((performance.now() - started) * 100) / 100,
      },
      "decision",
    );
  }
}

/**
 * What a conflict error tells the caller about the decision it conflicts with: its id only when the caller's
 * signature recovered to the session key that made that decision (the one key that may read it); else nothing.
 */
function conflictDetails(other: StoredDecision, signer: Address): Record<string, unknown> {
  return other.sessionKey === signer ? { decisionId: other.id } : {};
}

/** The address that signed `digest`; BAD_AGENT_SIGNATURE for a malformed or high-s signature. */
function recoverSessionKey(digest: Hex, signature: Hex): Address {
  const signer = recoverSigner(digest, signature);
  if (!signer) throw new CountersignError("BAD_AGENT_SIGNATURE", "the agent signature is malformed or has a high s value");
  return signer;
}

/** Every reason the simulated operation cannot be signed as it is: the intent's, and its calls' gas headroom. */
function judge(req: OperationRequest, sim: SimulationResult): Reason[] {
  return [...compareWithIntent(req.intent, req.wallet, sim), ...callGasReasons(sim, req.callGasLimit)];
}

/** The simulation of an operation, or why it was refused. */
type Attempt = { ok: true; sim: SimulationResult } | { ok: false; refusal: CountersignError; keyVerified: boolean };

/** The balances an intent names: watched beside whatever the calls touch. */
function watchedBalances(req: OperationRequest): { asset: string; account: Address }[] {
  const { intent, wallet } = req;
  if (intent.kind === "transfer") return [{ asset: intent.asset, account: intent.to }, { asset: intent.asset, account: wallet }];
  if (intent.kind === "swap") return [{ asset: intent.buy.asset, account: wallet }, { asset: intent.sell.asset, account: wallet }];
  return intent.expect.map((e) => ({ asset: e.asset, account: wallet }));
}

/** The implementation an EIP-1167 minimal proxy delegates to, or undefined for any other code. */
export function cloneImplementation(code: Hex): Address | undefined {
  const m = /^0x363d3d373d3d3d363d73([0-9a-f]{40})5af43d82803e903d91602b57fd5bf3$/i.exec(code);
  return m ? getAddress(`0x${m[1]}`) : undefined;
}

function toSimulationView(sim: SimulationResult): SimulationView {
  return {
    blockNumber: sim.blockNumber.toString(),
    success: sim.success,
    ...(sim.success ? {} : { revertReason: describeRevert(sim.revertData).text }),
    changes: sim.changes.map((c) => ({ account: c.account, asset: c.asset, delta: c.delta.toString() })),
    gasUsed: sim.gasUsed.toString(),
  };
}

function toDecision(d: StoredDecision): Decision {
  return {
    id: d.id,
    status: d.status,
    digest: d.digest as Hex,
    ...(d.cosignerSignature ? { cosignerSignature: d.cosignerSignature as Hex } : {}),
    reasons: d.reasons as Reason[],
    simulation: d.simulation as SimulationView | null,
  };
}
