import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import type { Address, Hex } from "viem";
import { operationDigest } from "../../src/eip712";
import { deployWalletFixture } from "../fixtures";
import { DAY, erc20Transfer, signOperation, type TestOperation } from "../helpers";

/*
 * Model-based property: random command sequences run against the real wallet on the Hardhat network and against
 * a small TypeScript model of its USDC budget, pause flag, nonces, recipients and session-key expiry. Every
 * transaction is mined at a timestamp the test chose (latest + 1, with a fixed gas limit so reverts are mined too),
 * so the model is exact: no closeTo anywhere.
 */

const MAX_UINT256 = 2n ** 256n - 1n;
const MAX_UINT208 = 2n ** 208n - 1n;
const MAX_BUDGET_PERIOD = 365n * DAY;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
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
      { weight: 1, arbitrary: fc.constantFrom(1n, 7n, 86_399n, 1_000_000_000n, MAX_UINT208) },
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
  { limit: MAX_UINT208 + 1n, period: DAY, maxPerOperation: 1n },
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

/** Flips s to n - s and v to the other parity: a valid signature that OpenZeppelin's ECDSA refuses (high s). */
function malleate(signature: string): string {
  const bytes = ethers.getBytes(signature);
  const s = BigInt(ethers.hexlify(bytes.slice(32, 64)));
  const v = bytes[64] === 27 ? 28 : 27;
  return ethers.concat([bytes.slice(0, 32), ethers.toBeHex(SECP256K1_N - s, 32), new Uint8Array([v])]);
}

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
        cosignerSignature = malleate(cosign);
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
      wallet.connect(relayer).execute(s.op.calls, s.op.nonce, s.op.deadline, s.agentSignature, s.cosignerSignature, o),
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
          c.limit <= MAX_UINT208 &&
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
    expect(await wallet.available(token)).to.equal(bucket.available(now), `${what}: available(USDC) at ${now}`);
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
