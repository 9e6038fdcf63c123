import { expect } from "chai";
import { encodeFunctionData, parseEther, type Address } from "viem";
import { loadArtifact } from "../../src/chain/artifacts";
import { payees } from "../../src/policy/decide";
import type { AssetChange } from "../../src/simulation/changes";
import { proposal, startHarness, usdc, type CosignerHarness } from "../support/cosigner";

const W = "0x1111111111111111111111111111111111111111" as Address;
const A = "0x2222222222222222222222222222222222222222" as Address;
const D = "0x3333333333333333333333333333333333333333" as Address;
const T = "0x4444444444444444444444444444444444444444";

describe("decide: who an operation pays (new-recipient review)", function () {
  describe("payees", function () {
    it("is the transfer's recipient for a transfer intent", function () {
      expect(payees({ kind: "transfer", asset: "native", to: A, amount: 1n }, W, [])).to.deep.equal([A]);
    });

    it("is every account receiving an asset the wallet sends, for a call intent", function () {
      const changes: AssetChange[] = [
        { account: W, asset: T, delta: -5n },
        { account: A, asset: T, delta: 3n },
        { account: D, asset: T, delta: 2n },
      ];
      expect(payees({ kind: "call", expect: [] }, W, changes)).to.have.members([A, D]);
    });

    it("counts an account receiving another asset than the wallet sends (a router paying the bought token elsewhere)", function () {
      const changes: AssetChange[] = [
        { account: W, asset: T, delta: -5n },
        { account: D, asset: T, delta: 5n },
        { account: D, asset: "native", delta: -1n },
        { account: A, asset: "native", delta: 1n },
      ];
      expect(payees({ kind: "swap", sell: { asset: T as Address, maxAmount: 5n }, buy: { asset: "native", minAmount: 1n } }, W, changes)).to.have.members([D, A]);
    });

    it("leaves out accounts that only send the wallet something (the DEX's side of a swap it pays out)", function () {
      const changes: AssetChange[] = [
        { account: W, asset: T, delta: -5n },
        { account: D, asset: T, delta: 5n },
        { account: W, asset: "native", delta: 1n },
        { account: D, asset: "native", delta: -1n },
      ];
      expect(payees({ kind: "swap", sell: { asset: T as Address, maxAmount: 5n }, buy: { asset: "native", minAmount: 1n } }, W, changes)).to.deep.equal([D]);
    });
  });

  describe("with REVIEW_NEW_RECIPIENTS on", function () {
    let h: CosignerHarness;
    before(async function () {
      h = await startHarness({ reviewNewRecipients: true });
    });
    after(async function () {
      await h?.stop();
    });

    it("holds the first swap through a DEX for a person, naming the DEX as a new recipient", async function () {
      const { tokens, dex } = h.deployment;
      const erc20 = loadArtifact("MockERC20").abi;
      const dexAbi = loadArtifact("MockDex").abi;
      const amountIn = usdc(40);
      const req = await proposal(
        h,
        [
          { target: tokens.USDC!, value: 0n, data: encodeFunctionData({ abi: erc20, functionName: "approve", args: [dex, amountIn] }) },
          { target: dex, value: 0n, data: encodeFunctionData({ abi: dexAbi, functionName: "swap", args: [tokens.USDC!, tokens.WETH!, amountIn, 1n] }) },
        ],
        { kind: "swap", sell: { asset: tokens.USDC, maxAmount: amountIn.toString() }, buy: { asset: tokens.WETH, minAmount: parseEther("0.001").toString() } },
      );
      const decision = await h.cosigner.engine.propose(req);
      expect(decision.status).to.equal("pending_approval");
      expect(decision.cosignerSignature).to.equal(undefined);
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["NEW_RECIPIENT"]);
      expect(decision.reasons[0]!.message).to.contain(dex);
    });
  });
});
