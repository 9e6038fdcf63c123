import { expect } from "chai";
import { encodeFunctionData, parseAbi, parseEther, toFunctionSelector, type Abi, type Address, type Hex } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import type { Call } from "../../src/eip712";
import type { Decision } from "../../src/api";
import { compareWithIntent } from "../../src/policy/compare";
import { intentSchema } from "../../src/intent/schema";
import { executeOnChain, proposal, startHarness, transferCall, usdc, type CosignerHarness, type ProposalOptions } from "../support/cosigner";
import {
  artifact,
  asOwner,
  deployMock,
  erc20,
  expectApproved,
  expectRejected,
  ROLES,
  send,
  simulateWithoutBounds,
  syncFork,
} from "../support/engine";

const DAY = 86_400n;
const erc721 = parseAbi([
  "function approve(address to, uint256 tokenId)",
  "function setApprovalForAll(address operator, bool approved)",
  "function mint(address to, uint256 id)",
]);

/** A call of `functionName` on `target`. */
function call(target: Address, abi: Abi, functionName: string, args: readonly unknown[], value = 0n): Call {
  return { target, value, data: encodeFunctionData({ abi, functionName, args } as never) };
}

describe("engine: simulate and compare (refusals)", function () {
  let h: CosignerHarness;
  let USDC: Address;
  let WETH: Address;
  let dex: Address;
  let alice: Address;
  let bob: Address;
  const mallory = devAccount(ROLES.mallory).address;
  const dexAbi = () => loadArtifact("MockDex").abi;

  const propose = async (calls: Call[], intent: Record<string, unknown>, opts: ProposalOptions = {}): Promise<Decision> =>
    h.cosigner.engine.propose(await proposal(h, calls, intent, opts));
  /** A plain transfer of a budgeted token (or ETH) may carry no bounds: then the co-signer's comparison is what refuses. */
  const unbounded: ProposalOptions = { bounds: [] };
  const transferIntent = (asset: string, to: Address, amount: bigint, memo?: string) => ({
    kind: "transfer",
    asset,
    to,
    amount: amount.toString(),
    ...(memo ? { memo } : {}),
  });

  before(async function () {
    h = await startHarness();
    ({ USDC, WETH } = h.deployment.tokens as { USDC: Address; WETH: Address });
    dex = h.deployment.dex;
    ({ alice, bob } = h.deployment.recipients as { alice: Address; bob: Address });
  });
  after(async function () {
    await h?.stop();
  });

  describe("transfer intent", function () {
    it("approves 10 USDC to alice when the calldata sends exactly that (control case)", async function () {
      expectApproved(await propose([transferCall(USDC, alice, usdc(10))], transferIntent(USDC, alice, usdc(10))));
    });

    it("refuses with INTENT_MISMATCH when the intent says 10 USDC to alice and the calldata sends 100", async function () {
      const decision = await propose([transferCall(USDC, alice, usdc(100))], transferIntent(USDC, alice, usdc(10)), unbounded);
      const [message] = expectRejected(decision, "INTENT_MISMATCH");
      expect(message).to.equal(`intent says the wallet sends 10000000 of ${USDC}; the simulation shows it sends 100000000`);
      expect(decision.simulation!.success).to.equal(true);
    });

    it("refuses with BOUND_VIOLATED when the same transfer carries the derived bounds: the wallet itself would refuse it", async function () {
      const decision = await propose([transferCall(USDC, alice, usdc(100))], transferIntent(USDC, alice, usdc(10)));
      const [message] = expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${h.deployment.wallet}, -10000000, -100000000)`);
      expect(message).to.equal(`the wallet refuses on chain: BoundViolated(${USDC}, ${h.deployment.wallet}, -10000000, -100000000)`);
    });

    it("refuses with INTENT_MISMATCH naming bob when the calldata pays bob instead of alice", async function () {
      const decision = await propose([transferCall(USDC, bob, usdc(10))], transferIntent(USDC, alice, usdc(10)), unbounded);
      const [message] = expectRejected(decision, "INTENT_MISMATCH");
      expect(message).to.equal(`intent says ${alice} receives 10000000 of ${USDC}; it receives 0; ${bob} receives 10000000`);
    });

    it("refuses with UNDECLARED_OUTFLOW when the batch also moves WETH", async function () {
      const decision = await propose(
        [transferCall(USDC, alice, usdc(10)), transferCall(WETH, alice, parseEther("1"))],
        transferIntent(USDC, alice, usdc(10)),
      );
      const [message] = expectRejected(decision, "UNDECLARED_OUTFLOW");
      expect(message).to.equal(`the wallet also sends 1000000000000000000 of ${WETH}, which the intent does not declare`);
    });

    it("refuses with INTENT_MISMATCH when the native value differs from the intent", async function () {
      const decision = await propose([{ target: alice, value: parseEther("0.2"), data: "0x" }], transferIntent("native", alice, parseEther("0.1")), unbounded);
      const [message] = expectRejected(decision, "INTENT_MISMATCH");
      expect(message).to.equal("intent says the wallet sends 100000000000000000 of native; the simulation shows it sends 200000000000000000");
    });

    it("refuses a fee-on-transfer token with TRANSFER_SHORTFALL: the recipient gets 1% less than the wallet sends", async function () {
      const fee = await deployMock(h, "FeeOnTransferToken", [100n]); // 1%
      await send(h, ROLES.owner, fee, erc20, "mint", [h.deployment.wallet, 1_000_000n]);
      await asOwner(h, "setBudget", [{ token: fee, limit: 100_000n, period: DAY, maxPerOperation: 10_000n }]);
      await syncFork(h);
      const decision = await propose([transferCall(fee, alice, 1_000n)], transferIntent(fee, alice, 1_000n), unbounded);
      const [message] = expectRejected(decision, "TRANSFER_SHORTFALL");
      expect(message).to.equal(`${alice} receives 990 of ${fee}, 10 short of 1000 (fee-on-transfer or rebasing token)`);
      expect(decision.simulation!.changes).to.deep.include({ account: h.deployment.wallet, asset: fee, delta: "-1000" });
      expect(decision.simulation!.changes).to.deep.include({ account: alice, asset: fee, delta: "990" });
      // With the derived bounds (alice >= +1000) the wallet refuses the shortfall itself.
      const bounded = await propose([transferCall(fee, alice, 1_000n)], transferIntent(fee, alice, 1_000n));
      expectRejected(bounded, "BOUND_VIOLATED");
      expect(bounded.simulation!.revertReason).to.equal(`BoundViolated(${fee}, ${alice}, 1000, 990)`);
    });
  });

  describe("call intent", function () {
    it("refuses with UNDECLARED_INFLOW when a swap's proceeds are not in the expect list", async function () {
      const amountIn = usdc(40);
      const out = parseEther("0.01");
      const decision = await propose(
        [call(USDC, erc20, "approve", [dex, amountIn]), call(dex, dexAbi(), "swap", [USDC, WETH, amountIn, 0n])],
        { kind: "call", expect: [{ asset: USDC, delta: (-amountIn).toString() }] },
      );
      const [message] = expectRejected(decision, "UNDECLARED_INFLOW");
      expect(message).to.equal(`the wallet also receives ${out} of ${WETH}, which the intent does not declare`);
    });

    it("refuses with INTENT_MISMATCH when a declared delta differs (within the bound: the change must be exact)", async function () {
      const decision = await propose([transferCall(USDC, alice, usdc(3))], { kind: "call", expect: [{ asset: USDC, delta: "-4000000" }] });
      const [message] = expectRejected(decision, "INTENT_MISMATCH");
      expect(decision.simulation!.success, "the bound (>= -4000000) holds").to.equal(true);
      expect(message).to.equal(`intent expects ${USDC} to change by -4000000; it changes by -3000000`);
    });

    it("refuses with BOUND_VIOLATED when a declared delta is exceeded: the derived bound fails on the fork", async function () {
      const decision = await propose([transferCall(USDC, alice, usdc(5))], { kind: "call", expect: [{ asset: USDC, delta: "-4000000" }] });
      expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${h.deployment.wallet}, -4000000, -5000000)`);
    });
  });

  describe("swap intent", function () {
    const amountIn = usdc(400);
    const swapCalls = () => [call(USDC, erc20, "approve", [dex, amountIn]), call(dex, dexAbi(), "swap", [USDC, WETH, amountIn, 0n])];

    const sellsTooMuch = () => ({ kind: "swap", sell: { asset: USDC, maxAmount: usdc(300).toString() }, buy: { asset: WETH, minAmount: "1" } });
    const buysTooLittle = () => ({
      kind: "swap",
      sell: { asset: USDC, maxAmount: amountIn.toString() },
      buy: { asset: WETH, minAmount: parseEther("0.2").toString() },
    });

    it("refuses with BOUND_VIOLATED when the batch sells more than maxAmount (the derived bound fails on the fork)", async function () {
      const decision = await propose(swapCalls(), sellsTooMuch());
      expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${h.deployment.wallet}, -300000000, -400000000)`);
    });

    it("refuses with BOUND_VIOLATED when the batch buys less than minAmount", async function () {
      const decision = await propose(swapCalls(), buysTooLittle());
      expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${WETH}, ${h.deployment.wallet}, 200000000000000000, 100000000000000000)`);
    });

    describe("behind the bounds (a real simulation with none: the co-signer's own comparison, defence in depth)", function () {
      it("finds SWAP_SOLD_TOO_MUCH when the batch sells more than maxAmount", async function () {
        const sim = await simulateWithoutBounds(h, swapCalls());
        expect(sim.success).to.equal(true);
        const reasons = compareWithIntent(intentSchema.parse(sellsTooMuch()), h.deployment.wallet, sim);
        expect(reasons).to.deep.equal([
          { code: "SWAP_SOLD_TOO_MUCH", message: `the swap sells 400000000 of ${USDC}, above the declared maximum 300000000` },
        ]);
      });

      it("finds SWAP_BOUGHT_TOO_LITTLE when the batch buys less than minAmount", async function () {
        const sim = await simulateWithoutBounds(h, swapCalls());
        const reasons = compareWithIntent(intentSchema.parse(buysTooLittle()), h.deployment.wallet, sim);
        expect(reasons).to.deep.equal([
          {
            code: "SWAP_BOUGHT_TOO_LITTLE",
            message: `the swap buys 100000000000000000 of ${WETH}, below the declared minimum 200000000000000000`,
          },
        ]);
      });
    });
  });

  describe("approvals", function () {
    it("refuses a standing approval of a budgeted token with STANDING_APPROVAL, decoded from the wallet's revert", async function () {
      const decision = await propose([call(USDC, erc20, "approve", [dex, usdc(100)])], { kind: "call", expect: [] });
      const [message] = expectRejected(decision, "STANDING_APPROVAL");
      expect(decision.simulation!.success).to.equal(false);
      expect(decision.simulation!.revertReason).to.equal(`StandingApproval(${USDC}, ${dex}, 100000000)`);
      expect(message).to.equal(`the wallet refuses on chain: StandingApproval(${USDC}, ${dex}, 100000000)`);
    });

    it("refuses an approval of a non-budgeted token the owner permitted and the wallet lets stand (co-signer's own log check)", async function () {
      const dai = await deployMock(h, "MockERC20", ["Dai (demo)", "DAI", 18]);
      await send(h, ROLES.owner, dai, erc20, "mint", [h.deployment.wallet, parseEther("1000")]);
      await asOwner(h, "setCallPermission", [dai, toFunctionSelector("approve(address,uint256)"), true]);
      await syncFork(h);
      const decision = await propose([call(dai, erc20, "approve", [dex, parseEther("100")])], { kind: "call", expect: [] });
      const [message] = expectRejected(decision, "STANDING_APPROVAL");
      expect(decision.simulation!.success, "the wallet itself lets it through").to.equal(true);
      expect(message).to.equal(`the operation leaves ${dex} approved on ${dai} (erc20, allowance 100000000000000000000)`);
    });

    describe("of an NFT", function () {
      let nft: Address;
      before(async function () {
        nft = await deployMock(h, "MockERC721");
        await send(h, ROLES.owner, nft, erc721, "mint", [h.deployment.wallet, 0n]);
        await send(h, ROLES.owner, nft, erc721, "mint", [h.deployment.wallet, 7n]);
        await asOwner(h, "setCallPermission", [nft, toFunctionSelector("approve(address,uint256)"), true]);
        await asOwner(h, "setCallPermission", [nft, toFunctionSelector("setApprovalForAll(address,bool)"), true]);
        await syncFork(h);
      });

      it("refuses an ERC-721 approval left standing with STANDING_APPROVAL", async function () {
        const decision = await propose([call(nft, erc721, "approve", [mallory, 7n])], { kind: "call", expect: [] });
        const [message] = expectRejected(decision, "STANDING_APPROVAL");
        expect(message).to.equal(`the operation leaves ${mallory} approved on ${nft} (erc721)`);
      });

      it("refuses an ERC-721 approval of token id 0 with STANDING_APPROVAL", async function () {
        const decision = await propose([call(nft, erc721, "approve", [mallory, 0n])], { kind: "call", expect: [] });
        const [message] = expectRejected(decision, "STANDING_APPROVAL");
        expect(message).to.equal(`the operation leaves ${mallory} approved on ${nft} (erc721)`);
      });

      it("refuses an NFT leaving the wallet, which no intent can declare, with UNDECLARED_OUTFLOW", async function () {
        await asOwner(h, "setCallPermission", [nft, toFunctionSelector("transferFrom(address,address,uint256)"), true]);
        await syncFork(h);
        const transfer = parseAbi(["function transferFrom(address from, address to, uint256 id)"]);
        const decision = await propose([call(nft, transfer, "transferFrom", [h.deployment.wallet, mallory, 7n])], { kind: "call", expect: [] });
        const [message] = expectRejected(decision, "UNDECLARED_OUTFLOW");
        expect(message).to.equal(`the wallet also sends 1 of ${nft}/7, which the intent does not declare`);
      });

      it("refuses an operator approval (ApprovalForAll) with STANDING_APPROVAL", async function () {
        const decision = await propose([call(nft, erc721, "setApprovalForAll", [mallory, true])], { kind: "call", expect: [] });
        const [message] = expectRejected(decision, "STANDING_APPROVAL");
        expect(message).to.equal(`the operation leaves ${mallory} approved on ${nft} (operator)`);
      });
    });
  });

  describe("control", function () {
    it("refuses with CONTROL_CHANGED when the batch transfers ownership of a contract the wallet owns", async function () {
      const vault = await deployMock(h, "OwnedVault", [h.deployment.wallet]);
      const { abi } = artifact("OwnedVault");
      await asOwner(h, "setCallPermission", [vault, toFunctionSelector("transferOwnership(address)"), true]);
      await syncFork(h);
      const decision = await propose([call(vault, abi, "transferOwnership", [mallory])], { kind: "call", expect: [] });
      const [message] = expectRejected(decision, "CONTROL_CHANGED");
      expect(message).to.equal(`control of ${vault} changes: OwnershipTransferred`);
    });

    it("refuses with WALLET_STATE_CHANGED when a permitted call makes a guardian contract pause the wallet", async function () {
      // The owner made a contract a guardian and (carelessly) let the agent call it: the agent path now reaches the
      // wallet's own controls. The wallet allows it; the co-signer sees the wallet's state change and refuses.
      const relay = await deployMock(h, "CallbackTarget");
      const { abi } = artifact("CallbackTarget");
      await asOwner(h, "addGuardian", [relay]);
      await asOwner(h, "setCallPermission", [relay, toFunctionSelector("callBack(address,bytes)"), true]);
      try {
        await syncFork(h);
        const pause = encodeFunctionData({ abi: loadArtifact("AgentWallet").abi, functionName: "pause" });
        const decision = await propose([call(relay, abi, "callBack", [h.deployment.wallet, pause])], { kind: "call", expect: [] });
        const [message] = expectRejected(decision, "WALLET_STATE_CHANGED");
        expect(message).to.equal("the wallet's own state changes: paused, event Paused");
      } finally {
        await asOwner(h, "removeGuardian", [relay]);
        await syncFork(h);
      }
    });
  });

  describe("a target that behaves well only in a naive simulator", function () {
    let trap: Address;
    const { abi } = artifact("NaiveSimulatorTrap");
    before(async function () {
      trap = await deployMock(h, "NaiveSimulatorTrap");
      await asOwner(h, "setCallPermission", [trap, toFunctionSelector("collect(address,uint256,uint256)"), true]);
      await asOwner(h, "setCallPermission", [trap, toFunctionSelector("collectFromRealSender(address,uint256,uint256)"), true]);
      await syncFork(h);
    });

    it("refuses with BOUND_VIOLATED: the fork's block has a real coinbase and gas price, so the trap drains", async function () {
      const calls = [call(USDC, erc20, "approve", [trap, usdc(100)]), call(trap, abi, "collect", [USDC, usdc(100), usdc(10)])];
      const decision = await propose(calls, { kind: "call", expect: [{ asset: USDC, delta: (-usdc(10)).toString() }] });
      expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${h.deployment.wallet}, -10000000, -100000000)`);
    });

    it("sees the trap drain with no bounds either: INTENT_MISMATCH, and the trap is the one paid", async function () {
      const calls = [call(USDC, erc20, "approve", [trap, usdc(100)]), call(trap, abi, "collect", [USDC, usdc(100), usdc(10)])];
      const sim = await simulateWithoutBounds(h, calls);
      const reasons = compareWithIntent(intentSchema.parse({ kind: "call", expect: [{ asset: USDC, delta: (-usdc(10)).toString() }] }), h.deployment.wallet, sim);
      expect(reasons).to.deep.equal([{ code: "INTENT_MISMATCH", message: `intent expects ${USDC} to change by -10000000; it changes by -100000000` }]);
      expect(sim.changes).to.deep.include({ account: trap, asset: USDC, delta: 100000000n });
    });

    it("refuses with BOUND_VIOLATED: the simulated transaction's sender looks like a real relayer, so the trap drains", async function () {
      const calls = [
        call(USDC, erc20, "approve", [trap, usdc(100)]),
        call(trap, abi, "collectFromRealSender", [USDC, usdc(100), usdc(10)]),
      ];
      const decision = await propose(calls, { kind: "call", expect: [{ asset: USDC, delta: (-usdc(10)).toString() }] });
      expectRejected(decision, "BOUND_VIOLATED");
      expect(decision.simulation!.revertReason).to.equal(`BoundViolated(${USDC}, ${h.deployment.wallet}, -10000000, -100000000)`);
    });
  });

  describe("reverting calls", function () {
    it("refuses a transfer above the per-operation cap with OVER_PER_OPERATION_CAP and the decoded error", async function () {
      const decision = await propose([transferCall(USDC, alice, usdc(600))], transferIntent(USDC, alice, usdc(600)));
      const [message] = expectRejected(decision, "OVER_PER_OPERATION_CAP");
      expect(decision.simulation!.success).to.equal(false);
      expect(decision.simulation!.revertReason).to.equal(`PerOperationCapExceeded(${USDC}, 600000000, 500000000)`);
      expect(message).to.equal(`the wallet refuses on chain: PerOperationCapExceeded(${USDC}, 600000000, 500000000)`);
    });

    it("refuses a recipient that is not allowlisted with RECIPIENT_NOT_ALLOWED", async function () {
      const decision = await propose([transferCall(USDC, mallory, usdc(10))], transferIntent(USDC, mallory, usdc(10)));
      expectRejected(decision, "RECIPIENT_NOT_ALLOWED");
      expect(decision.simulation!.revertReason).to.equal(`RecipientNotAllowed(${mallory})`);
    });

    it("refuses an approval to a spender without call permissions with SPENDER_NOT_PERMITTED", async function () {
      const decision = await propose([call(USDC, erc20, "approve", [mallory, 1n])], { kind: "call", expect: [] });
      expectRejected(decision, "SPENDER_NOT_PERMITTED");
      expect(decision.simulation!.revertReason).to.equal(`SpenderNotPermitted(${USDC}, ${mallory})`);
    });

    it("refuses a call that is not permitted with CALL_NOT_PERMITTED", async function () {
      const decision = await propose([call(USDC, erc20, "mint", [h.deployment.wallet, 1n])], { kind: "call", expect: [] });
      expectRejected(decision, "CALL_NOT_PERMITTED");
      expect(decision.simulation!.revertReason).to.equal(`CallNotPermitted(${USDC}, 0x40c10f19)`);
    });

    it("refuses a call to the wallet itself with SELF_CALL", async function () {
      const decision = await propose([{ target: h.deployment.wallet, value: 0n, data: "0x8456cb59" }], { kind: "call", expect: [] });
      expectRejected(decision, "SELF_CALL");
      expect(decision.simulation!.revertReason).to.equal("SelfCallNotAllowed(0)");
    });

    it("refuses a budgeted-token transfer with trailing calldata with MALFORMED_CALL", async function () {
      const c = transferCall(USDC, alice, usdc(1));
      const decision = await propose([{ ...c, data: `${c.data}00` as Hex }], transferIntent(USDC, alice, usdc(1)));
      expectRejected(decision, "MALFORMED_CALL");
      expect(decision.simulation!.revertReason).to.equal("MalformedCall(0)");
    });

    it("refuses a budgeted token whose transfer returns false with TOKEN_CALL_FAILED", async function () {
      const token = await deployMock(h, "ReturnFalseToken");
      const { abi } = artifact("ReturnFalseToken");
      await send(h, ROLES.owner, token, abi, "mint", [h.deployment.wallet, 1_000n]);
      await send(h, ROLES.owner, token, abi, "setFail", [true]);
      await asOwner(h, "setBudget", [{ token, limit: 1_000n, period: DAY, maxPerOperation: 1_000n }]);
      await syncFork(h);
      const decision = await propose([transferCall(token, alice, 10n)], transferIntent(token, alice, 10n));
      expectRejected(decision, "TOKEN_CALL_FAILED");
      expect(decision.simulation!.revertReason).to.equal(`TokenCallFailed(0, ${token})`);
    });

    it("refuses a DEX swap over its slippage limit with SIMULATION_REVERTED and the DEX's SlippageExceeded decoded", async function () {
      const amountIn = usdc(400);
      const decision = await propose(
        [call(USDC, erc20, "approve", [dex, amountIn]), call(dex, dexAbi(), "swap", [USDC, WETH, amountIn, parseEther("0.2")])],
        { kind: "swap", sell: { asset: USDC, maxAmount: amountIn.toString() }, buy: { asset: WETH, minAmount: parseEther("0.2").toString() } },
      );
      const [message] = expectRejected(decision, "SIMULATION_REVERTED");
      const reason = "CallReverted(call 1: SlippageExceeded(100000000000000000, 200000000000000000))";
      expect(decision.simulation!.revertReason).to.equal(reason);
      expect(message).to.equal(`the operation reverts on the fork: ${reason}`);
    });

    it("refuses a transfer of more than the wallet holds with SIMULATION_REVERTED and the token's error decoded", async function () {
      const decision = await propose([transferCall(WETH, alice, parseEther("200"))], transferIntent(WETH, alice, parseEther("200")));
      expectRejected(decision, "SIMULATION_REVERTED");
      expect(decision.simulation!.revertReason).to.equal(
        `CallReverted(call 0: ERC20InsufficientBalance(${h.deployment.wallet}, 100000000000000000000, 200000000000000000000))`,
      );
    });

    it("refuses an outflow above what the budget has left with OVER_BUDGET", async function () {
      const token = await deployMock(h, "MockERC20", ["Budgeted (demo)", "BUD", 0]);
      await send(h, ROLES.owner, token, erc20, "mint", [h.deployment.wallet, 1_000n]);
      await asOwner(h, "setBudget", [{ token, limit: 100n, period: DAY, maxPerOperation: 60n }]);
      await syncFork(h);
      const first = await proposal(h, [transferCall(token, alice, 60n)], transferIntent(token, alice, 60n));
      const approved = await h.cosigner.engine.propose(first);
      expectApproved(approved);
      expect((await executeOnChain(h, first, approved.cosignerSignature!)).status).to.equal("success");
      await syncFork(h);

      const decision = await propose([transferCall(token, alice, 50n)], transferIntent(token, alice, 50n));
      const [message] = expectRejected(decision, "OVER_BUDGET");
      expect(decision.simulation!.revertReason).to.equal(`BudgetExceeded(${token}, 50, 40)`);
      expect(message).to.equal(`the wallet refuses on chain: BudgetExceeded(${token}, 50, 40)`);
    });
  });
});
