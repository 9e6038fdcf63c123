import { expect } from "chai";
import {
  createPublicClient,
  createWalletClient,
  custom,
  getAddress,
  http,
  parseAbi,
  parseEther,
  parseEventLogs,
  toFunctionSelector,
  type Address,
  type PublicClient,
} from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import {
  CosignerClient,
  CosignerRejectedError,
  CosignerRequestError,
  ExecutionRevertedError,
  NonceSource,
  transferCalls,
  type OperationResult,
} from "../../src/client";
import { balanceOf, bearer, call, eventually, startHttpHarness, usdc, walletRead, walletTx, type HttpHarness } from "../support/http";

const alice = devAccount(LOCAL_ROLES.alice).address;
const bob = devAccount(LOCAL_ROLES.bob).address;
const mallory = devAccount(LOCAL_ROLES.mallory).address;
const erc20 = parseAbi(["function allowance(address owner, address spender) view returns (uint256)"]);

/** Runs `fn` and returns what it threw (fails if it did not throw). */
async function thrown<T extends Error>(fn: () => Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(type);
    return err as T;
  }
  expect.fail(`expected ${type.name}`);
}

describe("agent SDK: CosignerClient against the service over HTTP (end to end)", function () {
  this.timeout(180_000);
  let h: HttpHarness;
  let client: CosignerClient;
  let pub: PublicClient;
  let usdcToken: Address;

  before(async function () {
    // USDC outflows above 300 go to a person, so the SDK's pending path can be driven.
    h = await startHttpHarness((d) => ({ REVIEW_THRESHOLDS: JSON.stringify({ [d.tokens.USDC!]: usdc(300).toString() }) }));
    pub = createPublicClient({ transport: http(h.node.url), pollingInterval: 100 }) as PublicClient;
    usdcToken = h.deployment.tokens.USDC!;
    client = new CosignerClient({
      cosignerUrl: h.url,
      publicClient: pub,
      sessionKey: devAccount(LOCAL_ROLES.sessionKey),
      wallet: h.deployment.wallet,
    });
  });
  after(async function () {
    await h?.stop();
  });

  describe("transfer", function () {
    let result: OperationResult;
    let aliceBefore: bigint;
    before(async function () {
      aliceBefore = await balanceOf(h, usdcToken, alice);
      result = await client.transfer({ asset: usdcToken, to: alice, amount: usdc(12), memo: "invoice 1" });
    });

    it("is approved and executed on chain from the session key's own account", async function () {
      expect(result.decision.status).to.equal("approved");
      expect(result.receipt?.status).to.equal("success");
      expect(result.receipt?.from.toLowerCase()).to.equal(devAccount(LOCAL_ROLES.sessionKey).address.toLowerCase());
      expect((await balanceOf(h, usdcToken, alice)) - aliceBefore).to.equal(usdc(12));
    });

    it("is attributed: the Executed event carries the decision's digest, which the proposal computed locally", async function () {
      const [event] = parseEventLogs({ abi: loadArtifact("AgentWallet").abi, logs: result.receipt!.logs, eventName: "Executed" }) as unknown as {
        args: { digest: string; nonce: bigint };
      }[];
      expect(event!.args.digest).to.equal(result.decision.digest);
      expect(result.proposal.digest).to.equal(result.decision.digest);
      expect(event!.args.nonce).to.equal(result.proposal.nonce);
    });

    it("sends the memo in the intent and can be read back with getOperation", async function () {
      expect(result.proposal.intent).to.include({ kind: "transfer", memo: "invoice 1" });
      const stored = await client.getOperation(result.decision.id);
      expect(stored).to.deep.include({ id: result.decision.id, status: "approved", digest: result.decision.digest });
    });

    it("signs callGasLimit 1 000 000 and no bounds for a plain transfer of a budgeted token", async function () {
      expect(result.proposal.callGasLimit).to.equal(1_000_000n);
      expect(result.proposal.bounds).to.deep.equal([]);
    });

    it("pays native ETH with an empty-calldata call, signed with no bounds", async function () {
      const before = await pub.getBalance({ address: bob });
      const r = await client.transfer({ asset: "native", to: bob, amount: parseEther("0.01") });
      expect(r.proposal.calls).to.deep.equal([{ target: bob, value: parseEther("0.01"), data: "0x" }]);
      expect(r.proposal.bounds).to.deep.equal([]);
      expect(r.receipt?.status).to.equal("success");
      expect((await pub.getBalance({ address: bob })) - before).to.equal(parseEther("0.01"));
    });
  });

  describe("swap", function () {
    it("approves exactly the sold amount, swaps on the DEX and leaves no allowance", async function () {
      const weth = h.deployment.tokens.WETH!;
      const wethBefore = await balanceOf(h, weth, h.deployment.wallet);
      const r = await client.swap({
        sell: { asset: usdcToken, maxAmount: usdc(40) },
        buy: { asset: weth, minAmount: parseEther("0.009") },
        via: { dex: h.deployment.dex },
        memo: "rebalance",
      });
      expect(r.decision.status).to.equal("approved");
      expect(r.proposal.calls).to.have.length(2);
      expect(r.proposal.bounds).to.deep.equal([
        { asset: usdcToken, account: h.deployment.wallet, minDelta: -usdc(40) },
        { asset: weth, account: h.deployment.wallet, minDelta: parseEther("0.009") },
      ]);
      expect(r.receipt?.status).to.equal("success");
      expect((await balanceOf(h, weth, h.deployment.wallet)) - wethBefore).to.equal(parseEther("0.01"));
      expect(await pub.readContract({ address: usdcToken, abi: erc20, functionName: "allowance", args: [h.deployment.wallet, h.deployment.dex] })).to.equal(0n);
    });
  });

  describe("call", function () {
    it("executes arbitrary calls whose net change is exactly the declared one", async function () {
      const holders = [h.deployment.wallet, alice, bob];
      const balances = () => Promise.all(holders.map((a) => balanceOf(h, usdcToken, a)));
      const before = await balances();
      const calls = [...transferCalls({ asset: usdcToken, to: alice, amount: usdc(3) }), ...transferCalls({ asset: usdcToken, to: bob, amount: usdc(2) })];
      const r = await client.call({ calls, expect: [{ asset: usdcToken, delta: -usdc(5) }], memo: "two payees" });
      expect(r.decision.status).to.equal("approved");
      expect(r.proposal.bounds).to.deep.equal([{ asset: usdcToken, account: h.deployment.wallet, minDelta: -usdc(5) }]);
      expect(r.receipt?.status).to.equal("success");
      // On the real chain: the wallet's USDC moved by exactly the declared -5, split 3 to alice and 2 to bob.
      const after = await balances();
      expect(after.map((b, i) => b - before[i]!)).to.deep.equal([-usdc(5), usdc(3), usdc(2)]);
      // ...and the co-signer's simulation said the same before it signed.
      expect(r.decision.simulation?.changes).to.deep.include({ account: h.deployment.wallet, asset: usdcToken, delta: (-usdc(5)).toString() });
    });
  });

  describe("callGasLimit and bounds", function () {
    it("signs and sends a per-operation callGasLimit: the co-signer's digest is the proposal's and the wallet runs it", async function () {
      const r = await client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }, { callGasLimit: 200_000n });
      expect(r.proposal.callGasLimit).to.equal(200_000n);
      expect(r.decision.digest).to.equal(r.proposal.digest);
      expect(r.receipt?.status).to.equal("success");
    });

    it("uses the client's callGasLimit option as the default", async function () {
      const other = new CosignerClient({ cosignerUrl: h.url, publicClient: pub, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: h.deployment.wallet, callGasLimit: 300_000n });
      const proposal = await other.sign(transferCalls({ asset: usdcToken, to: alice, amount: 1n }), { kind: "transfer", asset: usdcToken, to: alice, amount: 1n });
      expect(proposal.callGasLimit).to.equal(300_000n);
    });

    it("signs the derived bounds for a transfer of a token the wallet does not budget, and the wallet executes it within them", async function () {
      const owner = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), transport: http(h.node.url) });
      const artifact = loadArtifact("MockERC20");
      const hash = await owner.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args: ["Unbudgeted", "UNB", 18], chain: null });
      const token = getAddress((await pub.waitForTransactionReceipt({ hash })).contractAddress!);
      await pub.waitForTransactionReceipt({
        hash: await owner.writeContract({ address: token, abi: artifact.abi, functionName: "mint", args: [h.deployment.wallet, 10n ** 18n], chain: null }),
      });
      await walletTx(h, "setCallPermission", [token, toFunctionSelector("transfer(address,uint256)"), true]);
      await eventually(async () => (await client.getWallet()).callPermissions.some((p) => p.target === token), "the fork to see the permission");
      const r = await client.transfer({ asset: token, to: alice, amount: 5n * 10n ** 17n });
      expect(r.proposal.bounds).to.deep.equal([
        { asset: token, account: h.deployment.wallet, minDelta: -(5n * 10n ** 17n) },
        { asset: token, account: alice, minDelta: 5n * 10n ** 17n },
      ]);
      expect(r.decision.status, JSON.stringify(r.decision.reasons)).to.equal("approved");
      expect(r.receipt?.status).to.equal("success");
      expect(await balanceOf(h, token, alice)).to.equal(5n * 10n ** 17n);
    });

    it("reads whether a token is budgeted once per token, then from its cache", async function () {
      const budgetSelector = toFunctionSelector("budget(address)");
      let reads = 0;
      const counting = createPublicClient({
        transport: custom({
          request: async (args: { method: string; params?: unknown }) => {
            const params = args.params as { data?: string; input?: string }[] | undefined;
            const data = params?.[0]?.data ?? params?.[0]?.input;
            if (args.method === "eth_call" && data?.startsWith(budgetSelector)) reads += 1;
            return pub.request(args as never);
          },
        }),
      }) as PublicClient;
      const c = new CosignerClient({ cosignerUrl: h.url, publicClient: counting, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: h.deployment.wallet });
      const intent = { kind: "transfer" as const, asset: usdcToken, to: alice, amount: 1n };
      for (let i = 0; i < 3; i++) expect((await c.sign(transferCalls(intent), intent)).bounds).to.deep.equal([]);
      expect(reads).to.equal(1);
      const native = { kind: "transfer" as const, asset: "native" as const, to: alice, amount: 1n };
      expect((await c.sign(transferCalls(native), native)).bounds).to.deep.equal([]);
      expect(reads).to.equal(1);
    });

    it("signs the derived bounds when a transfer intent comes with calls that are not a plain transfer", async function () {
      const calls = [...transferCalls({ asset: usdcToken, to: alice, amount: 1n }), { target: h.deployment.dex, value: 0n, data: "0x12345678" as const }];
      const proposal = await client.sign(calls, { kind: "transfer", asset: usdcToken, to: alice, amount: 1n });
      expect(proposal.bounds).to.have.length(2);
      expect(proposal.bounds[0]).to.deep.equal({ asset: usdcToken, account: h.deployment.wallet, minDelta: -1n });
    });
  });

  describe("submitter", function () {
    it("sends execute from the agent's own EOA when one is given, signing still with the session key", async function () {
      const relayer = devAccount(LOCAL_ROLES.relayer);
      const viaRelayer = new CosignerClient({
        cosignerUrl: h.url,
        rpcUrl: h.node.url,
        sessionKey: devAccount(LOCAL_ROLES.sessionKey),
        wallet: h.deployment.wallet,
        chainId: h.deployment.chainId,
        submitter: createWalletClient({ account: relayer, transport: http(h.node.url) }),
      });
      const r = await viaRelayer.transfer({ asset: usdcToken, to: alice, amount: usdc(1) });
      expect(r.receipt?.from.toLowerCase()).to.equal(relayer.address.toLowerCase());
    });
  });

  describe("nonces", function () {
    it("hands out distinct nonces, sequential within one bitmap word", async function () {
      // A client of this test's own: its nonces start at the first of a fresh random word.
      const fresh = new CosignerClient({ cosignerUrl: h.url, publicClient: pub, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: h.deployment.wallet });
      const nonces: bigint[] = [];
      for (let i = 0; i < 4; i++) nonces.push((await fresh.sign(transferCalls({ asset: usdcToken, to: alice, amount: 1n }), { kind: "call", expect: [] })).nonce);
      expect(new Set(nonces).size).to.equal(4);
      expect(nonces[0]! % 256n, "the first nonce of its word").to.equal(0n);
      expect(nonces.map((n) => n - nonces[0]!)).to.deep.equal([0n, 1n, 2n, 3n]);
      expect(nonces.map((n) => n >> 8n)).to.deep.equal(Array(4).fill(nonces[0]! >> 8n));
    });

    it("walks a word to its last nonce (index 255), then moves to the first nonce of another word", async function () {
      const word = 0x5eedn;
      const nonces = new NonceSource((n) => client.isNonceUsed(n), word);
      const handed: bigint[] = [];
      for (let i = 0; i < 257; i++) handed.push(await nonces.next());
      expect(handed.slice(0, 256)).to.deep.equal(Array.from({ length: 256 }, (_, i) => word * 256n + BigInt(i)));
      const next = handed[256]!;
      expect(next >> 8n).to.not.equal(word);
      expect(next % 256n).to.equal(0n);
    });

    it("skips a nonce already used on chain", async function () {
      const word = 0xabcdefn;
      await walletTx(h, "invalidateNonce", [word * 256n], LOCAL_ROLES.guardian);
      const nonces = new NonceSource((n) => client.isNonceUsed(n), word);
      expect(await nonces.next()).to.equal(word * 256n + 1n);
    });
  });

  describe("when the co-signer rejects", function () {
    it("throws CosignerRejectedError with RECIPIENT_NOT_ALLOWED for a recipient off the allowlist", async function () {
      const err = await thrown(() => client.transfer({ asset: usdcToken, to: mallory, amount: usdc(900) }), CosignerRejectedError);
      expect(err.codes).to.deep.equal(["RECIPIENT_NOT_ALLOWED"]);
      expect(err.decision.status).to.equal("rejected");
      expect(err.decision.cosignerSignature).to.equal(undefined);
    });

    it("throws CosignerRejectedError with INTENT_MISMATCH when the calldata does not do what the intent says", async function () {
      const calls = transferCalls({ asset: usdcToken, to: alice, amount: usdc(6) });
      const err = await thrown(() => client.operate(calls, { kind: "transfer", asset: usdcToken, to: bob, amount: usdc(6) }), CosignerRejectedError);
      expect(err.codes).to.include("INTENT_MISMATCH");
      expect(err.decision.simulation?.success).to.equal(true);
    });

    it("returns the rejected decision from propose without throwing", async function () {
      const { decision } = await client.propose(transferCalls({ asset: usdcToken, to: mallory, amount: usdc(1) }), {
        kind: "transfer",
        asset: usdcToken,
        to: mallory,
        amount: usdc(1),
      });
      expect(decision.status).to.equal("rejected");
    });
  });

  describe("when a person must approve", function () {
    it("returns pending_approval without executing; after approval, waitForApproval and execute settle it on chain", async function () {
      const bobBefore = await balanceOf(h, usdcToken, bob);
      const r = await client.transfer({ asset: usdcToken, to: bob, amount: usdc(350) });
      expect(r.decision.status).to.equal("pending_approval");
      expect(r.decision.reasons.map((x) => x.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD"]);
      expect(r.txHash).to.equal(undefined);
      const approve = await call(h.url, "POST", `/v1/operations/${r.decision.id}/approve`, { approver: "test" }, bearer(h.token));
      expect(approve.status, JSON.stringify(approve.body)).to.equal(200);
      const decision = await client.waitForApproval(r.decision.id, { timeoutMs: 30_000, intervalMs: 100 });
      expect(decision.status).to.equal("approved");
      const { receipt } = await client.execute(r.proposal, decision);
      expect(receipt.status).to.equal("success");
      expect((await balanceOf(h, usdcToken, bob)) - bobBefore).to.equal(usdc(350));
    });

    it("waitForApproval returns the rejected decision when a person rejects", async function () {
      const r = await client.transfer({ asset: usdcToken, to: bob, amount: usdc(301) });
      await call(h.url, "POST", `/v1/operations/${r.decision.id}/reject`, { approver: "test", note: "no" }, bearer(h.token));
      const decision = await client.waitForApproval(r.decision.id, { timeoutMs: 30_000, intervalMs: 100 });
      expect(decision.status).to.equal("rejected");
      expect(decision.reasons.map((x) => x.code)).to.deep.equal(["REJECTED_BY_APPROVER"]);
    });

    it("waitForApproval gives up with APPROVAL_TIMEOUT while nobody decides", async function () {
      const r = await client.transfer({ asset: usdcToken, to: bob, amount: usdc(302) });
      const err = await thrown(() => client.waitForApproval(r.decision.id, { timeoutMs: 300, intervalMs: 100 }), CosignerRequestError);
      expect(err.code).to.equal("APPROVAL_TIMEOUT");
    });
  });

  describe("when the co-signer cannot decide", function () {
    it("throws CosignerRequestError 400 INVALID_REQUEST for an intent the API refuses", async function () {
      const err = await thrown(() => client.transfer({ asset: usdcToken, to: alice, amount: usdc(1), memo: "x".repeat(501) }), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([400, "INVALID_REQUEST"]);
    });

    it("throws CosignerRequestError 401 UNKNOWN_SESSION_KEY when the signing key is not a session key", async function () {
      const stranger = new CosignerClient({ cosignerUrl: h.url, publicClient: pub, sessionKey: devAccount(9), wallet: h.deployment.wallet });
      const err = await thrown(() => stranger.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([401, "UNKNOWN_SESSION_KEY"]);
    });

    it("throws CosignerRequestError 409 NONCE_CONFLICT for another operation on a nonce already decided", async function () {
      const nonce = 31_337n;
      const first = await client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }, { nonce, execute: false });
      expect(first.decision.status).to.equal("approved");
      const err = await thrown(() => client.transfer({ asset: usdcToken, to: alice, amount: usdc(2) }, { nonce }), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([409, "NONCE_CONFLICT"]);
    });

    it("throws CosignerRequestError 422 DEADLINE_TOO_FAR for a deadline beyond the co-signer's TTL", async function () {
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3_600);
      const err = await thrown(() => client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }, { deadline }), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([422, "DEADLINE_TOO_FAR"]);
    });

    it("throws CosignerRequestError 404 NOT_FOUND for an unknown operation id", async function () {
      const err = await thrown(() => client.getOperation("op_does_not_exist"), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([404, "NOT_FOUND"]);
    });

    it("throws CosignerRequestError UNREACHABLE (status 0) when no co-signer answers", async function () {
      const nowhere = new CosignerClient({ cosignerUrl: "http://127.0.0.1:1", publicClient: pub, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: h.deployment.wallet });
      const err = await thrown(() => nowhere.getWallet(), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([0, "UNREACHABLE"]);
    });

    it("returns the first decision again for a retried proposal with the same idempotency key", async function () {
      const calls = transferCalls({ asset: usdcToken, to: alice, amount: usdc(1) });
      const intent = { kind: "transfer" as const, asset: usdcToken, to: alice, amount: usdc(1) };
      const options = { nonce: 4242n, deadline: BigInt(Math.floor(Date.now() / 1000) + 120), idempotencyKey: "retry-1" };
      const first = await client.propose(calls, intent, options);
      const second = await client.propose(calls, intent, options);
      expect(second.decision.id).to.equal(first.decision.id);
    });
  });

  describe("when the wallet refuses on chain", function () {
    it("throws ExecutionRevertedError before sending when the estimate reverts (NonceAlreadyUsed)", async function () {
      const r = await client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }, { execute: false });
      await walletTx(h, "invalidateNonce", [r.proposal.nonce], LOCAL_ROLES.guardian);
      const err = await thrown(() => client.execute(r.proposal, r.decision), ExecutionRevertedError);
      expect(err.errorName).to.equal("NonceAlreadyUsed");
      expect(err.args).to.deep.equal([r.proposal.nonce]);
      expect(err.code).to.equal("NONCE_USED");
      expect(err.stage).to.equal("estimate");
      expect(err.txHash).to.equal(undefined);
    });

    it("throws ExecutionRevertedError with the mined transaction when sent with a fixed gas limit (BudgetExceeded)", async function () {
      const available = await walletRead<bigint>(h, "available", [usdcToken]);
      const cap = (await walletRead<readonly bigint[]>(h, "budget", [usdcToken]))[2]!;
      // Co-sign A within budget, then spend the budget with another approved operation, then send A.
      const a = available - 1n < cap ? available - 1n : cap;
      const A = await client.transfer({ asset: usdcToken, to: alice, amount: a }, { execute: false });
      expect(A.decision.status, JSON.stringify(A.decision.reasons)).to.be.oneOf(["approved", "pending_approval"]);
      if (A.decision.status === "pending_approval") {
        await call(h.url, "POST", `/v1/operations/${A.decision.id}/approve`, {}, bearer(h.token));
        A.decision = await client.waitForApproval(A.decision.id, { timeoutMs: 30_000, intervalMs: 100 });
      }
      // Outflows above 300 USDC would wait for a person: spend in steps of at most 300.
      let left = available - a + usdc(5);
      while (left > 0n) {
        const amount = left > usdc(300) ? usdc(300) : left;
        const b = await client.transfer({ asset: usdcToken, to: bob, amount });
        expect(b.receipt?.status).to.equal("success");
        left -= amount;
      }
      const err = await thrown(() => client.execute(A.proposal, A.decision, { gas: 2_000_000n }), ExecutionRevertedError);
      expect(err.errorName).to.equal("BudgetExceeded");
      expect(err.args[0]).to.equal(usdcToken);
      expect(err.args[1]).to.equal(a);
      expect(err.code).to.equal("OVER_BUDGET");
      expect(err.stage).to.equal("mined");
      expect(err.receipt?.status).to.equal("reverted");
      expect(err.txHash).to.match(/^0x[0-9a-f]{64}$/);
    });
  });

  describe("when the relayer leaves too little gas for callGasLimit", function () {
    it("the wallet reverts InsufficientGas on chain instead of starving a call, and the nonce stays unused", async function () {
      const r = await client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }, { execute: false });
      const err = await thrown(() => client.execute(r.proposal, r.decision, { gas: 600_000n }), ExecutionRevertedError);
      expect(err.errorName).to.equal("InsufficientGas");
      expect(err.args[0]).to.equal(0n);
      expect(err.args[1]).to.equal(1_000_000n);
      expect(err.stage).to.equal("mined");
      expect(await client.isNonceUsed(r.proposal.nonce)).to.equal(false);
      const { receipt } = await client.execute(r.proposal, r.decision);
      expect(receipt.status).to.equal("success");
    });
  });

  describe("getWallet", function () {
    it("returns the policy typed: budgets with what is available now, recipients, call permissions, session keys", async function () {
      const info = await client.getWallet();
      expect(info.address).to.equal(h.deployment.wallet);
      expect(info.paused).to.equal(false);
      const budget = info.budgets.find((b) => b.token === usdcToken)!;
      expect(budget.limit).to.equal(usdc(1000));
      expect(budget.maxPerOperation).to.equal(usdc(500));
      expect(typeof budget.available).to.equal("bigint");
      expect(info.budgets.some((b) => b.token === "native")).to.equal(true);
      expect(info.recipients).to.include.members([alice, bob]);
      expect(info.callPermissions.map((p) => p.target)).to.include(h.deployment.dex);
      expect(info.sessionKeys[0]).to.deep.include({ key: devAccount(LOCAL_ROLES.sessionKey).address, active: true });
    });
  });

  describe("when the wallet is paused", function () {
    before(async function () {
      const res = await call(h.url, "POST", `/v1/wallets/${h.deployment.wallet}/pause`, { reason: "sdk test" }, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      await eventually(async () => (await client.getWallet()).paused, "the fork to see the pause");
    });
    after(async function () {
      await walletTx(h, "unpause");
    });

    it("throws CosignerRequestError 503 WALLET_PAUSED for every operation", async function () {
      const err = await thrown(() => client.transfer({ asset: usdcToken, to: alice, amount: usdc(1) }), CosignerRequestError);
      expect([err.status, err.code]).to.deep.equal([503, "WALLET_PAUSED"]);
      const err2 = await thrown(
        () => client.swap({ sell: { asset: usdcToken, maxAmount: usdc(4) }, buy: { asset: h.deployment.tokens.WETH!, minAmount: 1n }, via: { dex: h.deployment.dex } }),
        CosignerRequestError,
      );
      expect(err2.code).to.equal("WALLET_PAUSED");
    });

    it("reports paused in getWallet", async function () {
      expect((await client.getWallet()).paused).to.equal(true);
    });
  });
});
