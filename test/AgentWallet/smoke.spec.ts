import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployWalletFixture } from "../fixtures";
import { erc20Transfer, operation, signed } from "../helpers";

describe("AgentWallet smoke", function () {
  it("executes a co-signed ERC-20 transfer to an allowlisted recipient and charges the budget", async function () {
    const { wallet, usdc, sessionKey, cosigner, relayer, alice } = await loadFixture(deployWalletFixture);
    const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 10_000_000n)], 1n);
    const args = await signed(wallet, op, sessionKey, cosigner);
    await expect(wallet.connect(relayer).execute(...args)).to.changeTokenBalances(
      usdc,
      [await wallet.getAddress(), alice.address],
      [-10_000_000n, 10_000_000n],
    );
    expect(await wallet.available(await usdc.getAddress())).to.be.closeTo(990_000_000n, 20_000n);
  });
});
