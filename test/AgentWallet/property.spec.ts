import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import type { Address, Hex } from "viem";
import { operationDigest } from "../../src/eip712";
import { deployWalletFixture } from "../fixtures";
import { CALL_GAS, DAY, erc20Transfer, executeArgs, signOperation, type TestOperation } from "../helpers";
import { highS } from "../support/signatures";

/*
 * Model-based property: random command sequences run against the real wallet on the Hardhat network and against
 * a small TypeScript model of its USDC budget, pause flag, nonces, recipients and session-key expiry. Every
 * transaction is mined at a timestamp the test chose (latest + 1, with a fixed gas limit so reverts are mined too),
 * so the model is exact: no closeTo anywhere.
 */

const MAX_UINT256 = 2n ** 256n - 1n;
const MAX_UINT112 = 2n ** 112n - 1n;
const MAX_BUDGET_PERIOD = 365n * DAY;
const GAS_LIMIT = 2_000_000n;

// ───────────────────────────── commands ─────────────────────────────

type Who = "alice" | "bob" | "mallory";
/** How the two signatures are made; only "both" is a valid pair. */
type SigMode =
  | "both" // session key + co-signer over the operation
  | "agentOnly" // empty co-signature
  | "forgedCosigner" // co-signature by a stranger (mallory)
  | "cosignerSignedOther" // co-signer signed a different operation (nonce + 1)
  | "agentTwice" // the agent's signature in both slots
  | "malleatedCosigner" // the co-signer's signature with s flipped to the high half
  | "noAgent" // empty agent signature
  | "forgedAgent" // agent signature by a stranger
  | "cosignerTwice"; // the co-signer's signature in both slots
/**
 * A USDC amount: absolute, or relative (at execution time, per the model) to the headroom min(available, cap),
 * to what is available, or to the per-operation cap. The relative ones pin the exact edges of every check.
 */
type Amount = { kind: "abs"; value: bigint } | { kind: "headroom" | "available" | "cap"; delta: bigint };
type Deadline = { kind: "ttl"; seconds: bigint } | { kind: "max" };

type Command =
  | { kind: "transfer"; to: Who; amount: Amount; nonce: bigint; deadline: Deadline; sig: SigMode }
  | { kind: "replay"; pick: number }
  | { kind: "wait"; seconds: number }
  | { kind: "setBudget"; limit: bigint; period: bigint; maxPerOperation: bigint }
  | { kind: "setRecipient"; who: Who; allowed: boolean }
  | { kind: "pause" }
  | { kind: "unpause"; by: "owner" | "guardian" }
  | { kind: "invalidateNonce"; nonce: bigint }
  | { kind: "setSessionKey"; ttl: bigint };

const who = fc.constantFrom<Who>("alice", "bob", "mallory");
// Transfers go mostly to the allowlisted two, so that the budget rather than the allowlist decides.
const payee = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<Who>("alice", "bob") }, { weight: 1, arbitrary: fc.constant<Who>("mallory") });
// A small pool so that fresh operations, replays and invalidations collide; plus the uint256 edges.
const nonce = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 40n }) },
  { weight: 1, arbitrary: fc.constant(MAX_UINT256) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: MAX_UINT256 }) },
);
const amount: fc.Arbitrary<Amount> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("abs" as const), value: fc.bigInt({ min: 0n, max: 600_000_000n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("abs" as const), value: fc.bigInt({ min: 0n, max: 2_500_000_000n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("abs" as const), value: fc.constant(0n) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("headroom" as const), delta: fc.constantFrom(-1n, 0n, 0n, 1n) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("available" as const), delta: fc.constantFrom(-1n, 0n, 1n) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cap" as const), delta: fc.constantFrom(-1n, 0n, 1n) }) },
);
const deadline: fc.Arbitrary<Deadline> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("ttl" as const), seconds: fc.bigInt({ min: 3n, max: 3n * DAY }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("ttl" as const), seconds: fc.constantFrom(-1n, 0n, 1n, 2n) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "max" as const }) },
);
const sigMode = fc.oneof(
  { weight: 24, arbitrary: fc.constant<SigMode>("both") },
  {
    weight: 8,
    arbitrary: fc.constantFrom<SigMode>(
      "agentOnly",
      "forgedCosigner",
      "cosignerSignedOther",
      "agentTwice",
      "malleatedCosigner",
      "noAgent",
      "forgedAgent",
      "cosignerTwice",
    ),
  },
);
const validBudget = fc
  .record({
    limit: fc.oneof(
      { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 2_000_000_000n }) },
      { weight: 1, arbitrary: fc.constantFrom(1n, 7n, 86_399n, 1_000_000_000n, MAX_UINT112) },
    ),
    period: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(1n, 2n, 3n, 60n, 3_600n, DAY, MAX_BUDGET_PERIOD) },
      { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: MAX_BUDGET_PERIOD }) },
    ),
    fraction: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
  })
  .map(({ limit, period, fraction }) => {
    const maxPerOperation = BigInt(Math.floor(Number(limit) * fraction));
    return { limit, period, maxPerOperation: maxPerOperation < 1n ? 1n : maxPerOperation > limit ? limit : maxPerOperation };
  });
const invalidBudget = fc.constantFrom(
  { limit: 0n, period: DAY, maxPerOperation: 0n },
  { limit: 1_000n, period: 0n, maxPerOperation: 1_000n },
  { limit: 1_000n, period: MAX_BUDGET_PERIOD + 1n, maxPerOperation: 1_000n },
  { limit: 1_000n, period: DAY, maxPerOperation: 1_001n },
  { limit: 1_000n, period: DAY, maxPerOperation: 0n },
  { limit: MAX_UINT112 + 1n, period: DAY, maxPerOperation: 1n },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("transfer" as const), to: payee, amount, nonce, deadline, sig: sigMode }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("replay" as const), pick: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      seconds: fc.oneof(
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 3_600 }),
        fc.integer({ min: 1, max: 2 * 86_400 }),
        fc.constantFrom(43_200, 86_399, 86_400, 172_800),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof({ weight: 5, arbitrary: validBudget }, { weight: 1, arbitrary: invalidBudget })
      .map((b) => ({ kind: "setBudget" as const, ...b })),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("setRecipient" as const), who, allowed: fc.constantFrom(true, true, false) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "pause" as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("unpause" as const),
      by: fc.oneof({ weight: 4, arbitrary: fc.constant("owner" as const) }, { weight: 1, arbitrary: fc.constant("guardian" as const) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("invalidateNonce" as const), nonce }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("setSessionKey" as const),
      ttl: fc.oneof(
        { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 2n, 3n) },
        { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 2n * DAY }) },
        { weight: 2, arbitrary: fc.constant(30n * DAY) },
      ),
    }),
  },
);

// ───────────────────────────── the model ─────────────────────────────

const saturatingSub = (a: bigint, b: bigint) => (a > b ? a - b : 0n);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** OpenZeppelin's RateLimiter.RefillingBucket, one key: (lastUsed, lastTimepoint) plus the shared settings. */
class BucketModel {
  constructor(
    public capacity: bigint,
    public window: bigint,
    public lastUsed = 0n,
    public lastTimepoint = 0n,
  ) {}

  used(now: bigint): bigint {
    return saturatingSub(this.lastUsed, ((now - this.lastTimepoint) * this.capacity) / max(this.window, 1n));
  }

  available(now: bigint): bigint {
    return saturatingSub(this.capacity, this.used(now));
  }

  consume(now: bigint, quantity: bigint): void {
    if (quantity === 0n) return; // tryConsume(0) writes nothing
    this.lastUsed = this.used(now) + quantity;
    this.lastTimepoint = now;
  }

  /** AgentWallet._setBudget: sync at the old rate, then the new settings. */
  update(now: bigint, capacity: bigint, window: bigint): void {
    this.lastUsed = this.used(now);
    this.lastTimepoint = now;
    this.capacity = capacity;
    this.window = window;
  }
}

/** A rational num/den, kept exact and in lowest terms (den > 0). */
class Rational {
  readonly num: bigint;
  readonly den: bigint;

  constructor(num: bigint, den = 1n) {
    const g = gcd(num < 0n ? -num : num, den);
    [this.num, this.den] = g > 1n ? [num / g, den / g] : [num, den];
  }

  plus(other: Rational): Rational {
    return new Rational(this.num * other.den + other.num * this.den, this.den * other.den);
  }

  minus(other: Rational): Rational {
    return this.plus(new Rational(-other.num, other.den));
  }

  /** The largest integer <= this. */
  floor(): bigint {
    return this.num >= 0n ? this.num / this.den : -((-this.num + this.den - 1n) / this.den);
  }

  toString(): string {
    return this.den === 1n ? `${this.num}` : `${this.num}/${this.den}`;
  }
}

const ZERO = new Rational(0n);
const clampAtZero = (r: Rational) => (r.num < 0n ? ZERO : r);

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The budget as DESIGN.md states it, in exact rational arithmetic and with no formula taken from RateLimiter or the
 * contract: consumption `used` falls continuously at limit/period per second (never below 0), a charge adds to it, a
 * new setting keeps it (settled at the old rate first), and available = max(0, limit - used). Nothing is rounded.
 *
 * The chain keeps `used` in whole units: each time it writes its bucket (a charge, or new settings of an existing
 * budget) it refills only the whole part of the exact refill r since its previous write, keeping at most frac(r)
 * more `used` than the exact bucket (never less); and a read floors once more. So with `slack` the sum of those
 * fractions since the two last agreed exactly, at every step
 *     floor(max(0, exact - slack)) <= available() <= floor(exact),   equality when slack == 0.
 * A full bucket on chain (available() == limit) means both hold used == 0: they agree, and slack is back to 0.
 * A rounding error the contract and BucketModel share (a floored rate, a ceiling, an off-by-one second) breaks it.
 */
class ExactBucket {
  private used = ZERO;
  private slack = ZERO;
  private lastWrite: bigint;

  constructor(
    private limit: bigint,
    private period: bigint,
    private since: bigint,
  ) {
    this.lastWrite = since;
  }

  private settle(now: bigint): void {
    if (this.limit !== 0n) this.used = clampAtZero(this.used.minus(new Rational((now - this.since) * this.limit, this.period)));
    this.since = now;
  }

  /** The chain writes its bucket at `now`: what it may keep beyond the exact bucket grows by frac(refill). */
  private write(now: bigint): void {
    this.settle(now);
    this.slack = this.slack.plus(new Rational(((now - this.lastWrite) * this.limit) % this.period, this.period));
    this.lastWrite = now;
  }

  /** A charge of `quantity` at `now` (a zero charge writes nothing on chain, and changes nothing here). */
  consume(now: bigint, quantity: bigint): void {
    if (quantity === 0n) return;
    this.write(now);
    this.used = this.used.plus(new Rational(quantity));
  }

  /** New settings at `now`; an existing budget's consumption is kept, settled at the old rate. */
  update(now: bigint, limit: bigint, period: bigint): void {
    if (this.limit !== 0n) this.write(now);
    else [this.used, this.slack, this.since, this.lastWrite] = [ZERO, ZERO, now, now];
    [this.limit, this.period] = [limit, period];
  }

  /** The budget is removed: nothing is budgeted, nothing is remembered. */
  remove(now: bigint): void {
    [this.used, this.slack, this.since, this.lastWrite, this.limit, this.period] = [ZERO, ZERO, now, now, 0n, 0n];
  }

  /** Asserts the chain's available() at `now` against the exact value (see the class comment). */
  check(now: bigint, onChain: bigint, what: string): void {
    this.settle(now);
    const exact = clampAtZero(new Rational(this.limit).minus(this.used));
    const [upper, lower] = [exact.floor(), clampAtZero(exact.minus(this.slack)).floor()];
    const about = `${what}: available() ${onChain}, exact ${exact} (= ${this.limit} - ${this.used}), slack ${this.slack}`;
    expect(onChain <= upper, `${about}: above floor(exact) ${upper}`).to.equal(true);
    expect(onChain >= lower, `${about}: below floor(exact - slack) ${lower}`).to.equal(true);
    if (this.limit !== 0n && onChain === this.limit) this.slack = ZERO;
  }
}

/**
 * Independent of the bucket arithmetic: the most that can ever have flowed out by `now` is the first capacity, plus
 * every capacity increase, plus floor(elapsed * limit / period) over each stretch of constant settings.
 */
class OutflowBound {
  private accrued: bigint;
  private since: bigint;

  constructor(
    private limit: bigint,
    private period: bigint,
    start: bigint,
  ) {
    this.accrued = limit;
    this.since = start;
  }

  at(now: bigint): bigint {
    return this.accrued + ((now - this.since) * this.limit) / this.period;
  }

  update(now: bigint, limit: bigint, period: bigint): void {
    this.accrued = this.at(now) + saturatingSub(limit, this.limit);
    this.since = now;
    this.limit = limit;
    this.period = period;
  }
}

interface Submission {
  op: TestOperation;
  to: Who;
  amount: bigint;
  sig: SigMode;
  agentSignature: string;
  cosignerSignature: string;
  /** The address the co-signature recovers to (what InvalidCosignerSignature carries). */
  cosignerRecovered: string;
}

type Outcome = { ok: true } | { ok: false; error: string; args: unknown[] };

/** How often each outcome of execute() was seen over all runs: proves the property was not vacuous. */
const seen = new Map<string, number>();

// ───────────────────────────── fixture ─────────────────────────────

/** The standard wallet with enough USDC that only the budget, never the balance, limits the agent. */
async function propertyFixture() {
  const base = await deployWalletFixture();
  await base.usdc.mint(await base.wallet.getAddress(), 10n ** 15n);
  const { chainId } = await ethers.provider.getNetwork();
  return { ...base, chainId };
}

type Fixture = Awaited<ReturnType<typeof propertyFixture>>;

// ───────────────────────────── one run ─────────────────────────────

async function run(f: Fixture, commands: Command[]): Promise<void> {
  const { wallet, usdc, owner, sessionKey, cosigner, guardian, relayer, mallory, chainId } = f;
  const walletAddress = await wallet.getAddress();
  const token = await usdc.getAddress();
  const accounts: Record<Who, string> = { alice: f.alice.address, bob: f.bob.address, mallory: mallory.address };

  // The model, read once from the fresh fixture.
  let now = BigInt(await time.latest());
  const [limit0, period0, maxPerOperation0] = await wallet.budget(token);
  const bucket = new BucketModel(limit0, period0);
  const exact = new ExactBucket(limit0, period0, now);
  const bound = new OutflowBound(limit0, period0, now);
  let maxPerOperation = maxPerOperation0;
  let paused = false;
  let sessionKeyValidUntil = await wallet.sessionKeyValidUntil(sessionKey.address);
  const usedNonces = new Set<bigint>();
  const recipients = new Set<string>([accounts.alice, accounts.bob]);
  let walletBalance = await usdc.balanceOf(walletAddress);
  const initialBalance = walletBalance;

  // Ghost state observed on chain only (events), for the safety invariants.
  const executedOrBurnt = new Set<bigint>();
  const executed: Submission[] = [];
  const submitted: Submission[] = [];

  /** Mines `send` at exactly now + 1, reverting or not, and returns what happened. */
  async function mined(
    send: (overrides: { gasLimit: bigint }) => Promise<ContractTransactionResponse>,
  ): Promise<{ outcome: Outcome; receipt?: ContractTransactionReceipt }> {
    await time.setNextBlockTimestamp(now + 1n);
    let outcome: Outcome;
    let receipt: ContractTransactionReceipt | undefined;
    try {
      receipt = (await (await send({ gasLimit: GAS_LIMIT })).wait())!;
      outcome = { ok: true };
    } catch (e) {
      const data = (e as { data?: string }).data;
      if (typeof data !== "string") throw e;
      const parsed = wallet.interface.parseError(data);
      outcome = { ok: false, error: parsed?.name ?? `unknown(${data})`, args: parsed ? [...parsed.args] : [] };
    }
    now += 1n;
    expect(BigInt(await time.latest())).to.equal(now, "every transaction mines exactly one block at now + 1");
    return { outcome, receipt };
  }

  function fail(error: string, ...args: unknown[]): Outcome {
    return { ok: false, error, args };
  }

  /** What the contract must do with `s` at `t`, in the order AgentWallet checks it. */
  function predictExecute(s: Submission, t: bigint): Outcome {
    const { nonce: n, deadline: d } = s.op;
    if (paused) return fail("WalletPaused");
    if (t > d) return fail("DeadlineExpired", d, t);
    if (usedNonces.has(n)) return fail("NonceAlreadyUsed", n);
    if (s.sig === "noAgent") return fail("InvalidAgentSignature");
    if (s.sig === "forgedAgent") return fail("UnknownSessionKey", mallory.address);
    if (s.sig === "cosignerTwice") return fail("UnknownSessionKey", cosigner.address);
    if (t > sessionKeyValidUntil) return fail("SessionKeyExpired", sessionKey.address, sessionKeyValidUntil);
    if (s.sig !== "both") return fail("InvalidCosignerSignature", s.cosignerRecovered);
    if (!recipients.has(accounts[s.to])) return fail("RecipientNotAllowed", accounts[s.to]);
    if (s.amount > walletBalance) return fail("CallReverted");
    if (s.amount > maxPerOperation) return fail("PerOperationCapExceeded", token, s.amount, maxPerOperation);
    const available = bucket.available(t);
    if (s.amount > available) return fail("BudgetExceeded", token, s.amount, available);
    return { ok: true };
  }

  function expectOutcome(actual: Outcome, expected: Outcome, what: string): void {
    if (expected.ok || !actual.ok) {
      // CallReverted carries the token's revert data; the name is the contract's decision.
      const strip = (o: Outcome) => (o.ok ? o : o.error === "CallReverted" ? { ...o, args: [] } : o);
      expect(strip(actual)).to.deep.equal(strip(expected), what);
    } else {
      expect.fail(`${what}: executed, but the model expected ${expected.error}(${expected.args.join(", ")})`);
    }
  }

  async function sign(op: TestOperation, mode: SigMode): Promise<[string, string, string]> {
    const agent = await signOperation(sessionKey, wallet, op);
    const cosign = await signOperation(cosigner, wallet, op);
    const digest = operationDigest(chainId, walletAddress as Address, {
      calls: op.calls.map((c) => ({ target: c.target as Address, value: c.value, data: c.data as Hex })),
      nonce: op.nonce,
      deadline: op.deadline,
      callGasLimit: CALL_GAS,
      bounds: [],
    });
    let agentSignature = agent;
    let cosignerSignature = cosign;
    switch (mode) {
      case "both":
        break;
      case "agentOnly":
        cosignerSignature = "0x";
        break;
      case "forgedCosigner":
        cosignerSignature = await signOperation(mallory, wallet, op);
        break;
      case "cosignerSignedOther":
        cosignerSignature = await signOperation(cosigner, wallet, { ...op, nonce: (op.nonce + 1n) % 2n ** 256n });
        break;
      case "agentTwice":
        cosignerSignature = agent;
        break;
      case "malleatedCosigner":
        cosignerSignature = highS(cosign);
        break;
      case "noAgent":
        agentSignature = "0x";
        break;
      case "forgedAgent":
        agentSignature = await signOperation(mallory, wallet, op);
        break;
      case "cosignerTwice":
        agentSignature = cosign;
        break;
    }
    // Empty and high-s signatures recover to nothing: the contract reports address(0).
    const recovered =
      cosignerSignature === "0x" || mode === "malleatedCosigner"
        ? ethers.ZeroAddress
        : ethers.recoverAddress(digest, cosignerSignature);
    return [agentSignature, cosignerSignature, recovered];
  }

  async function submit(s: Submission, what: string): Promise<void> {
    const t = now + 1n;
    const expected = predictExecute(s, t);
    const availableBefore = bucket.available(t);
    const pausedOnChain = await wallet.paused();
    const recipientBefore = await usdc.balanceOf(accounts[s.to]);
    const { outcome, receipt } = await mined((o) =>
      wallet.connect(relayer).execute(...executeArgs(s.op, s.agentSignature, s.cosignerSignature), o),
    );
    const seenAs = outcome.ok ? "executed" : outcome.error;
    seen.set(seenAs, (seen.get(seenAs) ?? 0) + 1);

    // Safety first, from what the chain did (not from the model's prediction), so a violation is named as such.
    let executedNonce: bigint | undefined;
    if (outcome.ok) {
      const logs = receipt!.logs.map((l) => wallet.interface.parseLog(l)).filter((l) => l !== null);
      executedNonce = logs.find((l) => l.name === "Executed")!.args.nonce as bigint;
      expect(s.sig, `${what}: executed without both signatures`).to.equal("both");
      expect(pausedOnChain, `${what}: executed on the agent path while paused`).to.equal(false);
      expect(executedOrBurnt.has(executedNonce), `${what}: nonce ${executedNonce} executed twice`).to.equal(false);
      expect(s.amount <= availableBefore, `${what}: ${s.amount} above the ${availableBefore} available`).to.equal(true);
      expect(s.amount <= maxPerOperation, `${what}: ${s.amount} above the cap ${maxPerOperation}`).to.equal(true);
      const charged = logs.filter((l) => l.name === "BudgetCharged");
      expect(charged.map((l) => [l.args.token, l.args.amount])).to.deep.equal(
        s.amount === 0n ? [] : [[token, s.amount]],
        `${what}: BudgetCharged`,
      );
    }
    expectOutcome(outcome, expected, what);

    const moved = outcome.ok ? s.amount : 0n;
    expect(await usdc.balanceOf(walletAddress)).to.equal(walletBalance - moved, `${what}: wallet balance`);
    expect(await usdc.balanceOf(accounts[s.to])).to.equal(recipientBefore + moved, `${what}: recipient balance`);
    if (executedNonce === undefined) return;

    executedOrBurnt.add(executedNonce);
    executed.push(s);

    // The model follows.
    usedNonces.add(s.op.nonce);
    bucket.consume(t, s.amount);
    exact.consume(t, s.amount);
    walletBalance -= s.amount;
  }

  async function step(c: Command, what: string): Promise<void> {
    switch (c.kind) {
      case "transfer": {
        const t = now + 1n;
        const base = { headroom: min(bucket.available(t), maxPerOperation), available: bucket.available(t), cap: maxPerOperation };
        const value = c.amount.kind === "abs" ? c.amount.value : base[c.amount.kind] + c.amount.delta;
        const amountNow = value < 0n ? 0n : value;
        const op: TestOperation = {
          calls: [erc20Transfer(token, accounts[c.to], amountNow)],
          nonce: c.nonce,
          deadline: c.deadline.kind === "max" ? MAX_UINT256 : t + c.deadline.seconds,
        };
        const [agentSignature, cosignerSignature, cosignerRecovered] = await sign(op, c.sig);
        const s: Submission = { op, to: c.to, amount: amountNow, sig: c.sig, agentSignature, cosignerSignature, cosignerRecovered };
        submitted.push(s);
        await submit(s, what);
        break;
      }
      case "replay": {
        const pool = executed.length > 0 ? executed : submitted;
        if (pool.length === 0) break;
        await submit(pool[c.pick % pool.length], what);
        break;
      }
      case "wait": {
        if (c.seconds === 0) break; // a block at the same second is not allowed; zero time passes
        await time.increase(c.seconds);
        now += BigInt(c.seconds);
        expect(BigInt(await time.latest())).to.equal(now);
        break;
      }
      case "setBudget": {
        const t = now + 1n;
        const valid =
          c.limit !== 0n &&
          c.limit <= MAX_UINT112 &&
          c.period !== 0n &&
          c.period <= MAX_BUDGET_PERIOD &&
          c.maxPerOperation !== 0n &&
          c.maxPerOperation <= c.limit;
        const { outcome } = await mined((o) =>
          wallet.connect(owner).setBudget({ token, limit: c.limit, period: c.period, maxPerOperation: c.maxPerOperation }, o),
        );
        expectOutcome(outcome, valid ? { ok: true } : fail("InvalidBudget", token, c.limit, c.period, c.maxPerOperation), what);
        if (valid) {
          bucket.update(t, c.limit, c.period);
          exact.update(t, c.limit, c.period);
          bound.update(t, c.limit, c.period);
          maxPerOperation = c.maxPerOperation;
        }
        expect(await wallet.budget(token)).to.deep.equal([bucket.capacity, bucket.window, maxPerOperation], `${what}: budget`);
        break;
      }
      case "setRecipient": {
        const { outcome } = await mined((o) => wallet.connect(owner).setRecipient(accounts[c.who], c.allowed, o));
        expectOutcome(outcome, { ok: true }, what);
        if (c.allowed) recipients.add(accounts[c.who]);
        else recipients.delete(accounts[c.who]);
        expect(await wallet.isRecipientAllowed(accounts[c.who])).to.equal(c.allowed, `${what}: recipient`);
        break;
      }
      case "pause": {
        const { outcome } = await mined((o) => wallet.connect(guardian).pause(o));
        expectOutcome(outcome, { ok: true }, what);
        paused = true;
        break;
      }
      case "unpause": {
        const signer = c.by === "owner" ? owner : guardian;
        const { outcome } = await mined((o) => wallet.connect(signer).unpause(o));
        expectOutcome(outcome, c.by === "owner" ? { ok: true } : fail("OwnableUnauthorizedAccount", guardian.address), what);
        if (c.by === "owner") paused = false;
        break;
      }
      case "invalidateNonce": {
        const expected = usedNonces.has(c.nonce) ? fail("NonceAlreadyUsed", c.nonce) : ({ ok: true } as const);
        const { outcome, receipt } = await mined((o) => wallet.connect(guardian).invalidateNonce(c.nonce, o));
        expectOutcome(outcome, expected, what);
        if (outcome.ok) {
          const log = receipt!.logs.map((l) => wallet.interface.parseLog(l)).find((l) => l?.name === "NonceInvalidated");
          executedOrBurnt.add(log!.args.nonce as bigint);
        }
        usedNonces.add(c.nonce);
        expect(await wallet.isNonceUsed(c.nonce)).to.equal(true, `${what}: nonce burnt`);
        break;
      }
      case "setSessionKey": {
        const t = now + 1n;
        const validUntil = t + c.ttl;
        const { outcome } = await mined((o) => wallet.connect(owner).addSessionKey(sessionKey.address, validUntil, o));
        const valid = validUntil > t;
        expectOutcome(outcome, valid ? { ok: true } : fail("InvalidSessionKey", sessionKey.address, validUntil), what);
        if (valid) sessionKeyValidUntil = validUntil;
        expect(await wallet.sessionKeyValidUntil(sessionKey.address)).to.equal(sessionKeyValidUntil, `${what}: expiry`);
        break;
      }
    }
  }

  async function checkState(what: string): Promise<void> {
    expect(BigInt(await time.latest())).to.equal(now, `${what}: clock`);
    const available = await wallet.available(token);
    expect(available).to.equal(bucket.available(now), `${what}: available(USDC) at ${now}`);
    exact.check(now, available, `${what}: exact bucket`);
    expect(await wallet.paused()).to.equal(paused, `${what}: paused`);
    const outflow = initialBalance - (await usdc.balanceOf(walletAddress));
    expect(outflow <= bound.at(now), `${what}: total outflow ${outflow} above the refill bound ${bound.at(now)}`).to.equal(true);
  }

  await checkState("start");
  for (const [i, c] of commands.entries()) {
    const what = `step ${i} ${c.kind}`;
    await step(c, what);
    await checkState(what);
  }
}

// ───────────────────────────── the property ─────────────────────────────

describe("AgentWallet model-based property", function () {
  it("matches the budget/pause/nonce/allowlist model after every step of random command sequences", async function () {
    this.timeout(600_000);
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: "max" }), async (commands) => {
        await run(await loadFixture(propertyFixture), commands);
      }),
      { numRuns: 150 },
    );
    // PROPERTY_STATS=1 prints how often each execute() outcome occurred.
    if (process.env.PROPERTY_STATS) console.log(Object.fromEntries(seen));
    for (const outcome of [
      "executed",
      "BudgetExceeded",
      "PerOperationCapExceeded",
      "WalletPaused",
      "NonceAlreadyUsed",
      "InvalidCosignerSignature",
      "RecipientNotAllowed",
    ]) {
      expect(seen.get(outcome) ?? 0, `runs never produced ${outcome}`).to.be.greaterThan(0);
    }
  });
});

// ───────────────────────────── the packed bucket against OpenZeppelin's RateLimiter ─────────────────────────────

/*
 * The wallet packs a budget into two slots instead of using RateLimiter. The reference is RateLimiter itself
 * (contracts/mocks/RateLimiterReference.sol, RefillingBucket, key 0), driven the way the wallet drives its budget.
 * Each step mines the wallet's transaction and the reference's in ONE block, so both see the same timestamp, and
 * then available() must agree exactly; and it must stay within the floor bound of ExactBucket, which shares no
 * arithmetic with either (a rounding error in RateLimiter itself would show there).
 */

type BucketCommand =
  | { kind: "setBudget"; limit: bigint; period: bigint; fraction: number }
  | { kind: "spend"; amount: { kind: "abs"; value: bigint } | { kind: "available"; delta: bigint }; path: "plain" | "bounded" | "split" }
  | { kind: "wait"; seconds: bigint }
  | { kind: "removeBudget" };

const bucketCommand: fc.Arbitrary<BucketCommand> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("setBudget" as const),
      limit: fc.oneof(
        { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 1_000n }) },
        { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 12n }) },
        { weight: 1, arbitrary: fc.constantFrom(1n, 7n, 10n, 86_399n, MAX_UINT112) },
      ),
      period: fc.oneof(fc.constantFrom(1n, 2n, 3n, 7n, 60n, DAY, MAX_BUDGET_PERIOD), fc.bigInt({ min: 1n, max: MAX_BUDGET_PERIOD })),
      fraction: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("spend" as const),
      amount: fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant("available" as const), delta: fc.constantFrom(-2n, -1n, 0n, 0n, 1n) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("abs" as const), value: fc.bigInt({ min: 0n, max: 2_000n }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("abs" as const), value: fc.constant(0n) }) },
      ),
      path: fc.constantFrom("plain" as const, "bounded" as const, "split" as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      seconds: fc.oneof(fc.constantFrom(0n, 1n, 2n, 3n), fc.bigInt({ min: 0n, max: 200n }), fc.bigInt({ min: 0n, max: 2n * DAY })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "removeBudget" as const }) },
);

async function bucketFixture() {
  const base = await deployWalletFixture();
  const token = await ethers.deployContract("MockERC20", ["Reference", "REF", 0]);
  const reference = await ethers.deployContract("RateLimiterReference");
  await token.mint(base.wallet, 2n ** 120n);
  return { ...base, token, reference };
}

/** Sends every transaction of `sends` into one block mined at exactly `at`; returns each receipt's status. */
async function inOneBlock(at: bigint, sends: (() => Promise<ContractTransactionResponse>)[]): Promise<number[]> {
  await ethers.provider.send("evm_setAutomine", [false]);
  const hashes: string[] = [];
  try {
    for (const send of sends) hashes.push((await send()).hash);
    await ethers.provider.send("evm_mine", [Number(at)]);
  } finally {
    await ethers.provider.send("evm_setAutomine", [true]);
  }
  const receipts = await Promise.all(hashes.map((h) => ethers.provider.getTransactionReceipt(h)));
  return receipts.map((r) => r!.status!);
}

async function runBuckets(f: Awaited<ReturnType<typeof bucketFixture>>, commands: BucketCommand[]) {
  const { wallet, token, reference, owner, relayer, sessionKey, cosigner, alice, bob } = f;
  const [walletAddress, tokenAddress] = [await wallet.getAddress(), await token.getAddress()];
  let now = BigInt(await time.latest());
  let nonce = 0n;
  let cap = 0n; // 0 = no budget
  const exact = new ExactBucket(0n, 0n, now); // DESIGN.md's bucket in exact arithmetic, beside RateLimiter itself
  const overrides = { gasLimit: 1_500_000n };

  for (const [i, c] of commands.entries()) {
    const what = `step ${i} ${JSON.stringify(c, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`;
    const at = now + 1n;
    switch (c.kind) {
      case "setBudget": {
        const scaled = BigInt(Math.floor(Number(c.limit) * c.fraction));
        const maxPerOperation = scaled < 1n ? 1n : scaled > c.limit ? c.limit : scaled;
        const statuses = await inOneBlock(at, [
          () => wallet.connect(owner).setBudget({ token: tokenAddress, limit: c.limit, period: c.period, maxPerOperation }, overrides),
          () => reference.connect(owner).setBudget(c.limit, c.period, overrides),
        ]);
        expect(statuses, what).to.deep.equal([1, 1]);
        exact.update(at, c.limit, c.period);
        cap = maxPerOperation;
        break;
      }
      case "removeBudget": {
        const statuses = await inOneBlock(at, [
          () => wallet.connect(owner).removeBudget(tokenAddress, overrides),
          () => reference.connect(owner).removeBudget(overrides),
        ]);
        expect(statuses, what).to.deep.equal([1, 1]);
        exact.remove(at);
        cap = 0n;
        break;
      }
      case "wait": {
        now += c.seconds;
        continue; // nothing mined: the next step's block is that much later
      }
      case "spend": {
        // Amounts relative to what is available now (one block early, as an agent sees it) hit the edges often.
        const base = await reference.available();
        const raw = c.amount.kind === "abs" ? c.amount.value : base + c.amount.delta;
        const amount = raw < 0n ? 0n : raw;
        nonce += 1n;
        const calls =
          c.path === "split" && amount >= 2n
            ? [erc20Transfer(tokenAddress, alice.address, amount / 2n), erc20Transfer(tokenAddress, bob.address, amount - amount / 2n)]
            : [erc20Transfer(tokenAddress, alice.address, amount)];
        const op: TestOperation = {
          calls,
          nonce,
          deadline: at + DAY,
          bounds: c.path === "bounded" ? [{ asset: tokenAddress, account: walletAddress, minDelta: -amount }] : [],
        };
        const agentSig = await signOperation(sessionKey, wallet, op);
        const cosignerSig = await signOperation(cosigner, wallet, op);
        const sends = [() => wallet.connect(relayer).execute(...executeArgs(op, agentSig, cosignerSig), overrides)];
        const budgeted = cap !== 0n;
        const withinCap = budgeted && amount <= cap;
        if (withinCap) sends.push(() => reference.connect(owner).consume(amount, overrides));
        const statuses = await inOneBlock(at, sends);
        if (!budgeted) expect(statuses, `${what}: a token without a budget cannot be transferred`).to.deep.equal([0]);
        else if (!withinCap) expect(statuses, `${what}: above the cap`).to.deep.equal([0]);
        else expect(statuses[0], `${what}: the wallet charges exactly when RateLimiter consumes`).to.equal(statuses[1]);
        if (statuses[0] === 1) exact.consume(at, amount);
        break;
      }
    }
    now = at;
    expect(BigInt(await time.latest())).to.equal(now);
    const available = await wallet.available(tokenAddress);
    expect(available).to.equal(await reference.available(), `${what}: available() at ${now}`);
    exact.check(now, available, `${what}: exact bucket`);
  }
}

describe("AgentWallet packed budget against OpenZeppelin RateLimiter (reference model)", function () {
  it("has available(token) == RateLimiter.available(), within the exact bucket's floor bound, after every step of random set/spend/wait/remove sequences", async function () {
    this.timeout(600_000);
    await fc.assert(
      fc.asyncProperty(fc.array(bucketCommand, { minLength: 1, maxLength: 30, size: "max" }), async (commands) => {
        await runBuckets(await loadFixture(bucketFixture), commands);
      }),
      { numRuns: 60 },
    );
  });
});

// ───────────────────────────── gross accounting ─────────────────────────────

/*
 * Random batches mixing inflows (pool.borrow, the bought side of a swap) and outflows (budgeted transfers, native
 * transfers, a repay or a pull through an approval granted in the batch, the sold side of a swap). The model charges
 * each asset the sum of its decreases; the chain must charge exactly that (BudgetCharged), refuse exactly when the
 * model says the cap or the budget is exceeded, and the outflow seen in the receipt's Transfer logs must equal what
 * was charged: no inflow ever pays for an outflow, and nothing leaves beyond cap and budget.
 */

type Piece =
  | { kind: "transfer"; asset: "usdc" | "weth"; to: "alice" | "bob"; amount: bigint }
  | { kind: "native"; to: "alice" | "bob"; value: bigint }
  | { kind: "borrow"; asset: "usdc" | "weth"; amount: bigint }
  | { kind: "repay"; amount: bigint }
  | { kind: "pull"; amount: bigint }
  | { kind: "swap"; amount: bigint };

const U = 10n ** 6n;
const E = 10n ** 18n;
const usdcAmount = fc.oneof(fc.bigInt({ min: 0n, max: 300n * U }), fc.constantFrom(0n, 1n, 250n * U, 500n * U, 500n * U + 1n));
const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant("transfer" as const), asset: fc.constant("usdc" as const), to: fc.constantFrom("alice" as const, "bob" as const), amount: usdcAmount }),
  fc.record({
    kind: fc.constant("transfer" as const),
    asset: fc.constant("weth" as const),
    to: fc.constantFrom("alice" as const, "bob" as const),
    amount: fc.bigInt({ min: 0n, max: 3n * E }),
  }),
  fc.record({ kind: fc.constant("native" as const), to: fc.constantFrom("alice" as const, "bob" as const), value: fc.bigInt({ min: 0n, max: E / 2n }) }),
  fc.record({ kind: fc.constant("borrow" as const), asset: fc.constantFrom("usdc" as const, "weth" as const), amount: fc.bigInt({ min: 0n, max: 5_000n * U }) }),
  fc.record({ kind: fc.constant("repay" as const), amount: usdcAmount }),
  fc.record({ kind: fc.constant("pull" as const), amount: usdcAmount }),
  fc.record({ kind: fc.constant("swap" as const), amount: fc.bigInt({ min: 1n, max: 300n * U }) }),
);
const grossStep = fc.record({
  pieces: fc.array(piece, { minLength: 1, maxLength: 5 }),
  wait: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 3_600n }), fc.bigInt({ min: 0n, max: DAY })),
});

async function grossFixture() {
  const base = await deployWalletFixture();
  const pool = await ethers.deployContract("MockLendingPool");
  const w = base.wallet.connect(base.owner);
  for (const name of ["borrow", "repay"] as const) await w.setCallPermission(pool, pool.interface.getFunction(name)!.selector, true);
  await w.setCallPermission(base.dex, base.dex.interface.getFunction("pull")!.selector, true);
  await base.usdc.mint(pool, 10n ** 15n);
  await base.weth.mint(pool, 10n ** 24n);
  await base.usdc.mint(base.wallet, 10n ** 15n);
  await base.dex.setRate(await base.usdc.getAddress(), await base.weth.getAddress(), 10n ** 18n * 10n ** 12n / 4000n);
  return { ...base, pool };
}

/** How often each outcome of a gross-accounting batch was seen: proves the property was not vacuous. */
const grossSeen = new Map<string, number>();

async function runGross(f: Awaited<ReturnType<typeof grossFixture>>, steps: { pieces: Piece[]; wait: bigint }[]) {
  const { wallet, usdc, weth, dex, pool, relayer, sessionKey, cosigner } = f;
  const addr = {
    wallet: await wallet.getAddress(),
    usdc: await usdc.getAddress(),
    weth: await weth.getAddress(),
    dex: await dex.getAddress(),
    pool: await pool.getAddress(),
    alice: f.alice.address,
    bob: f.bob.address,
  };
  const assets = [ethers.ZeroAddress, addr.usdc, addr.weth];
  let now = BigInt(await time.latest());
  const buckets = new Map<string, BucketModel>();
  const caps = new Map<string, bigint>();
  const bounds = new Map<string, OutflowBound>();
  for (const a of assets) {
    const [limit, period, cap] = await wallet.budget(a);
    buckets.set(a, new BucketModel(limit, period));
    caps.set(a, cap);
    bounds.set(a, new OutflowBound(limit, period, now));
  }
  const grossOut = new Map<string, bigint>(assets.map((a) => [a, 0n]));
  const tokenIface = usdc.interface;

  for (const [i, step] of steps.entries()) {
    now += step.wait + 1n;
    const what = `step ${i}`;
    // Build the calls and the model's decreases per asset.
    const calls: TestOperation["calls"] = [];
    const decrease = new Map<string, bigint>(assets.map((a) => [a, 0n]));
    const add = (a: string, x: bigint) => decrease.set(a, decrease.get(a)! + x);
    for (const p of step.pieces) {
      switch (p.kind) {
        case "transfer":
          calls.push(erc20Transfer(addr[p.asset], addr[p.to], p.amount));
          add(addr[p.asset], p.amount);
          break;
        case "native":
          calls.push({ target: addr[p.to], value: p.value, data: "0x" });
          add(ethers.ZeroAddress, p.value);
          break;
        case "borrow":
          calls.push({ target: addr.pool, value: 0n, data: pool.interface.encodeFunctionData("borrow", [addr[p.asset], p.amount]) });
          break;
        case "repay":
          calls.push({ target: addr.usdc, value: 0n, data: tokenIface.encodeFunctionData("approve", [addr.pool, p.amount]) });
          calls.push({ target: addr.pool, value: 0n, data: pool.interface.encodeFunctionData("repay", [addr.usdc, p.amount]) });
          add(addr.usdc, p.amount);
          break;
        case "pull":
          calls.push({ target: addr.usdc, value: 0n, data: tokenIface.encodeFunctionData("approve", [addr.dex, p.amount]) });
          calls.push({ target: addr.dex, value: 0n, data: dex.interface.encodeFunctionData("pull", [addr.usdc, addr.wallet, p.amount]) });
          add(addr.usdc, p.amount);
          break;
        case "swap":
          calls.push({ target: addr.usdc, value: 0n, data: tokenIface.encodeFunctionData("approve", [addr.dex, p.amount]) });
          calls.push({ target: addr.dex, value: 0n, data: dex.interface.encodeFunctionData("swap", [addr.usdc, addr.weth, p.amount, 0n]) });
          add(addr.usdc, p.amount);
          break;
      }
    }
    // What the model allows: every refusal the wallet may report (its asset order is its own business).
    const refusals: string[] = [];
    for (const a of assets) {
      const d = decrease.get(a)!;
      if (d === 0n) continue;
      const cap = caps.get(a)!;
      const available = buckets.get(a)!.available(now);
      if (d > cap) refusals.push(`PerOperationCapExceeded(${a},${d},${cap})`);
      else if (d > available) refusals.push(`BudgetExceeded(${a},${d},${available})`);
    }
    const op: TestOperation = { calls, nonce: BigInt(i), deadline: now + 60n };
    const agentSig = await signOperation(sessionKey, wallet, op);
    const cosignerSig = await signOperation(cosigner, wallet, op);
    const balancesBefore = [await ethers.provider.getBalance(addr.wallet), await usdc.balanceOf(addr.wallet), await weth.balanceOf(addr.wallet)];
    await time.setNextBlockTimestamp(now);
    let receipt: ContractTransactionReceipt | undefined;
    let refusal: string | undefined;
    try {
      receipt = (await (await wallet.connect(relayer).execute(...executeArgs(op, agentSig, cosignerSig), { gasLimit: 20_000_000n })).wait())!;
    } catch (e) {
      const data = (e as { data?: string }).data;
      if (typeof data !== "string") throw e;
      const parsed = wallet.interface.parseError(data)!;
      refusal = `${parsed.name}(${[...parsed.args].join(",")})`;
    }
    expect(BigInt(await time.latest())).to.equal(now, `${what}: mined at the chosen second`);
    grossSeen.set(refusal?.split("(")[0] ?? "executed", (grossSeen.get(refusal?.split("(")[0] ?? "executed") ?? 0) + 1);
    if (refusal !== undefined) {
      expect(refusals, `${what}: refused with ${refusal}, the model allowed it`).to.include(refusal);
      const balancesAfter = [await ethers.provider.getBalance(addr.wallet), await usdc.balanceOf(addr.wallet), await weth.balanceOf(addr.wallet)];
      expect(balancesAfter, `${what}: a refused batch moves nothing`).to.deep.equal(balancesBefore);
      continue;
    }
    expect(refusals, `${what}: executed, the model refuses it`).to.deep.equal([]);
    const logs = receipt!.logs;
    const charged = new Map<string, bigint>();
    for (const log of logs) {
      const parsed = log.address === addr.wallet ? wallet.interface.parseLog(log) : null;
      if (parsed?.name === "BudgetCharged") charged.set(parsed.args.token as string, parsed.args.amount as bigint);
    }
    // Gross outflow seen on chain, independently of the model: Transfer(from = wallet) logs and call values.
    const seenOut = new Map<string, bigint>(assets.map((a) => [a, 0n]));
    seenOut.set(ethers.ZeroAddress, calls.reduce((s, c) => s + c.value, 0n));
    for (const log of logs) {
      if (log.address !== addr.usdc && log.address !== addr.weth) continue;
      const parsed = tokenIface.parseLog(log);
      if (parsed?.name === "Transfer" && parsed.args.from === addr.wallet) seenOut.set(log.address, seenOut.get(log.address)! + (parsed.args.value as bigint));
    }
    for (const a of assets) {
      const d = decrease.get(a)!;
      expect(charged.get(a) ?? 0n, `${what}: BudgetCharged(${a}) is the model's sum of decreases`).to.equal(d);
      expect(seenOut.get(a), `${what}: the receipt's outflow of ${a} is what was charged`).to.equal(d);
      expect(d <= caps.get(a)!, `${what}: ${a} charged above its cap`).to.equal(true);
      buckets.get(a)!.consume(now, d);
      grossOut.set(a, grossOut.get(a)! + d);
      expect(grossOut.get(a)! <= bounds.get(a)!.at(now), `${what}: total gross outflow of ${a} above what the budget ever allowed`).to.equal(true);
      expect(await wallet.available(a)).to.equal(buckets.get(a)!.available(now), `${what}: available(${a})`);
    }
  }
}

describe("AgentWallet gross accounting property", function () {
  it("charges each asset the sum of its decreases over random batches of inflows and outflows, and nothing beyond cap and budget", async function () {
    this.timeout(600_000);
    await fc.assert(
      fc.asyncProperty(fc.array(grossStep, { minLength: 1, maxLength: 12 }), async (steps) => {
        await runGross(await loadFixture(grossFixture), steps);
      }),
      { numRuns: 60 },
    );
    if (process.env.PROPERTY_STATS) console.log(Object.fromEntries(grossSeen));
    for (const outcome of ["executed", "PerOperationCapExceeded", "BudgetExceeded"]) {
      expect(grossSeen.get(outcome) ?? 0, `runs never produced ${outcome}`).to.be.greaterThan(0);
    }
  });
});
