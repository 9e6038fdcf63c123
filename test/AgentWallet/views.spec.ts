import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { DAY, NATIVE, erc20Transfer, ethersOperationTypes, operation, signed } from "../helpers";
import {
  ETH_LIMIT,
  ETH_MAX_PER_OP,
  USDC_LIMIT,
  USDC_MAX_PER_OP,
  WETH_LIMIT,
  WETH_MAX_PER_OP,
  deployWalletFixture,
} from "../fixtures";

/** The read side the co-signer and the monitor rely on. */
describe("AgentWallet views", function () {
  describe("constants", function () {
    it("exposes NATIVE, MAX_BUDGET_PERIOD, MAX_CALLS, MAX_BOUNDS and CALL_RESERVE", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      expect([
        await wallet.NATIVE(),
        await wallet.MAX_BUDGET_PERIOD(),
        await wallet.MAX_CALLS(),
        await wallet.MAX_BOUNDS(),
        await wallet.CALL_RESERVE(),
      ]).to.deep.equal([ethers.ZeroAddress, 365n * DAY, 16n, 32n, 40_000n]);
    });

    it("exposes the EIP-712 type hashes of Call, Bound, Operation and WalletMessage", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      expect([
        await wallet.CALL_TYPEHASH(),
        await wallet.BOUND_TYPEHASH(),
        await wallet.OPERATION_TYPEHASH(),
        await wallet.WALLET_MESSAGE_TYPEHASH(),
      ]).to.deep.equal([
        ethers.id("Call(address target,uint256 value,bytes data)"),
        ethers.id("Bound(address asset,address account,int256 minDelta)"),
        ethers.id(
          "Operation(Call[] calls,uint256 nonce,uint256 deadline,uint256 callGasLimit,Bound[] bounds)" +
            "Bound(address asset,address account,int256 minDelta)Call(address target,uint256 value,bytes data)",
        ),
        ethers.id("WalletMessage(bytes32 hash)"),
      ]);
    });

    it("uses the type hash ethers derives from the shared EIP-712 types (src/eip712.ts)", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      const encoder = ethers.TypedDataEncoder.from(ethersOperationTypes);
      expect(await wallet.OPERATION_TYPEHASH()).to.equal(ethers.id(encoder.encodeType("Operation")));
    });
  });

  describe("budget", function () {
    it("returns (limit, period, maxPerOperation) of a budgeted token", async function () {
      const { wallet, usdc } = await loadFixture(deployWalletFixture);
      expect([...(await wallet.budget(usdc))]).to.deep.equal([USDC_LIMIT, DAY, USDC_MAX_PER_OP]);
    });

    it("returns the native budget under NATIVE", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      expect([...(await wallet.budget(NATIVE))]).to.deep.equal([ETH_LIMIT, DAY, ETH_MAX_PER_OP]);
    });

    it("returns zeros for a token without a budget", async function () {
      const { wallet, mallory } = await loadFixture(deployWalletFixture);
      expect([...(await wallet.budget(mallory.address))]).to.deep.equal([0n, 0n, 0n]);
    });
  });

  describe("available", function () {
    it("returns the full limit of a budget never spent", async function () {
      const { wallet, weth } = await loadFixture(deployWalletFixture);
      expect(await wallet.available(weth)).to.equal(WETH_LIMIT);
    });

    it("returns the limit minus a spend made in the latest block", async function () {
      const { wallet, usdc, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 123n)], 1n);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      expect(await wallet.available(usdc)).to.equal(USDC_LIMIT - 123n);
    });

    it("returns 0 for a token without a budget", async function () {
      const { wallet, mallory } = await loadFixture(deployWalletFixture);
      expect(await wallet.available(mallory.address)).to.equal(0n);
    });
  });

  describe("lists", function () {
    it("budgetedTokens() lists the ERC-20 budgets but not NATIVE", async function () {
      const { wallet, usdc, weth } = await loadFixture(deployWalletFixture);
      expect(await wallet.budgetedTokens()).to.deep.equal([await usdc.getAddress(), await weth.getAddress()]);
    });

    it("recipients() lists the allowlisted recipients", async function () {
      const { wallet, alice, bob } = await loadFixture(deployWalletFixture);
      expect(await wallet.recipients()).to.deep.equal([alice.address, bob.address]);
    });

    it("callPermissions() returns each (target, selector) pair", async function () {
      const { wallet, dex, weth, owner } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).setCallPermission(weth, "0xd0e30db0", true);
      const permissions = (await wallet.callPermissions()).map((p) => [p.target, p.selector]);
      expect(permissions).to.deep.equal([
        [await dex.getAddress(), dex.interface.getFunction("swap")!.selector],
        [await weth.getAddress(), "0xd0e30db0"],
      ]);
    });

    it("sessionKeys() lists the registered keys", async function () {
      const { wallet, sessionKey } = await loadFixture(deployWalletFixture);
      expect(await wallet.sessionKeys()).to.deep.equal([sessionKey.address]);
    });

    it("guardians() lists the guardians", async function () {
      const { wallet, guardian } = await loadFixture(deployWalletFixture);
      expect(await wallet.guardians()).to.deep.equal([guardian.address]);
    });
  });

  describe("predicates", function () {
    it("isGuardian is true for a guardian and false for anyone else", async function () {
      const { wallet, guardian, owner } = await loadFixture(deployWalletFixture);
      expect([await wallet.isGuardian(guardian.address), await wallet.isGuardian(owner.address)]).to.deep.equal([true, false]);
    });

    it("isRecipientAllowed is true for alice and false for mallory", async function () {
      const { wallet, alice, mallory } = await loadFixture(deployWalletFixture);
      expect([await wallet.isRecipientAllowed(alice.address), await wallet.isRecipientAllowed(mallory.address)]).to.deep.equal([true, false]);
    });

    it("isCallPermitted is true for dex.swap and false for dex.pull", async function () {
      const { wallet, dex } = await loadFixture(deployWalletFixture);
      const [swap, pull] = [dex.interface.getFunction("swap")!.selector, dex.interface.getFunction("pull")!.selector];
      expect([await wallet.isCallPermitted(dex, swap), await wallet.isCallPermitted(dex, pull)]).to.deep.equal([true, false]);
    });

    it("isNonceUsed is false before and true after execution", async function () {
      const { wallet, usdc, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const before = await wallet.isNonceUsed(3n);
      const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 1n)], 3n);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      expect([before, await wallet.isNonceUsed(3n)]).to.deep.equal([false, true]);
    });

    it("sessionKeyValidUntil returns the key's last valid second", async function () {
      const { wallet, config, sessionKey } = await loadFixture(deployWalletFixture);
      expect(await wallet.sessionKeyValidUntil(sessionKey.address)).to.equal(config.sessionKeys[0].validUntil);
    });

    it("isSessionKeyActive is true at validUntil itself", async function () {
      const { wallet, config, sessionKey } = await loadFixture(deployWalletFixture);
      await time.increaseTo(config.sessionKeys[0].validUntil);
      expect(await wallet.isSessionKeyActive(sessionKey.address)).to.equal(true);
    });

    it("isSessionKeyActive is false one second after validUntil", async function () {
      const { wallet, config, sessionKey } = await loadFixture(deployWalletFixture);
      await time.increaseTo(config.sessionKeys[0].validUntil + 1n);
      expect(await wallet.isSessionKeyActive(sessionKey.address)).to.equal(false);
    });

    it("isSessionKeyActive is false for an unknown key", async function () {
      const { wallet, mallory } = await loadFixture(deployWalletFixture);
      expect(await wallet.isSessionKeyActive(mallory.address)).to.equal(false);
    });

    it("cosigner() and paused() reflect the configuration", async function () {
      const { wallet, cosigner } = await loadFixture(deployWalletFixture);
      expect([await wallet.cosigner(), await wallet.paused()]).to.deep.equal([cosigner.address, false]);
    });
  });
});
