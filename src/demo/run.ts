/**
 * The demo's scenarios: a mock agent pays invoices through the SDK against a running co-signer on a local chain,
 * and each layer of Countersign is shown refusing what it is there to refuse. Every scenario checks its outcome;
 * `runDemo` reports which ended differently than expected.
 *
 * Local chain only: the owner (Hardhat account 0) unpauses and tops up the demo budget, the guardian (account 3)
 * burns a nonce, with their public development keys.
 */
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  formatUnits,
  hashTypedData,
  getAddress,
  http,
  parseAbi,
  parseEventLogs,
  toFunctionSelector,
  toHex,
  zeroAddress,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { devAccount, LOCAL_ROLES } from "../chain/accounts";
import { executeArgs, operationTypedData } from "../eip712";
import { loadArtifact } from "../chain/artifacts";
import {
  CosignerClient,
  CosignerRejectedError,
  CosignerRequestError,
  ExecutionRevertedError,
  transferCalls,
  type Decision,
  type OperationResult,
} from "../client";
import { planPayment, type PlannedPayment } from "./agent";
import { INVOICES, MALLORY } from "./invoices";

/** The deployment the demo runs against (deployments/localhost.json). */
export interface DemoTarget {
  chainId: number;
  rpcUrl: string;
  cosignerUrl: string;
  wallet: Address;
  tokens: Record<string, Address>;
  dex?: Address;
  recipients: Record<string, Address>;
}

export interface DemoOptions {
  target: DemoTarget;
  /** The operator/approver token of the service, when known: pause through the API, approve held operations. */
  approverToken?: string;
  /** New service log lines since the last call (when the demo started the service itself). */
  drainLogs?: () => Record<string, unknown>[];
  print?: (line: string) => void;
  /** The agent's client (default: the SDK with the demo session key); `--mcp` gives one whose operations are MCP tool calls (src/demo/mcp-agent.ts). */
  client?: CosignerClient;
}

/** How one scenario ended. */
export interface ScenarioResult {
  id: string;
  title: string;
  ok: boolean;
  detail: string;
}

class Unexpected extends Error {}

const erc20 = parseAbi(["function balanceOf(address) view returns (uint256)", "function decimals() view returns (uint8)"]);

/**
 * A fixed gas limit for `execute` sends the transaction without a pre-flight estimate, so the chain itself refuses
 * it. Enough for every call to get the SDK's default callGasLimit (1 000 000) with the wallet's 63/64 reserve.
 */
const FIXED_GAS = 2_000_000n;

/**
 * Runs the scenarios in order and returns how each ended (never throws for a scenario's failure).
 * @example const results = await runDemo({ target, approverToken }); process.exitCode = results.every((r) => r.ok) ? 0 : 1
 */
export async function runDemo(options: DemoOptions): Promise<ScenarioResult[]> {
  const demo = await Demo.create(options);
  const results: ScenarioResult[] = [];
  const scenarios: [string, string, () => Promise<string>][] = [
    ["a", "a payment approved, executed and attributed", () => demo.approvedPayment()],
    ["b", "the injected payment refused", () => demo.injectedPayment()],
    ["c", "calldata that does not match its intent refused by simulation", () => demo.intentMismatch()],
    ["d", "over budget: refused on chain even with both signatures", () => demo.overBudgetOnChain()],
    ["e", "a swap that stops paying after the simulation: its signed bounds refused on chain", () => demo.boundViolated()],
    ["f", "the breaker: paused, refused, unpaused, working again", () => demo.breaker()],
    ["g", "a leaked co-signer key: the monitor pauses the wallet and opens an incident", () => leakedCosignerKey(demo.context())],
    ["h", "a large payment waits for people, approved through the page's API, executes", () => demo.peopleInTheLoop()],
  ];
  await demo.setup();
  for (const [id, title, run] of scenarios) {
    demo.heading(`(${id}) ${title}`);
    try {
      const detail = await run();
      demo.say(`✔ as expected: ${detail}`);
      results.push({ id, title, ok: true, detail });
    } catch (err) {
      const detail = err instanceof Unexpected ? err.message : `error: ${err instanceof Error ? err.message : String(err)}`;
      demo.say(`✘ NOT as expected: ${detail}`);
      results.push({ id, title, ok: false, detail });
    }
  }
  await demo.cleanup();
  return results;
}

class Demo {
  private readonly print: (line: string) => void;
  private readonly names = new Map<string, string>();
  private readonly walletAbi = loadArtifact("AgentWallet").abi;

  private constructor(
    private readonly options: DemoOptions,
    private readonly client: CosignerClient,
    private readonly pub: PublicClient,
    private readonly usdc: Address,
    private readonly decimals: Record<string, number>,
  ) {
    this.print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    const t = options.target;
    this.names.set(t.wallet, "wallet");
    for (const [name, a] of Object.entries(t.recipients)) this.names.set(getAddress(a), name);
    this.names.set(MALLORY, "mallory");
    for (const [symbol, a] of Object.entries(t.tokens)) this.names.set(getAddress(a), symbol);
    if (t.dex) this.names.set(getAddress(t.dex), "dex");
  }

  static async create(options: DemoOptions): Promise<Demo> {
    const t = options.target;
    const pub = createPublicClient({ transport: http(t.rpcUrl), pollingInterval: 100 }) as PublicClient;
    const usdc = t.tokens.USDC;
    if (!usdc) throw new Error("the deployment has no USDC token");
    const decimals: Record<string, number> = {};
    for (const [symbol, token] of Object.entries(t.tokens)) {
      decimals[symbol] = Number(await pub.readContract({ address: token, abi: erc20, functionName: "decimals" }));
    }
    const client = options.client ?? new CosignerClient({
      cosignerUrl: t.cosignerUrl,
      publicClient: pub,
      rpcUrl: t.rpcUrl,
      sessionKey: devAccount(LOCAL_ROLES.sessionKey),
      wallet: t.wallet,
      chainId: t.chainId,
    });
    return new Demo(options, client, pub, getAddress(usdc), decimals);
  }

  /** What a scenario written outside this class needs (see leakedCosignerKey). */
  context(): ScenarioContext {
    return { options: this.options, pub: this.pub, usdc: this.usdc, say: (t) => this.say(t), ownerSend: (f, a) => this.ownerSend(f, a), api: (m, p, b) => this.api(m, p, b) };
  }

  heading(text: string): void {
    this.print("");
    this.print(text);
  }

  say(text: string): void {
    this.print(`    ${text}`);
  }

  /** Checks the wallet is usable and, on a re-run, tops the USDC budget up as the owner (local chain only). */
  async setup(): Promise<void> {
    const t = this.options.target;
    this.print(`Countersign demo: a mock agent pays invoices; the co-signer and the wallet decide what actually moves.`);
    this.print(`  co-signer ${t.cosignerUrl}   chain ${t.chainId} at ${t.rpcUrl}   wallet ${t.wallet}`);
    this.print(`  agent session key ${this.client.sessionKey.address} (Hardhat account 1); it sends its own transactions`);
    if (!this.options.drainLogs) this.print(`  (the service logs one line per decision in its own terminal; the digests printed here are the join key)`);
    let info = await this.client.getWallet();
    if (info.paused) {
      this.print(`  setup: the wallet is paused from an earlier run; the owner unpauses it`);
      await this.ownerSend("unpause");
      await this.waitForPaused(false);
      info = await this.client.getWallet();
    }
    const budget = info.budgets.find((b) => b.token === this.usdc);
    if (!budget) throw new Error("the wallet has no USDC budget");
    if (budget.available < budget.limit) {
      this.print(`  setup: USDC budget partly spent by an earlier run (${this.fmt(budget.available)} of ${this.fmt(budget.limit)}); the owner resets it`);
      await this.ownerSend("removeBudget", [this.usdc]);
      await this.ownerSend("setBudget", [{ token: this.usdc, limit: budget.limit, period: budget.period, maxPerOperation: budget.maxPerOperation }]);
      await this.waitFor(async () => (await this.usdcBudget()).available >= budget.limit, "the co-signer's fork to see the reset budget");
    }
    this.print(
      `  policy: USDC budget ${this.fmt(budget.limit)} per ${Number(budget.period) / 3600} h, at most ${this.fmt(budget.maxPerOperation)} per operation; ` +
        `recipients ${info.recipients.map((r) => this.name(r)).join(", ")}`,
    );
  }

  /** Leaves the wallet unpaused and unflagged for the next run. */
  async cleanup(): Promise<void> {
    try {
      if ((await this.client.getWallet()).paused) await this.ownerSend("unpause");
      if (this.options.approverToken) await this.api("POST", `/v1/wallets/${this.options.target.wallet}/anomaly/clear`, { operator: "demo" });
    } catch {
      // best effort
    }
  }

  // ───────────── (a) ─────────────
  async approvedPayment(): Promise<string> {
    const plan = this.plan(0);
    const before = await this.balance(this.usdc, plan.to);
    this.say(`intent   transfer ${plan.amount} ${plan.symbol} to ${this.name(plan.to)} (${plan.to}), memo "${plan.memo}"`);
    const r = await this.settle(this.client.transfer({ asset: this.usdc, to: plan.to, amount: plan.baseUnits, memo: plan.memo }));
    this.showDecision(r.decision);
    expect(r.decision.status === "approved" && !!r.txHash && r.receipt?.status === "success", `expected approved and executed, got ${r.decision.status}`);
    const executed = parseEventLogs({ abi: this.walletAbi, logs: r.receipt!.logs, eventName: "Executed" }) as unknown as {
      args: { digest: Hex; sessionKey: Address; nonce: bigint };
    }[];
    const event = executed[0];
    expect(!!event, "no Executed event in the receipt");
    this.say(`chain    execute sent by the agent: tx ${r.txHash} in block ${r.receipt!.blockNumber}`);
    this.say(`         Executed(digest ${event!.args.digest}, sessionKey ${event!.args.sessionKey}, nonce ${event!.args.nonce})`);
    expect(event!.args.digest === r.decision.digest, `Executed digest ${event!.args.digest} differs from the decision's ${r.decision.digest}`);
    const stored = await this.client.getOperation(r.decision.id);
    this.say(`audit    GET /v1/operations/${stored.id} → ${stored.status}, digest ${stored.digest}`);
    const received = (await this.balance(this.usdc, plan.to)) - before;
    expect(received === plan.baseUnits, `${this.name(plan.to)} received ${received}, expected ${plan.baseUnits}`);
    return `intent → simulation (block ${r.decision.simulation?.blockNumber}) → decision ${r.decision.id} → tx ${r.txHash}; the on-chain Executed digest equals the decision digest`;
  }

  // ───────────── (b) ─────────────
  async injectedPayment(): Promise<string> {
    const invoice = INVOICES[1]!;
    this.say(`invoice  ${invoice.id} from ${invoice.vendor}: ${invoice.amount} ${invoice.currency}; notes: "${invoice.notes}"`);
    const plan = this.plan(1);
    this.say(`agent    ${plan.rationale}`);
    this.say(`intent   transfer ${plan.amount} ${plan.symbol} to ${this.name(plan.to)} (${plan.to})`);
    const before = await this.balance(this.usdc, MALLORY);
    let decision: Decision;
    try {
      const r = await this.client.transfer({ asset: this.usdc, to: plan.to, amount: plan.baseUnits, memo: plan.memo });
      decision = r.decision;
    } catch (err) {
      if (!(err instanceof CosignerRejectedError)) throw err;
      decision = err.decision;
    }
    this.showDecision(decision);
    expect(decision.cosignerSignature === undefined, "the co-signer signed the injected payment");
    expect((await this.balance(this.usdc, MALLORY)) === before, "mallory's balance changed");
    if (decision.status === "rejected" && decision.reasons.some((r) => r.code === "RECIPIENT_NOT_ALLOWED")) {
      this.say(`layer    simulation: the fork ran the exact execute(); the wallet's own recipient allowlist reverted, decoded as RECIPIENT_NOT_ALLOWED`);
      return `refused by simulation (RECIPIENT_NOT_ALLOWED: ${decision.simulation?.revertReason ?? "recipient not allowlisted"}); nothing was signed`;
    }
    if (decision.status === "pending_approval") {
      this.say(`layer    decide: held for a person (${decision.reasons.map((r) => r.code).join(", ")}); the demo's approver rejects it`);
      if (this.options.approverToken) await this.api("POST", `/v1/operations/${decision.id}/reject`, { approver: "demo", note: "prompt injection" });
      return `held for human approval (${decision.reasons.map((r) => r.code).join(", ")}); nothing was signed`;
    }
    throw new Unexpected(`expected RECIPIENT_NOT_ALLOWED or pending approval, got ${decision.status} ${decision.reasons.map((r) => r.code).join(", ")}`);
  }

  // ───────────── (c) ─────────────
  async intentMismatch(): Promise<string> {
    const plan = this.plan(2);
    const alice = getAddress(this.options.target.recipients.alice!);
    let decision: Decision;
    try {
      const r = await (proposesByTool(this.client) ? this.mismatchedCall(plan, alice) : this.mismatchedTransfer(plan, alice));
      decision = r.decision;
    } catch (err) {
      if (!(err instanceof CosignerRejectedError)) throw err;
      decision = err.decision;
    }
    this.showDecision(decision);
    expect(decision.status === "rejected", `expected rejected, got ${decision.status}`);
    expect(decision.simulation?.success === true, "expected the simulation itself to succeed");
    expect(
      decision.reasons.some((r) => r.code === "INTENT_MISMATCH"),
      `expected INTENT_MISMATCH, got ${decision.reasons.map((r) => r.code).join(", ")}`,
    );
    this.say(`layer    compare: the fork's balance changes are not the intent's`);
    return "refused by simulation + compare (INTENT_MISMATCH) though the wallet's own checks would pass";
  }

  /** (c) through the SDK: a transfer intent whose calldata pays the same amount to another (allowlisted) payee. */
  private mismatchedTransfer(plan: PlannedPayment, alice: Address): Promise<OperationResult> {
    this.say(`intent   transfer ${plan.amount} ${plan.symbol} to ${this.name(plan.to)} for ${plan.invoice} (what the agent says it does)`);
    // A tampered calldata builder: same amount, another (allowlisted) payee. The wallet alone would allow it.
    const calls = transferCalls({ asset: this.usdc, to: alice, amount: plan.baseUnits });
    this.say(`calldata transfer(${this.name(alice)}, ${plan.baseUnits}) on USDC (what it would actually do; alice is allowlisted and it is within budget)`);
    return this.client.operate(calls, { kind: "transfer", asset: this.usdc, to: plan.to, amount: plan.baseUnits, memo: plan.memo });
  }

  /**
   * (c) as the tools allow it (propose_call): the agent declares only the wallet's change, which names no payee (the
   * same amount to alice would match it and be paid), so the calldata pays another allowlisted payee less than
   * declared. More would break the signed bound (wallet USDC ≥ −declared) on the fork: BOUND_VIOLATED, not compare.
   */
  private mismatchedCall(plan: PlannedPayment, alice: Address): Promise<OperationResult> {
    const paid = plan.baseUnits / 2n;
    this.say(`intent   the wallet's ${plan.symbol} changes by -${plan.amount} ${plan.symbol}: ${plan.invoice} to ${this.name(plan.to)} (what the agent declares in expect)`);
    this.say(`calldata transfer(${this.name(alice)}, ${paid}) on USDC (what it would actually do; alice is allowlisted and it is within budget)`);
    this.say(`         (expect names no payee: ${plan.amount} ${plan.symbol} to ${this.name(alice)} would match it; more than declared breaks the signed bound, BOUND_VIOLATED)`);
    const calls = transferCalls({ asset: this.usdc, to: alice, amount: paid });
    return this.client.call({ calls, expect: [{ asset: this.usdc, delta: -plan.baseUnits }], memo: plan.memo });
  }

  // ───────────── (d) ─────────────
  async overBudgetOnChain(): Promise<string> {
    const start = await this.usdcBudget();
    const a = start.available < start.maxPerOperation ? start.available : start.maxPerOperation;
    this.say(`budget   USDC available ${this.fmt(start.available)}, per-operation cap ${this.fmt(start.maxPerOperation)}`);
    this.say(`method   co-sign operation A (${this.fmt(a)} to bob) while it is within budget, keep it unsent, spend the budget with other approved operations, then send A`);
    this.say(`         (no key is misused: both signatures on A are genuine; the wallet re-checks the budget when A runs)`);
    const bob = getAddress(this.options.target.recipients.bob!);
    const A = await this.settle(this.client.transfer({ asset: this.usdc, to: bob, amount: a, memo: "retainer (operation A)" }, { execute: false }), { execute: false });
    expect(A.decision.status === "approved" && !!A.decision.cosignerSignature, `expected A approved, got ${A.decision.status}`);
    this.say(`A        approved ${A.decision.id} at block ${A.decision.simulation?.blockNumber}, digest ${A.decision.digest}; the agent holds both signatures`);
    // Spend enough that what is available when A runs (after up to its TTL of refill) is below A.
    const refillMargin = (start.limit * 180n) / start.period + 1n;
    let toSpend = (await this.chainAvailable()) - a + refillMargin;
    while (toSpend > 0n) {
      const amount = toSpend < start.maxPerOperation ? toSpend : start.maxPerOperation;
      const b = await this.settle(this.client.transfer({ asset: this.usdc, to: bob, amount, memo: "other approved spending" }));
      expect(b.decision.status === "approved" && b.receipt?.status === "success", `spending operation not executed (${b.decision.status})`);
      this.say(`B        approved ${b.decision.id} and executed: ${this.fmt(amount)} to bob, tx ${b.txHash}`);
      toSpend -= amount;
    }
    this.say(`budget   USDC available now ${this.fmt(await this.chainAvailable())} (read on chain) < A's ${this.fmt(a)}`);
    try {
      // A fixed gas limit sends the transaction without a pre-flight estimate, so the chain itself refuses it.
      const r = await this.client.execute(A.proposal, A.decision, { gas: FIXED_GAS });
      throw new Unexpected(`A executed on chain in ${r.txHash}`);
    } catch (err) {
      if (!(err instanceof ExecutionRevertedError)) throw err;
      this.say(`chain    A sent with both signatures: tx ${err.txHash} mined and reverted: ${err.text}`);
      this.say(`SDK      ${err.name} { errorName: "${err.errorName}", code: "${err.code}", stage: "${err.stage}" }`);
      expect(
        err.errorName === "BudgetExceeded" || err.errorName === "PerOperationCapExceeded",
        `expected BudgetExceeded or PerOperationCapExceeded, got ${err.text}`,
      );
      expect(err.stage === "mined" && err.receipt?.status === "reverted", "expected a mined, reverted transaction");
      this.say(`layer    the wallet on chain: its token bucket refuses whatever the co-signer signed earlier`);
      return `the wallet reverted A with ${err.text} despite both valid signatures`;
    }
  }

  // ───────────── (e) ─────────────
  async boundViolated(): Promise<string> {
    const t = this.options.target;
    const owner = devAccount(LOCAL_ROLES.owner);
    const ownerClient = createWalletClient({ account: owner, transport: http(t.rpcUrl) });
    const fickle = loadArtifact("FickleSwap");
    const deployed = await this.pub.waitForTransactionReceipt({
      hash: await ownerClient.deployContract({ abi: fickle.abi, bytecode: fickle.bytecode, chain: null }),
    });
    const pool = getAddress(deployed.contractAddress!);
    this.names.set(pool, "pool");
    const out = this.units("40");
    const mint = parseAbi(["function mint(address to, uint256 amount)"]);
    await this.pub.waitForTransactionReceipt({
      hash: await ownerClient.writeContract({ address: this.usdc, abi: mint, functionName: "mint", args: [pool, out], chain: null }),
    });
    const selector = toFunctionSelector("swapUntil(address,uint256,uint256)");
    await this.ownerSend("setCallPermission", [pool, selector, true]);
    await this.waitFor(async () => (await this.client.getWallet()).callPermissions.some((p) => p.target === pool), "the co-signer's fork to see the permission");
    this.say(`setup    the owner permits pool.swapUntil on ${pool}: a "swap" that pays 40 USDC for 0.01 ETH until a moment, nothing after`);
    this.say(`         (the same shape as a sandwiched pool, an oracle update or an upgrade between simulation and inclusion)`);
    try {
      const sell = 10n ** 16n;
      // The chain's clock may run ahead of the wall clock (automine gives every block its own second).
      const chainNow = (await this.pub.getBlock()).timestamp;
      const wallNow = BigInt(Math.floor(Date.now() / 1000));
      const until = (chainNow > wallNow ? chainNow : wallNow) + 10n;
      const calls = [{ target: pool, value: sell, data: encodeFunctionData({ abi: fickle.abi, functionName: "swapUntil", args: [this.usdc, out, until] }) }];
      const intent = { kind: "swap" as const, sell: { asset: "native" as const, maxAmount: sell }, buy: { asset: this.usdc, minAmount: out } };
      this.say(`intent   swap at most 0.01 ETH for at least 40 USDC on the pool`);
      const S = await this.settle(this.client.operate(calls, intent, { execute: false }), { execute: false });
      this.showDecision(S.decision);
      expect(S.decision.status === "approved", `expected the swap approved, got ${S.decision.status}`);
      this.say(`bounds   signed by both: ${S.proposal.bounds.map((b) => `${this.name(b.account)} ${b.asset === zeroAddress ? "ETH" : this.name(b.asset)} >= ${b.minDelta}`).join(", ")}`);
      // Local chain only: the next block is after `until`, as if the agent had sent the swap a few seconds later.
      const latest = (await this.pub.getBlock()).timestamp;
      const next = latest + 1n > until + 1n ? latest + 1n : until + 1n;
      await this.pub.request({ method: "evm_setNextBlockTimestamp" as never, params: [toHex(next)] as never });
      this.say(`time     the pool stops paying after ${until}; the agent sends the co-signed swap in a block at ${next}`);
      const ethBefore = await this.pub.getBalance({ address: t.wallet });
      try {
        const r = await this.client.execute(S.proposal, S.decision, { gas: FIXED_GAS });
        throw new Unexpected(`the swap executed on chain in ${r.txHash}`);
      } catch (err) {
        if (!(err instanceof ExecutionRevertedError)) throw err;
        this.say(`chain    tx ${err.txHash} mined and reverted: ${err.text}`);
        expect(err.errorName === "BoundViolated", `expected BoundViolated, got ${err.text}`);
        expect(err.stage === "mined" && err.receipt?.status === "reverted", "expected a mined, reverted transaction");
      }
      expect((await this.pub.getBalance({ address: t.wallet })) === ethBefore, "the wallet's ETH balance changed");
      this.say(`layer    the wallet on chain: the outcome the co-signer accepted is part of what both keys signed; the wallet lost nothing`);
      return "the co-signed swap paid on the fork and not on chain; the wallet reverted it with BoundViolated and kept its ETH";
    } finally {
      await this.ownerSend("setCallPermission", [pool, selector, false]);
    }
  }

  // ───────────── (f) ─────────────
  async breaker(): Promise<string> {
    const t = this.options.target;
    const alice = getAddress(t.recipients.alice!);
    const bob = getAddress(t.recipients.bob!);
    const P = await this.settle(this.client.transfer({ asset: this.usdc, to: alice, amount: this.units("5"), memo: "co-signed before the pause (P)" }, { execute: false }), { execute: false });
    expect(P.decision.status === "approved", `expected P approved, got ${P.decision.status}`);
    this.say(`P        ${P.decision.id}: 5 USDC to alice, approved and co-signed, not yet sent`);

    if (this.options.approverToken) {
      const res = await this.api("POST", `/v1/wallets/${t.wallet}/pause`, { operator: "demo", reason: "demo: suspicious invoices" });
      expect(res.status === 200, `pause endpoint answered ${res.status}: ${JSON.stringify(res.json)}`);
      const body = res.json as { txHash: string; guardian: string };
      this.say(`breaker  operator POST /v1/wallets/${t.wallet}/pause → guardian ${body.guardian} sent pause(): tx ${body.txHash}`);
    } else {
      const hash = await this.send(devAccount(LOCAL_ROLES.guardian), "pause");
      this.say(`breaker  guardian (Hardhat account 3) sent pause() on chain: tx ${hash} (no APPROVER_TOKEN for the API)`);
    }
    this.drainLogs();
    await this.waitForPaused(true);

    const refusals: string[] = [];
    const attempts: [string, () => Promise<OperationResult>][] = [
      ["transfer 1 USDC to alice", () => this.client.transfer({ asset: this.usdc, to: alice, amount: this.units("1") })],
      [
        "swap 10 USDC for WETH",
        () =>
          t.dex && t.tokens.WETH
            ? this.client.swap({ sell: { asset: this.usdc, maxAmount: this.units("10") }, buy: { asset: t.tokens.WETH, minAmount: 1n }, via: { dex: t.dex } })
            : this.client.transfer({ asset: this.usdc, to: bob, amount: this.units("10") }),
      ],
    ];
    for (const [what, attempt] of attempts) {
      try {
        const r = await attempt();
        throw new Unexpected(`${what} while paused came back ${r.decision.status}`);
      } catch (err) {
        if (!(err instanceof CosignerRequestError)) throw err;
        this.say(`refused  ${what}: HTTP ${err.status} ${err.code}`);
        this.showLogs();
        expect(err.code === "WALLET_PAUSED", `expected WALLET_PAUSED, got ${err.code}`);
        refusals.push(err.code);
      }
    }
    try {
      await this.client.execute(P.proposal, P.decision, { gas: FIXED_GAS });
      throw new Unexpected("P executed while paused");
    } catch (err) {
      if (!(err instanceof ExecutionRevertedError)) throw err;
      this.say(`chain    P, co-signed before the pause, sent now: tx ${err.txHash} reverted ${err.text}`);
      expect(err.errorName === "WalletPaused", `expected WalletPaused, got ${err.text}`);
    }
    const burn = await this.send(devAccount(LOCAL_ROLES.guardian), "invalidateNonce", [P.proposal.nonce]);
    this.say(`guardian burns P's nonce so it cannot run after the unpause: tx ${burn}`);

    const unpause = await this.ownerSend("unpause");
    this.say(`owner    (Hardhat account 0) unpause(): tx ${unpause}`);
    await this.waitForPaused(false);

    const plan = this.plan(2);
    this.say(`intent   transfer ${plan.amount} ${plan.symbol} to ${this.name(plan.to)} for ${plan.invoice}, correctly built this time`);
    const r = await this.settle(this.client.transfer({ asset: this.usdc, to: plan.to, amount: plan.baseUnits, memo: plan.memo }));
    expect(r.decision.status === "approved" && r.receipt?.status === "success", `expected the payment after unpause to execute, got ${r.decision.status}`);
    this.say(`chain    executed: tx ${r.txHash}`);
    return `${refusals.length} operations refused with WALLET_PAUSED and a pre-signed one reverted WalletPaused on chain; after the owner's unpause a payment executed`;
  }

  // ───────────── (h) ─────────────
  /**
   * People in the loop, self-contained: the co-signer under demo runs whatever policy it was started with, so this
   * scenario starts its own chain and co-signer with the default approval policy (deployments/approval-policy.json)
   * and two named approvers; a 400 USDC first payment waits for both, is approved through POST
   * /v1/operations/:id/approve (what the page at /ui calls), and executes. Then it reads how many operations of this
   * demo needed a person from both co-signers' /metrics.
   */
  async peopleInTheLoop(): Promise<string> {
    const { randomBytes } = await import("node:crypto");
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join, resolve } = await import("node:path");
    const { startLocalNode } = await import("../devchain/node");
    const { deployDemo } = await import("../deploy/demo");
    const { loadConfig } = await import("../config");
    const { startService } = await import("../service");
    const { hashToken } = await import("../approvals/approvers");
    const { devPrivateKey } = await import("../chain/accounts");
    const dir = mkdtempSync(join(tmpdir(), "countersign-demo-people-"));
    const tokens = { "alice-ops": randomBytes(24).toString("base64url"), "bob-ops": randomBytes(24).toString("base64url") };
    writeFileSync(join(dir, "approvers.json"), JSON.stringify({ approvers: Object.entries(tokens).map(([name, t]) => ({ name, tokenSha256: hashToken(t) })) }));
    const policyFile = resolve(__dirname, "..", "..", "deployments", "approval-policy.json");
    const node = await startLocalNode();
    let service: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const d = await deployDemo(node.url);
      service = await startService({
        config: loadConfig({
          UPSTREAM_RPC_URL: node.url,
          COSIGNER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.cosigner),
          GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian),
          DB_PATH: join(dir, "decisions.sqlite"),
          HOST: "127.0.0.1",
          PORT: "0",
          HEAD_POLL_MS: "100",
          APPROVAL_POLICY_FILE: policyFile,
          APPROVERS_FILE: join(dir, "approvers.json"),
          LOG_LEVEL: "silent",
        }),
        deployment: d as typeof d & Record<string, unknown>,
        processMetrics: false,
      });
      const url = service.url;
      this.say(`setup    a second chain and co-signer (${url}) with APPROVAL_POLICY_FILE=deployments/approval-policy.json and approvers alice-ops, bob-ops`);
      const pub = createPublicClient({ transport: http(node.url), pollingInterval: 100 }) as PublicClient;
      const agent = new CosignerClient({ cosignerUrl: url, publicClient: pub, rpcUrl: node.url, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: d.wallet, chainId: d.chainId });
      const usdc = getAddress(d.tokens.USDC!);
      const alice = getAddress(d.recipients.alice!);
      const amount = 400_000_000n;
      this.say(`intent   transfer ${formatUnits(amount, 6)} USDC to alice (${alice}), the wallet's first payment to her`);
      const r = await agent.transfer({ asset: usdc, to: alice, amount, memo: "INV-2001 (large)" }, { execute: false });
      expect(r.decision.status === "pending_approval", `expected pending_approval, got ${r.decision.status}`);
      this.say(`decision ${r.decision.id} PENDING_APPROVAL ${r.decision.reasons.map((x) => x.code).join(", ")}: ${r.decision.reasons[0]?.message ?? ""}`);
      const people = async (method: "GET" | "POST", path: string, token: string, body?: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        return { status: res.status, json: (await res.json()) as Record<string, any> };
      };
      const listed = await people("GET", "/v1/approvals", tokens["alice-ops"]);
      const item = (listed.json.items as { id: string; rule: { name: string; approvalsRequired: number }; expiresAt: string }[]).find((i) => i.id === r.decision.id);
      expect(!!item, "the pending payment is not listed at GET /v1/approvals");
      this.say(`page     GET /v1/approvals: rule ${item!.rule.name} asks ${item!.rule.approvalsRequired} approvers, expires ${item!.expiresAt} (the page: ${url}/ui)`);
      const first = await people("POST", `/v1/operations/${r.decision.id}/approve`, tokens["alice-ops"], {});
      expect(first.status === 200 && first.json.status === "pending_approval", `alice-ops's approval answered ${first.status} ${first.json.status}`);
      this.say(`person   alice-ops approves → still ${first.json.status}: one approver is not a quorum of two`);
      const twice = await people("POST", `/v1/operations/${r.decision.id}/approve`, tokens["alice-ops"], {});
      expect(twice.status === 409, `alice-ops approving twice answered ${twice.status}`);
      this.say(`person   alice-ops again → ${twice.status} ${twice.json.error?.code}: the same approver never counts twice`);
      const second = await people("POST", `/v1/operations/${r.decision.id}/approve`, tokens["bob-ops"], {});
      expect(second.status === 200 && second.json.status === "approved", `bob-ops's approval answered ${second.status} ${second.json.status}`);
      this.say(`person   bob-ops approves → re-simulated at block ${second.json.simulation?.blockNumber} and co-signed`);
      const { txHash, receipt } = await agent.execute(r.proposal, second.json as Decision);
      expect(receipt.status === "success", `execute reverted (${txHash})`);
      this.say(`chain    executed: tx ${txHash}`);
      const counts = async (base: string) => {
        const text = await (await fetch(`${base}/metrics`)).text();
        const by: Record<string, number> = { auto: 0, person: 0, refused: 0 };
        for (const m of text.matchAll(/^countersign_policy_decisions_total\{rule="[^"]*",outcome="(\w+)"\} (\d+)/gm)) by[m[1]!] = (by[m[1]!] ?? 0) + Number(m[2]);
        return by;
      };
      const main = await counts(this.options.target.cosignerUrl);
      this.say(`workload this demo's co-signer decided ${main.auto + main.person + main.refused} operations: ${main.auto} signed alone, ${main.person} needed a person, ${main.refused} refused`);
      return `a 400 USDC first payment waited for two approvers (rule ${item!.rule.name}), was approved through the page's API by alice-ops and bob-ops, and executed in ${txHash}`;
    } finally {
      await service?.stop();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // ───────────── helpers ─────────────

  /**
   * Approves a held operation through the API (a person's step) and executes it (unless `execute: false`, as the
   * operation was proposed: the monitor may hold any operation, e.g. after a spending burst); the result otherwise.
   */
  private async settle(pending: Promise<OperationResult>, options: { execute?: boolean } = {}): Promise<OperationResult> {
    let r = await pending;
    if (r.decision.status !== "pending_approval") return r;
    this.showDecision(r.decision);
    if (!this.options.approverToken) {
      throw new Unexpected(`held for a person (${r.decision.reasons.map((x) => x.code).join(", ")}) and the demo has no APPROVER_TOKEN to approve it`);
    }
    const res = await this.api("POST", `/v1/operations/${r.decision.id}/approve`, { approver: "demo-approver" });
    expect(res.status === 200, `approve answered ${res.status}: ${JSON.stringify(res.json)}`);
    const decision = await this.client.waitForApproval(r.decision.id, { timeoutMs: 30_000, intervalMs: 200 });
    this.say(`person   approved ${decision.id} through POST /v1/operations/:id/approve (re-simulated at block ${decision.simulation?.blockNumber}) → ${decision.status}`);
    if (decision.status !== "approved") throw new CosignerRejectedError(decision);
    r = { ...r, decision };
    if (options.execute === false) return r;
    const { txHash, receipt } = await this.client.execute(r.proposal, decision);
    return { ...r, txHash, receipt };
  }

  private showDecision(d: Decision): void {
    const sim = d.simulation;
    const changes = sim?.changes.map((c) => `${this.name(c.account)} ${BigInt(c.delta) > 0n ? "+" : ""}${this.fmtAsset(BigInt(c.delta), c.asset)}`).join(", ");
    if (sim) {
      this.say(`simulate block ${sim.blockNumber}: ${sim.success ? `ok, ${changes || "no changes"}` : `reverts ${sim.revertReason ?? ""}`}, gas ${sim.gasUsed}`);
    }
    this.say(
      `decision ${d.id} ${d.status.toUpperCase()}${d.reasons.length ? ` ${d.reasons.map((r) => `${r.code} (${r.message})`).join("; ")}` : ""}; digest ${d.digest}${d.cosignerSignature ? "; co-signed" : ""}`,
    );
    this.showLogs(d.digest);
  }

  /** Prints the service's log lines (when the demo runs the service), those about `digest` first. */
  private showLogs(digest?: string): void {
    for (const line of this.drainLogs()) {
      if (digest && line.digest !== undefined && line.digest !== digest) continue;
      const { level: _l, time: _t, service: _s, component: _c, ...rest } = line;
      this.say(`log      ${JSON.stringify(rest)}`);
    }
  }

  private drainLogs(): Record<string, unknown>[] {
    const wanted = new Set(["decision", "operation refused", "breaker: wallet paused"]);
    return (this.options.drainLogs?.() ?? []).filter((l) => wanted.has(String(l.msg)));
  }

  private plan(index: number) {
    return planPayment(INVOICES[index]!, this.decimals);
  }

  private async usdcBudget() {
    const b = (await this.client.getWallet()).budgets.find((x) => x.token === this.usdc);
    if (!b) throw new Error("the wallet has no USDC budget");
    return b;
  }

  /** What the wallet says is available now, read on chain (the co-signer's fork may be a block behind). */
  private async chainAvailable(): Promise<bigint> {
    return (await this.pub.readContract({ address: this.options.target.wallet, abi: this.walletAbi, functionName: "available", args: [this.usdc] })) as bigint;
  }

  private async waitForPaused(paused: boolean): Promise<void> {
    await this.waitFor(async () => (await this.client.getWallet()).paused === paused, `the co-signer's fork to see paused=${paused}`);
  }

  private async waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Unexpected(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async ownerSend(functionName: string, args: readonly unknown[] = []): Promise<Hex> {
    const owner = devAccount(LOCAL_ROLES.owner);
    const onChain = (await this.pub.readContract({ address: this.options.target.wallet, abi: this.walletAbi, functionName: "owner" })) as Address;
    if (onChain !== owner.address) throw new Error(`the wallet's owner is ${onChain}, not Hardhat account 0: the demo runs on the local chain only`);
    return this.send(owner, functionName, args);
  }

  private async send(account: LocalAccount, functionName: string, args: readonly unknown[] = []): Promise<Hex> {
    const wallet = createWalletClient({ account, transport: http(this.options.target.rpcUrl) });
    const hash = await wallet.sendTransaction({
      account,
      chain: null,
      to: this.options.target.wallet,
      data: encodeFunctionData({ abi: this.walletAbi, functionName, args }),
    } as never);
    const receipt = await this.pub.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${functionName} reverted (${hash})`);
    return hash;
  }

  private async api(method: "POST" | "GET", path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.options.target.cosignerUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(this.options.approverToken ? { authorization: `Bearer ${this.options.approverToken}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  private async balance(token: Address, account: Address): Promise<bigint> {
    return this.pub.readContract({ address: token, abi: erc20, functionName: "balanceOf", args: [account] });
  }

  private name(address: string): string {
    return this.names.get(address) ?? (address === zeroAddress ? "native" : address);
  }

  private units(amount: string): bigint {
    return BigInt(Math.round(Number(amount) * 10 ** (this.decimals.USDC ?? 6)));
  }

  private fmt(amount: bigint): string {
    return `${formatUnits(amount, this.decimals.USDC ?? 6)} USDC`;
  }

  private fmtAsset(amount: bigint, asset: string): string {
    if (asset === "native") return `${formatUnits(amount, 18)} ETH`;
    const symbol = this.names.get(getAddress(asset));
    const places = symbol ? this.decimals[symbol] : undefined;
    return places !== undefined ? `${formatUnits(amount, places)} ${symbol}` : `${amount} of ${asset}`;
  }
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Unexpected(message);
}

/**
 * Whether the agent's operations are MCP tool calls (src/demo/mcp-agent.ts), where calldata goes only with the
 * wallet's declared changes (propose_call), never behind a transfer intent.
 */
function proposesByTool(client: CosignerClient): boolean {
  return (client as { proposesByTool?: boolean }).proposesByTool === true;
}

// ───────────── (g) ─────────────

/** What a self-contained scenario gets from the demo. */
interface ScenarioContext {
  options: DemoOptions;
  pub: PublicClient;
  usdc: Address;
  say(text: string): void;
  ownerSend(functionName: string, args?: readonly unknown[]): Promise<Hex>;
  api(method: "POST" | "GET", path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/**
 * (g) The co-signer's key leaks (on the local chain it is Hardhat account 2, a public key): someone with it and the
 * session key co-signs a payment outside the service and executes it. No decision has that digest, so the monitor
 * pauses the wallet with the guardian key and opens an incident naming the digest. The owner then unpauses, an
 * operator clears the flag and resolves the incident.
 * @example await leakedCosignerKey(demo.context())
 */
async function leakedCosignerKey(c: ScenarioContext): Promise<string> {
  const t = c.options.target;
  const walletAbi = loadArtifact("AgentWallet").abi;
  const alice = getAddress(t.recipients.alice!);
  if (await c.pub.readContract({ address: t.wallet, abi: walletAbi, functionName: "paused" })) {
    c.say(`setup    the wallet is paused from an earlier scenario; the owner unpauses it`);
    await c.ownerSend("unpause");
  }
  const op = {
    calls: transferCalls({ asset: c.usdc, to: alice, amount: 1_000_000n }),
    nonce: BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)),
    deadline: BigInt(Math.floor(Date.now() / 1000)) + 120n,
    callGasLimit: 1_000_000n,
    bounds: [],
  };
  const typed = operationTypedData(t.chainId, t.wallet, op);
  const agentSignature = await devAccount(LOCAL_ROLES.sessionKey).signTypedData(typed);
  const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(typed);
  const digest = hashTypedData(typed);
  c.say(`leak     the co-signer key signs 1 USDC to alice outside the service: digest ${digest} (no decision has it)`);
  const relayer = createWalletClient({ account: devAccount(LOCAL_ROLES.relayer), transport: http(t.rpcUrl) });
  const hash = await relayer.writeContract({
    address: t.wallet,
    abi: walletAbi,
    functionName: "execute",
    args: executeArgs(op, agentSignature, cosignature),
    chain: null,
    gas: FIXED_GAS,
  });
  const receipt = await c.pub.waitForTransactionReceipt({ hash });
  expect(receipt.status === "success", `the leaked operation did not execute (${hash})`);
  c.say(`chain    executed with both signatures in block ${receipt.blockNumber}: tx ${hash}`);
  const deadline = Date.now() + 20_000;
  while (!(await c.pub.readContract({ address: t.wallet, abi: walletAbi, functionName: "paused" }))) {
    if (Date.now() > deadline) throw new Unexpected("the wallet was not paused within 20 s: is the service's monitor running (MONITOR_ENABLED)?");
    await new Promise((r) => setTimeout(r, 100));
  }
  const pausedAt = await c.pub.getBlockNumber();
  c.say(`monitor  Executed(${digest.slice(0, 10)}…) has no approved decision → pause() with the guardian key; paused by block ${pausedAt}`);
  let detail = `the monitor paused the wallet ${pausedAt - receipt.blockNumber} block(s) after the leaked execution`;
  try {
    if (c.options.approverToken) {
      // Any open pause incident of the wallet (an earlier, unresolved one collects this evidence too).
      const res = await c.api("GET", `/v1/incidents?state=open&wallet=${t.wallet}`);
      const incident = (res.json as { incidents?: { id: string; evidence: { digest?: string }[]; actions: { txHash: string | null; status: string }[] }[] }).incidents?.find(
        (i) => i.evidence.some((e) => e.digest === digest),
      );
      expect(!!incident, `no open incident names digest ${digest}`);
      c.say(`incident ${incident!.id}: evidence of rule unattributed_execution names digest ${digest}; pause tx ${incident!.actions.at(-1)?.txHash} (${incident!.actions.at(-1)?.status})`);
      await c.api("POST", `/v1/incidents/${incident!.id}/ack`, { operator: "demo" });
      detail += `; incident ${incident!.id} names the digest`;
      c.say(`on-call  acknowledged; the owner unpauses (docs/runbook.md), the operator clears the flag and resolves the incident`);
      await c.ownerSend("unpause");
      await c.api("POST", `/v1/wallets/${t.wallet}/anomaly/clear`, { operator: "demo" });
      await c.api("POST", `/v1/incidents/${incident!.id}/resolve`, { operator: "demo", note: "demo: rotate the co-signer key" });
    } else {
      c.say(`owner    unpauses (no APPROVER_TOKEN: the incident is in GET /v1/incidents for an operator)`);
      await c.ownerSend("unpause");
    }
  } finally {
    if (await c.pub.readContract({ address: t.wallet, abi: walletAbi, functionName: "paused" })) await c.ownerSend("unpause");
  }
  return detail;
}
