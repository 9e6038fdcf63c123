import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse, Interface } from "ethers";
import { erc20Approve, erc20Transfer, nativeTransfer, operation, signed, type TestBound, type TestOperation } from "../helpers";
import { deployWalletFixture } from "../fixtures";
import { digestArgs } from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;

type Fixture = Awaited<ReturnType<typeof deployWalletFixture>>;

/**
 * Executed(digest, sessionKey, nonce) says an operation ran: it is emitted once the calls, the budget charges and the
 * bound checks are done, so in the receipt it comes after every log the operation's calls and charges wrote.
 */
describe("AgentWallet execute: the Executed event", function () {
  async function run(f: Fixture, calls: TestOperation["calls"], bounds: TestBound[] = [], nonce = 1n) {
    const op = await operation(calls, nonce, 300n, { bounds });
    const tx = await f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)));
    return { op, tx };
  }

  /** The receipt's logs in logIndex order, each named `Event@label` (label: wallet, usdc, weth, dex). */
  async function logSequence(f: Fixture, tx: ContractTransactionResponse): Promise<string[]> {
    const receipt = (await tx.wait())!;
    const sources: Record<string, { label: string; iface: Interface }> = {
      [await f.wallet.getAddress()]: { label: "wallet", iface: f.wallet.interface },
      [await f.usdc.getAddress()]: { label: "usdc", iface: f.usdc.interface },
      [await f.weth.getAddress()]: { label: "weth", iface: f.weth.interface },
      [await f.dex.getAddress()]: { label: "dex", iface: f.dex.interface },
    };
    return [...receipt.logs]
      .sort((a, b) => a.index - b.index)
      .map((log) => {
        const source = sources[ethers.getAddress(log.address)];
        const parsed = source?.iface.parseLog(log);
        return `${parsed?.name ?? log.topics[0]}@${source?.label ?? log.address}`;
      });
  }

  describe("on the plain-transfer path (one call, no bounds)", function () {
    it("comes after the token's Transfer and the BudgetCharged of a budgeted token transfer", async function () {
      const f = await loadFixture(deployWalletFixture);
      const { tx } = await run(f, [erc20Transfer(await f.usdc.getAddress(), f.alice.address, USDC(10n))]);
      expect(await logSequence(f, tx)).to.deep.equal(["Transfer@usdc", "BudgetCharged@wallet", "Executed@wallet"]);
    });

    it("comes after the BudgetCharged of a native transfer", async function () {
      const f = await loadFixture(deployWalletFixture);
      const { tx } = await run(f, [nativeTransfer(f.alice.address, 10n ** 15n)]);
      expect(await logSequence(f, tx)).to.deep.equal(["BudgetCharged@wallet", "Executed@wallet"]);
    });

    it("carries the digest, the session key and the nonce", async function () {
      const f = await loadFixture(deployWalletFixture);
      const { op, tx } = await run(f, [erc20Transfer(await f.usdc.getAddress(), f.alice.address, USDC(10n))], [], 9n);
      await expect(tx)
        .to.emit(f.wallet, "Executed")
        .withArgs(await f.wallet.operationDigest(...digestArgs(op)), f.sessionKey.address, 9n);
    });
  });

  describe("on the general path", function () {
    it("comes after the Transfer and the BudgetCharged of a token transfer that carries bounds", async function () {
      const f = await loadFixture(deployWalletFixture);
      const [usdc, wallet] = [await f.usdc.getAddress(), await f.wallet.getAddress()];
      const bounds = [{ asset: usdc, account: wallet, minDelta: -USDC(10n) }];
      const { tx } = await run(f, [erc20Transfer(usdc, f.alice.address, USDC(10n))], bounds);
      expect(await logSequence(f, tx)).to.deep.equal(["Transfer@usdc", "BudgetCharged@wallet", "Executed@wallet"]);
    });

    it("comes after every log of an approve and a swap, and after the BudgetCharged of the batch", async function () {
      const f = await loadFixture(deployWalletFixture);
      const [usdc, weth, dex] = [await f.usdc.getAddress(), await f.weth.getAddress(), await f.dex.getAddress()];
      const amount = USDC(10n);
      const minOut = await f.dex.quote(usdc, weth, amount);
      const swap = { target: dex, value: 0n, data: f.dex.interface.encodeFunctionData("swap", [usdc, weth, amount, minOut]) };
      const { tx } = await run(f, [erc20Approve(usdc, dex, amount), swap]);
      expect(await logSequence(f, tx)).to.deep.equal([
        "Approval@usdc",
        "Transfer@usdc",
        "Transfer@weth",
        "BudgetCharged@wallet",
        "Executed@wallet",
      ]);
    });

    it("comes after the BudgetCharged of each asset of a native and a token transfer", async function () {
      const f = await loadFixture(deployWalletFixture);
      const usdc = await f.usdc.getAddress();
      const calls = [nativeTransfer(f.alice.address, 10n ** 15n), erc20Transfer(usdc, f.bob.address, USDC(1n))];
      const { tx } = await run(f, calls);
      expect(await logSequence(f, tx)).to.deep.equal(["Transfer@usdc", "BudgetCharged@wallet", "BudgetCharged@wallet", "Executed@wallet"]);
    });
  });
});
