/**
 * Issue 7 against the real co-signer: each attack that was co-signed and executed with a loss under version 1.
 * Where the fork can see the difference, the co-signer refuses; where it cannot (a time bomb, tx.origin, block
 * hashes), it approves, and the operation then runs on the real chain, where the wallet enforces the bounds the
 * co-signer accepted and refuses with BoundViolated: the wallet loses nothing.
 */
import { expect } from "chai";
import { encodeFunctionData, parseEther, toFunctionSelector, type Abi, type Address, type Hex } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { executeArgs, operationTypedData, type Call } from "../../src/eip712";
import { ValidationError } from "../../src/errors";
import { boundsJson, deriveBounds } from "../../src/intent/bounds";
import { intentSchema, parseOperationRequest } from "../../src/intent/schema";
import { describeRevert } from "../../src/policy/revert-reasons";
import { operationOf, proposal, transferCall, usdc, executeOnChain, type CosignerHarness, type Proposal, type ProposalOptions } from "../support/cosigner";
import {
  artifact,
  asOwner,
  balanceOf,
  chainTime,
  countForkRuns,
  deployMock,
  erc20,
  expectApproved,
  expectRefusal,
  expectRejected,
  increaseTime,
  publicClient,
  relayRaw,
  ROLES,
  send,
  simulateWithoutBounds,
  startEngineHarness,
  syncFork,
  upstreamBlock,
  walletAbi,
} from "../support/engine";

const DAY = 86_400n;
const SOLD = parseEther("0.1");
const BOUGHT = usdc(100);

describe("engine: outcome-bound operations (issue 7)", function () {
  let h: CosignerHarness;
  let wallet: Address;
  let USDC: Address;
  let alice: Address;
  let fickle: Address;
  let pool: Address;
  const fickleAbi = () => artifact("FickleSwap").abi;
  const poolAbi = () => artifact("MockLendingPool").abi;
  const relayer = devAccount(ROLES.relayer).address;

  const call = (target: Address, abi: Abi, functionName: string, args: readonly unknown[], value = 0n): Call => ({
    target,
    value,
    data: encodeFunctionData({ abi, functionName, args } as never),
  });
  /** Sell 0.1 ETH for at least 100 USDC. */
  const swapIntent = { kind: "swap", sell: { asset: "native", maxAmount: SOLD.toString() }, buy: { asset: "", minAmount: BOUGHT.toString() } };
  const swap = (functionName: string, arg: unknown) => call(fickle, fickleAbi(), functionName, [USDC, BOUGHT, arg], SOLD);
  const propose = async (calls: Call[], intent: Record<string, unknown>, opts: ProposalOptions = {}) => {
    const body = await proposal(h, calls, intent, opts);
    return { body, decision: await h.cosigner.engine.propose(body) };
  };

  /** The wallet's balances of ETH and USDC, and whether the nonce was used. */
  async function walletState(nonce: string) {
    const used = await publicClient(h).readContract({ address: wallet, abi: walletAbi(), functionName: "isNonceUsed", args: [BigInt(nonce)] });
    return { eth: await balanceOf(h, "native", wallet), usdc: await balanceOf(h, USDC, wallet), used };
  }

  /**
   * Relays the co-signed operation on the real chain from `from` and expects the wallet to refuse it with
   * BoundViolated on USDC, losing nothing (balances and nonce unchanged).
   */
  async function expectChainRefuses(body: Proposal, cosignerSignature: Hex, from = ROLES.relayer): Promise<void> {
    const before = await walletState(body.nonce);
    const data = encodeFunctionData({ abi: walletAbi(), functionName: "execute", args: executeArgs(operationOf(body), body.agentSignature, cosignerSignature) });
    const { status, revertData } = await relayRaw(h, from, wallet, data, 3_000_000n);
    expect(status, "the chain refuses the execution").to.equal("reverted");
    expect(describeRevert(revertData).text).to.equal(`BoundViolated(${USDC}, ${wallet}, ${BOUGHT}, 0)`);
    expect(await walletState(body.nonce)).to.deep.equal(before);
  }

  before(async function () {
    h = await startEngineHarness({ review: (d) => ({ thresholds: new Map([[d.tokens.USDC!, usdc(1000)]]) }) });
    wallet = h.deployment.wallet;
    USDC = h.deployment.tokens.USDC!;
    alice = h.deployment.recipients.alice!;
    swapIntent.buy.asset = USDC;
    fickle = await deployMock(h, "FickleSwap");
    pool = await deployMock(h, "MockLendingPool");
    await send(h, ROLES.owner, USDC, erc20, "mint", [fickle, usdc(1_000_000)]);
    await send(h, ROLES.owner, USDC, erc20, "mint", [pool, usdc(1_000_000)]);
    for (const fn of [
      "swapIfGasAbove(address,uint256,uint256)",
      "swapUntil(address,uint256,uint256)",
      "swapUnlessOrigin(address,uint256,address)",
      "swapUnlessBlockhash(address,uint256,uint256)",
    ]) {
      await asOwner(h, "setCallPermission", [fickle, toFunctionSelector(fn), true]);
    }
    await asOwner(h, "setCallPermission", [pool, toFunctionSelector("borrow(address,uint256)"), true]);
    await syncFork(h);
  });
  after(async function () {
    await h?.stop();
  });

  describe("a swap that pays only when gasleft() is above 29M", function () {
    it("approves the same swap when it pays under callGasLimit (control case)", async function () {
      const { decision } = await propose([swap("swapIfGasAbove", 500_000n)], swapIntent);
      expectApproved(decision);
    });

    it("is refused with BOUND_VIOLATED: on the fork the callee gets exactly callGasLimit, as on chain, and does not pay", async function () {
      const { decision } = await propose([swap("swapIfGasAbove", 29_000_000n)], swapIntent);
      const [message] = expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${wallet}, ${BOUGHT}, 0)`);
      expect(message).to.equal(`the wallet refuses on chain: BoundViolated(${USDC}, ${wallet}, ${BOUGHT}, 0)`);
    });

    it("is refused by the chain too with a leaked co-signer key, whatever gas the relayer sends", async function () {
      const body = await proposal(h, [swap("swapIfGasAbove", 29_000_000n)], swapIntent);
      const leaked = await devAccount(ROLES.cosigner).signTypedData(operationTypedData(h.deployment.chainId, wallet, operationOf(body)));
      const before = await walletState(body.nonce);
      const data = encodeFunctionData({ abi: walletAbi(), functionName: "execute", args: executeArgs(operationOf(body), body.agentSignature, leaked) });
      const { status, revertData } = await relayRaw(h, ROLES.relayer, wallet, data, 29_500_000n);
      expect(status).to.equal("reverted");
      expect(describeRevert(revertData).text).to.equal(`BoundViolated(${USDC}, ${wallet}, ${BOUGHT}, 0)`);
      expect(await walletState(body.nonce)).to.deep.equal(before);
      await syncFork(h);
    });
  });

  describe("contracts that tell the fork from the chain (the co-signer cannot see it; the chain refuses)", function () {
    it("a swap that pays unless tx.origin is the relayer that really sends: approved on the fork, refused on chain", async function () {
      const { body, decision } = await propose([swap("swapUnlessOrigin", relayer)], swapIntent);
      expectApproved(decision);
      expect(decision.simulation!.changes).to.deep.include({ account: wallet, asset: USDC, delta: BOUGHT.toString() });
      await expectChainRefuses(body, decision.cosignerSignature!, ROLES.relayer);
      await syncFork(h);
    });

    it("a swap that pays unless blockhash(n) is the one recorded on chain: approved on the fork, refused on chain", async function () {
      // A block mined after the fork was made (the permissions above): the fork's own block n has another hash.
      const n = (await upstreamBlock(h)) - 1n;
      await send(h, ROLES.owner, fickle, fickleAbi(), "record", [n]);
      await syncFork(h);
      const { body, decision } = await propose([swap("swapUnlessBlockhash", n)], swapIntent);
      expectApproved(decision);
      await expectChainRefuses(body, decision.cosignerSignature!);
      await syncFork(h);
    });

    it("a time bomb (pays until a second a little ahead): approved on the fork, refused on chain once the second passed", async function () {
      const until = (await chainTime(h)) + 30n;
      const { body, decision } = await propose([swap("swapUntil", until)], swapIntent);
      expectApproved(decision);
      await increaseTime(h, 40);
      await expectChainRefuses(body, decision.cosignerSignature!);
      await syncFork(h);
    });

    it("the same swaps execute on chain when nothing differs (control case: the bounds hold)", async function () {
      const { body, decision } = await propose([swap("swapUnlessOrigin", relayer)], swapIntent);
      expectApproved(decision);
      const before = await balanceOf(h, USDC, wallet);
      const receipt = await executeOnChain(h, body, decision.cosignerSignature!, ROLES.alice);
      expect(receipt.status).to.equal("success");
      expect((await balanceOf(h, USDC, wallet)) - before).to.equal(BOUGHT);
      await syncFork(h);
    });
  });

  describe("an inflow hiding an outflow: [pool.borrow(USDC, 5000), USDC.transfer(alice, 5000)]", function () {
    const borrowAndPay = () => [call(pool, poolAbi(), "borrow", [USDC, usdc(5000)]), transferCall(USDC, alice, usdc(5000))];
    const netZero = { kind: "call", expect: [] };

    it("is rejected on the demo wallet: the gross outflow is above the per-operation cap (OVER_PER_OPERATION_CAP)", async function () {
      const { decision } = await propose(borrowAndPay(), netZero);
      expectRejected(decision, "OVER_PER_OPERATION_CAP");
      expect(decision.simulation!.revertReason).to.equal(`PerOperationCapExceeded(${USDC}, 5000000000, 500000000)`);
    });

    describe("on a wallet whose cap is high", function () {
      before(async function () {
        await asOwner(h, "setBudget", [{ token: USDC, limit: usdc(100_000), period: DAY, maxPerOperation: usdc(10_000) }]);
        await syncFork(h);
      });
      after(async function () {
        await asOwner(h, "setBudget", [{ token: USDC, limit: usdc(1000), period: DAY, maxPerOperation: usdc(500) }]);
        await syncFork(h);
      });

      it("is held for review (ABOVE_REVIEW_THRESHOLD) naming the gross outflow, though the net change is 0", async function () {
        const { decision } = await propose(borrowAndPay(), netZero);
        expect(decision.status).to.equal("pending_approval");
        expect(decision.reasons).to.deep.equal([
          { code: "ABOVE_REVIEW_THRESHOLD", message: `gross outflow 5000000000 of ${USDC} is above the review threshold 1000000000` },
        ]);
        expect(decision).to.not.have.property("cosignerSignature");
        expect(decision.simulation!.changes.filter((c) => c.account === wallet && c.asset === USDC)).to.deep.equal([]);
      });

      it("approves the same shape below the threshold (control case)", async function () {
        const { decision } = await propose(
          [call(pool, poolAbi(), "borrow", [USDC, usdc(500)]), transferCall(USDC, alice, usdc(500))],
          netZero,
        );
        expectApproved(decision);
      });
    });
  });

  describe("bounds that are not the intent's", function () {
    it("refuses bounds weaker than the derived ones with BOUNDS_MISMATCH (422), before any simulation", async function () {
      const runs = countForkRuns(h);
      const intent = intentSchema.parse(swapIntent);
      const weak = deriveBounds(intent, wallet).map((b) => (b.asset === USDC ? { ...b, minDelta: 1n } : b));
      const body = await proposal(h, [swap("swapIfGasAbove", 29_000_000n)], swapIntent, { bounds: weak });
      const err = await expectRefusal(h.cosigner.engine.propose(body), "BOUNDS_MISMATCH", 422);
      expect(err.message).to.include(`${USDC} ${wallet} >= ${BOUGHT}`);
      expect(err.message).to.include(`${USDC} ${wallet} >= 1]`);
      expect(runs()).to.equal(0);
    });

    it("refuses missing bounds on a swap with BOUNDS_MISMATCH, before any simulation", async function () {
      const runs = countForkRuns(h);
      const body = await proposal(h, [swap("swapUnlessOrigin", relayer)], swapIntent, { bounds: [] });
      const err = await expectRefusal(h.cosigner.engine.propose(body), "BOUNDS_MISMATCH", 422);
      expect(err.message).to.include("got []");
      expect(runs()).to.equal(0);
    });

    it("refuses the derived bounds in another order with BOUNDS_MISMATCH", async function () {
      const bounds = deriveBounds(intentSchema.parse(swapIntent), wallet).reverse();
      await expectRefusal(h.cosigner.engine.propose(await proposal(h, [swap("swapUnlessOrigin", relayer)], swapIntent, { bounds })), "BOUNDS_MISMATCH", 422);
    });

    it("approves a plain transfer of a budgeted token with no bounds (control case)", async function () {
      const { decision } = await propose([transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() }, { bounds: [] });
      expectApproved(decision);
    });

    describe("a transfer of a token the wallet does not budget", function () {
      let dai: Address;
      const intent = () => ({ kind: "transfer", asset: dai, to: alice, amount: "1000" });
      before(async function () {
        dai = await deployMock(h, "MockERC20", ["Dai (demo)", "DAI", 18]);
        await send(h, ROLES.owner, dai, erc20, "mint", [wallet, 1_000_000n]);
        await asOwner(h, "setCallPermission", [dai, toFunctionSelector("transfer(address,uint256)"), true]);
        await syncFork(h);
      });

      it("is refused with BOUNDS_MISMATCH without bounds, once the fork shows the token is not budgeted", async function () {
        const runs = countForkRuns(h);
        const err = await expectRefusal(
          h.cosigner.engine.propose(await proposal(h, [transferCall(dai, alice, 1000n)], intent(), { bounds: [] })),
          "BOUNDS_MISMATCH",
          422,
        );
        expect(err.message).to.include(`${dai} is not budgeted on this wallet`);
        expect(runs()).to.equal(1);
      });

      it("is approved with the derived bounds (control case)", async function () {
        const { body, decision } = await propose([transferCall(dai, alice, 1000n)], intent());
        expect(body.bounds).to.deep.equal(boundsJson(deriveBounds(intentSchema.parse(intent()), wallet)));
        expectApproved(decision);
      });
    });

    it("refuses a request without callGasLimit or bounds with a 400 that says what to send", async function () {
      const body = await proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() });
      const { callGasLimit: _gas, bounds: _bounds, ...v1 } = body;
      let thrown: unknown;
      try {
        parseOperationRequest(v1);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(ValidationError);
      const err = thrown as ValidationError;
      expect(err.status).to.equal(400);
      expect(err.issues.map((i) => i.path)).to.deep.equal(["callGasLimit", "bounds"]);
      expect(err.message).to.include("callGasLimit: required (operation version 2): the gas every call gets");
      expect(err.message).to.include("bounds: required (operation version 2): the outcome bounds derived from the intent");
      await expectRefusal(h.cosigner.engine.propose(v1), "INVALID_REQUEST", 400);
    });
  });

  describe("callGasLimit", function () {
    const pay = (opts: ProposalOptions, calls = [transferCall(USDC, alice, usdc(1))]) =>
      propose(calls, { kind: "call", expect: [{ asset: USDC, delta: (-usdc(calls.length)).toString() }] }, opts);

    it("refuses a call that uses more than 3/4 of its callGasLimit with CALL_GAS_TOO_TIGHT, naming the call and the least limit", async function () {
      // A USDC transfer uses about 12.7k gas in the token: with the bound having read the wallet's balance (warm) it fits in 13k, with less than a quarter to spare.
      const { decision } = await pay({ callGasLimit: 13_000n });
      const [message] = expectRejected(decision, "CALL_GAS_TOO_TIGHT");
      expect(decision.simulation!.success, "it fits on the fork").to.equal(true);
      expect(message).to.match(/^call 0 uses \d+ gas, more than 3\/4 of its callGasLimit 13000: on chain it may run out; sign a callGasLimit of at least \d+$/);
      const least = BigInt(/at least (\d+)$/.exec(message)![1]!);
      expectApproved((await pay({ callGasLimit: least })).decision);
    });

    it("approves a batch whose receipt bound is above 3/4 of callGasLimit when each call's exact figure (from a trace) is not", async function () {
      const calls = [transferCall(USDC, alice, usdc(1)), transferCall(USDC, alice, usdc(1)), transferCall(USDC, alice, usdc(1))];
      const { decision } = await pay({ callGasLimit: 40_000n }, calls);
      expect(BigInt(decision.simulation!.gasUsed) * 5n / 4n - 21_000n > 30_000n, "the cheap bound alone would refuse").to.equal(true);
      expectApproved(decision);
      // The exact figure is the token's own work, far below the bound.
      const sim = await simulateWithoutBounds(h, calls, 40_000n);
      expect(sim.callGas.exact).to.equal(true);
      expect(sim.callGas.used > 5_000n && sim.callGas.used <= 30_000n, String(sim.callGas.used)).to.equal(true);
    });

    it("refuses a callGasLimit above the block gas limit with INSUFFICIENT_GAS (422): no relayer could ever send it", async function () {
      const gasLimit = h.cosigner.fork.head.gasLimit;
      const err = await expectRefusal(h.cosigner.engine.propose(await proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() }, { callGasLimit: gasLimit + 1n })), "INSUFFICIENT_GAS", 422);
      expect(err.message).to.equal(`callGasLimit ${gasLimit + 1n} is above the block gas limit ${gasLimit}: no relayer could ever give a call that much`);
    });

    it("rejects a callGasLimit the block cannot forward (the wallet's InsufficientGas, decoded as INSUFFICIENT_GAS)", async function () {
      const callGasLimit = h.cosigner.fork.head.gasLimit - 10_000n;
      const { decision } = await pay({ callGasLimit });
      expectRejected(decision, "INSUFFICIENT_GAS");
      expect(decision.simulation!.revertReason).to.match(new RegExp(`^InsufficientGas\\(0, ${callGasLimit}, \\d+\\)$`));
    });
  });

  describe("a bound the wallet cannot measure", function () {
    it("is rejected with UNREADABLE_BALANCE, decoded from the wallet's BalanceUnreadable", async function () {
      const token = await deployMock(h, "NoBalanceToken");
      const { abi } = artifact("NoBalanceToken");
      await send(h, ROLES.owner, token, abi, "mint", [wallet, 1000n]);
      await asOwner(h, "setCallPermission", [token, toFunctionSelector("transfer(address,uint256)"), true]);
      await syncFork(h);
      const calls = [{ target: token, value: 0n, data: encodeFunctionData({ abi, functionName: "transfer", args: [alice, 400n] }) }];
      const { decision } = await propose(calls, { kind: "call", expect: [{ asset: token, delta: "-400" }] });
      expectRejected(decision, "UNREADABLE_BALANCE");
      expect(decision.simulation!.revertReason).to.equal(`BalanceUnreadable(${token}, ${wallet})`);
    });
  });
});
