import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { DAY, NATIVE, erc20Approve, erc20Transfer, operation, signed } from "../helpers";
import { deployWalletFixture } from "../fixtures";
import type { AgentWallet } from "../../typechain-types";
import { walletWithMocksFixture } from "./utils";

type Fixture = Awaited<ReturnType<typeof deployWalletFixture>>;

/** Who may do what: owner configures, guardians only stop things, nobody holds two roles. */
describe("AgentWallet roles and administration", function () {
  async function inADay() {
    return BigInt(await time.latest()) + DAY;
  }

  describe("guardian powers", function () {
    describe("revokeSessionKey", function () {
      it("emits SessionKeyRevoked(key, guardian)", async function () {
        const { wallet, guardian, sessionKey } = await loadFixture(deployWalletFixture);
        await expect(wallet.connect(guardian).revokeSessionKey(sessionKey.address))
          .to.emit(wallet, "SessionKeyRevoked")
          .withArgs(sessionKey.address, guardian.address);
      });

      it("removes the key from sessionKeys() and zeroes its validUntil", async function () {
        const { wallet, guardian, sessionKey } = await loadFixture(deployWalletFixture);
        await wallet.connect(guardian).revokeSessionKey(sessionKey.address);
        expect([await wallet.sessionKeys(), await wallet.sessionKeyValidUntil(sessionKey.address)]).to.deep.equal([[], 0n]);
      });

      it("emits nothing for an address that is not a session key", async function () {
        const { wallet, guardian, mallory } = await loadFixture(deployWalletFixture);
        await expect(wallet.connect(guardian).revokeSessionKey(mallory.address)).to.not.emit(wallet, "SessionKeyRevoked");
      });

      it("emits SessionKeyRevoked(key, owner) when the owner revokes", async function () {
        const { wallet, owner, sessionKey } = await loadFixture(deployWalletFixture);
        await expect(wallet.connect(owner).revokeSessionKey(sessionKey.address))
          .to.emit(wallet, "SessionKeyRevoked")
          .withArgs(sessionKey.address, owner.address);
      });
    });

    describe("invalidateNonce", function () {
      it("emits NonceInvalidated(nonce, guardian)", async function () {
        const { wallet, guardian } = await loadFixture(deployWalletFixture);
        await expect(wallet.connect(guardian).invalidateNonce(9n)).to.emit(wallet, "NonceInvalidated").withArgs(9n, guardian.address);
      });

      it("makes an operation signed with that nonce revert with NonceAlreadyUsed", async function () {
        const { wallet, guardian, usdc, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
        const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 1n)], 9n);
        const args = await signed(wallet, op, sessionKey, cosigner);
        await wallet.connect(guardian).invalidateNonce(9n);
        await expect(wallet.connect(relayer).execute(...args)).to.be.revertedWithCustomError(wallet, "NonceAlreadyUsed").withArgs(9n);
      });

      it("reverts with NonceAlreadyUsed for a nonce already burnt", async function () {
        const { wallet, guardian, owner } = await loadFixture(deployWalletFixture);
        await wallet.connect(guardian).invalidateNonce(9n);
        await expect(wallet.connect(owner).invalidateNonce(9n)).to.be.revertedWithCustomError(wallet, "NonceAlreadyUsed").withArgs(9n);
      });
    });

    describe("when the caller is neither owner nor guardian", function () {
      const calls: [string, (w: AgentWallet, f: Fixture) => Promise<unknown>][] = [
        ["pause", (w) => w.pause()],
        ["revokeSessionKey", (w, f) => w.revokeSessionKey(f.sessionKey.address)],
        ["invalidateNonce", (w) => w.invalidateNonce(1n)],
      ];
      for (const [name, fn] of calls) {
        it(`${name} reverts with NotOwnerOrGuardian(caller)`, async function () {
          const f = await loadFixture(deployWalletFixture);
          await expect(fn(f.wallet.connect(f.mallory), f))
            .to.be.revertedWithCustomError(f.wallet, "NotOwnerOrGuardian")
            .withArgs(f.mallory.address);
        });
      }

      it("the co-signer cannot revoke a session key either (NotOwnerOrGuardian)", async function () {
        const f = await loadFixture(deployWalletFixture);
        await expect(f.wallet.connect(f.cosigner).revokeSessionKey(f.sessionKey.address))
          .to.be.revertedWithCustomError(f.wallet, "NotOwnerOrGuardian")
          .withArgs(f.cosigner.address);
      });
    });
  });

  describe("owner-only configuration", function () {
    const calls: [string, (w: AgentWallet, f: Fixture) => Promise<unknown>][] = [
      ["addSessionKey", async (w, f) => w.addSessionKey(f.mallory.address, await inADay())],
      ["setCosigner", (w, f) => w.setCosigner(f.mallory.address)],
      ["addGuardian", (w, f) => w.addGuardian(f.mallory.address)],
      ["removeGuardian", (w, f) => w.removeGuardian(f.guardian.address)],
      ["setBudget", (w) => w.setBudget({ token: NATIVE, limit: 10n ** 30n, period: 1n, maxPerOperation: 10n ** 30n })],
      ["removeBudget", (w) => w.removeBudget(NATIVE)],
      ["setRecipient", (w, f) => w.setRecipient(f.mallory.address, true)],
      ["setCallPermission", (w, f) => w.setCallPermission(f.mallory.address, "0x12345678", true)],
      ["unpause", (w) => w.unpause()],
      ["transferOwnership", (w, f) => w.transferOwnership(f.mallory.address)],
      ["renounceOwnership", (w) => w.renounceOwnership()],
      ["ownerExecute", (w, f) => w.ownerExecute([{ target: f.mallory.address, value: 1n, data: "0x" }])],
    ];
    for (const [name, fn] of calls) {
      it(`${name} reverts with OwnableUnauthorizedAccount for a guardian`, async function () {
        const f = await loadFixture(deployWalletFixture);
        await expect(fn(f.wallet.connect(f.guardian), f))
          .to.be.revertedWithCustomError(f.wallet, "OwnableUnauthorizedAccount")
          .withArgs(f.guardian.address);
      });
    }

    it("addSessionKey reverts with OwnableUnauthorizedAccount for the session key itself", async function () {
      const f = await loadFixture(deployWalletFixture);
      await expect(f.wallet.connect(f.sessionKey).addSessionKey(f.mallory.address, await inADay()))
        .to.be.revertedWithCustomError(f.wallet, "OwnableUnauthorizedAccount")
        .withArgs(f.sessionKey.address);
    });

    it("setRecipient reverts with OwnableUnauthorizedAccount for the co-signer", async function () {
      const f = await loadFixture(deployWalletFixture);
      await expect(f.wallet.connect(f.cosigner).setRecipient(f.mallory.address, true))
        .to.be.revertedWithCustomError(f.wallet, "OwnableUnauthorizedAccount")
        .withArgs(f.cosigner.address);
    });
  });

  describe("addSessionKey", function () {
    it("emits SessionKeyAdded(key, validUntil)", async function () {
      const { wallet, owner, mallory } = await loadFixture(deployWalletFixture);
      const validUntil = await inADay();
      await expect(wallet.connect(owner).addSessionKey(mallory.address, validUntil))
        .to.emit(wallet, "SessionKeyAdded")
        .withArgs(mallory.address, validUntil);
    });

    it("changes the expiry of an existing key without a RoleConflict", async function () {
      const { wallet, owner, sessionKey } = await loadFixture(deployWalletFixture);
      const validUntil = await inADay();
      await wallet.connect(owner).addSessionKey(sessionKey.address, validUntil);
      expect([await wallet.sessionKeyValidUntil(sessionKey.address), await wallet.sessionKeys()]).to.deep.equal([
        validUntil,
        [sessionKey.address],
      ]);
    });

    it("re-registers a revoked key", async function () {
      const { wallet, owner, guardian, sessionKey } = await loadFixture(deployWalletFixture);
      await wallet.connect(guardian).revokeSessionKey(sessionKey.address);
      await wallet.connect(owner).addSessionKey(sessionKey.address, await inADay());
      expect(await wallet.isSessionKeyActive(sessionKey.address)).to.equal(true);
    });

    describe("when the configuration is invalid", function () {
      it("reverts with InvalidSessionKey for a validUntil in the past", async function () {
        const { wallet, owner, mallory } = await loadFixture(deployWalletFixture);
        const past = BigInt(await time.latest()) - 1n;
        await expect(wallet.connect(owner).addSessionKey(mallory.address, past))
          .to.be.revertedWithCustomError(wallet, "InvalidSessionKey")
          .withArgs(mallory.address, past);
      });

      it("reverts with InvalidSessionKey for a validUntil equal to the block's timestamp", async function () {
        const { wallet, owner, mallory } = await loadFixture(deployWalletFixture);
        const now = BigInt(await time.latest()) + 5n;
        await time.setNextBlockTimestamp(now);
        await expect(wallet.connect(owner).addSessionKey(mallory.address, now))
          .to.be.revertedWithCustomError(wallet, "InvalidSessionKey")
          .withArgs(mallory.address, now);
      });

      it("accepts a validUntil one second after the block's timestamp", async function () {
        const { wallet, owner, mallory } = await loadFixture(deployWalletFixture);
        const now = BigInt(await time.latest()) + 5n;
        await time.setNextBlockTimestamp(now);
        await expect(wallet.connect(owner).addSessionKey(mallory.address, now + 1n))
          .to.emit(wallet, "SessionKeyAdded")
          .withArgs(mallory.address, now + 1n);
      });

      it("reverts with InvalidSessionKey for the zero address", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const validUntil = await inADay();
        await expect(wallet.connect(owner).addSessionKey(ethers.ZeroAddress, validUntil))
          .to.be.revertedWithCustomError(wallet, "InvalidSessionKey")
          .withArgs(ethers.ZeroAddress, validUntil);
      });

      it("reverts with InvalidSessionKey for the wallet itself", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const validUntil = await inADay();
        await expect(wallet.connect(owner).addSessionKey(wallet, validUntil))
          .to.be.revertedWithCustomError(wallet, "InvalidSessionKey")
          .withArgs(await wallet.getAddress(), validUntil);
      });
    });
  });

  describe("role conflicts", function () {
    const conflicts: [string, (f: Fixture) => Promise<[Promise<unknown>, string]>][] = [
      ["the co-signer as a session key", async (f) => [f.wallet.connect(f.owner).addSessionKey(f.cosigner.address, await inADay()), f.cosigner.address]],
      ["a guardian as a session key", async (f) => [f.wallet.connect(f.owner).addSessionKey(f.guardian.address, await inADay()), f.guardian.address]],
      ["the owner as a session key", async (f) => [f.wallet.connect(f.owner).addSessionKey(f.owner.address, await inADay()), f.owner.address]],
      ["a session key as a guardian", async (f) => [f.wallet.connect(f.owner).addGuardian(f.sessionKey.address), f.sessionKey.address]],
      ["the co-signer as a guardian", async (f) => [f.wallet.connect(f.owner).addGuardian(f.cosigner.address), f.cosigner.address]],
      ["the owner as a guardian", async (f) => [f.wallet.connect(f.owner).addGuardian(f.owner.address), f.owner.address]],
      ["an existing guardian added again", async (f) => [f.wallet.connect(f.owner).addGuardian(f.guardian.address), f.guardian.address]],
      ["the owner as co-signer", async (f) => [f.wallet.connect(f.owner).setCosigner(f.owner.address), f.owner.address]],
      ["a session key as co-signer", async (f) => [f.wallet.connect(f.owner).setCosigner(f.sessionKey.address), f.sessionKey.address]],
      ["a guardian as co-signer", async (f) => [f.wallet.connect(f.owner).setCosigner(f.guardian.address), f.guardian.address]],
      ["transferOwnership to the co-signer", async (f) => [f.wallet.connect(f.owner).transferOwnership(f.cosigner.address), f.cosigner.address]],
      ["transferOwnership to a guardian", async (f) => [f.wallet.connect(f.owner).transferOwnership(f.guardian.address), f.guardian.address]],
      ["transferOwnership to a session key", async (f) => [f.wallet.connect(f.owner).transferOwnership(f.sessionKey.address), f.sessionKey.address]],
      [
        "an expired (not revoked) session key as a guardian",
        async (f) => {
          await time.increaseTo(f.config.sessionKeys[0].validUntil + 1n);
          return [f.wallet.connect(f.owner).addGuardian(f.sessionKey.address), f.sessionKey.address];
        },
      ],
      [
        "the pending owner as a guardian",
        async (f) => {
          await f.wallet.connect(f.owner).transferOwnership(f.bob.address);
          return [f.wallet.connect(f.owner).addGuardian(f.bob.address), f.bob.address];
        },
      ],
      [
        "the pending owner as co-signer",
        async (f) => {
          await f.wallet.connect(f.owner).transferOwnership(f.bob.address);
          return [f.wallet.connect(f.owner).setCosigner(f.bob.address), f.bob.address];
        },
      ],
    ];
    for (const [name, make] of conflicts) {
      it(`reverts with RoleConflict(account) for ${name}`, async function () {
        const f = await loadFixture(deployWalletFixture);
        const [tx, account] = await make(f);
        await expect(tx).to.be.revertedWithCustomError(f.wallet, "RoleConflict").withArgs(account);
      });
    }

    it("lets a revoked session key become a guardian", async function () {
      const { wallet, owner, guardian, sessionKey } = await loadFixture(deployWalletFixture);
      await wallet.connect(guardian).revokeSessionKey(sessionKey.address);
      await expect(wallet.connect(owner).addGuardian(sessionKey.address)).to.emit(wallet, "GuardianAdded").withArgs(sessionKey.address);
    });
  });

  describe("setCosigner", function () {
    it("emits CosignerChanged(previous, new)", async function () {
      const { wallet, owner, cosigner, bob } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCosigner(bob.address)).to.emit(wallet, "CosignerChanged").withArgs(cosigner.address, bob.address);
    });

    it("makes the new co-signer the one operations need", async function () {
      const { wallet, owner, bob, usdc, alice, sessionKey, relayer } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).setCosigner(bob.address);
      const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 1n)], 1n);
      await expect(wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, bob)))).to.emit(wallet, "Executed");
    });
  });

  describe("addGuardian / removeGuardian", function () {
    it("emits GuardianAdded", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).addGuardian(bob.address)).to.emit(wallet, "GuardianAdded").withArgs(bob.address);
    });

    it("reverts with InvalidAddress for the zero address", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).addGuardian(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidAddress for the wallet itself", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).addGuardian(wallet))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(await wallet.getAddress());
    });

    it("emits GuardianRemoved", async function () {
      const { wallet, owner, guardian } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).removeGuardian(guardian.address)).to.emit(wallet, "GuardianRemoved").withArgs(guardian.address);
    });

    it("emits nothing when removing an account that is not a guardian", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).removeGuardian(bob.address)).to.not.emit(wallet, "GuardianRemoved");
    });
  });

  describe("setRecipient", function () {
    it("emits RecipientSet(recipient, true) when allowing", async function () {
      const { wallet, owner, mallory } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setRecipient(mallory.address, true)).to.emit(wallet, "RecipientSet").withArgs(mallory.address, true);
    });

    it("emits RecipientSet(recipient, false) when disallowing", async function () {
      const { wallet, owner, alice } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setRecipient(alice.address, false)).to.emit(wallet, "RecipientSet").withArgs(alice.address, false);
    });

    it("emits nothing when the recipient is already allowed", async function () {
      const { wallet, owner, alice } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setRecipient(alice.address, true)).to.not.emit(wallet, "RecipientSet");
    });

    it("reverts with InvalidAddress for the wallet itself", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setRecipient(wallet, true))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(await wallet.getAddress());
    });
  });

  describe("setCallPermission", function () {
    it("emits CallPermissionSet(target, selector, true) when granting", async function () {
      const { wallet, owner, weth } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCallPermission(weth, "0xd0e30db0", true))
        .to.emit(wallet, "CallPermissionSet")
        .withArgs(await weth.getAddress(), "0xd0e30db0", true);
    });

    it("emits CallPermissionSet(target, selector, false) when withdrawing", async function () {
      const { wallet, owner, dex } = await loadFixture(deployWalletFixture);
      const selector = dex.interface.getFunction("swap")!.selector;
      await expect(wallet.connect(owner).setCallPermission(dex, selector, false))
        .to.emit(wallet, "CallPermissionSet")
        .withArgs(await dex.getAddress(), selector, false);
    });

    it("emits nothing when the permission already exists", async function () {
      const { wallet, owner, dex } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCallPermission(dex, dex.interface.getFunction("swap")!.selector, true)).to.not.emit(
        wallet,
        "CallPermissionSet",
      );
    });

    it("reverts with InvalidAddress for the zero address", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCallPermission(ethers.ZeroAddress, "0x12345678", true))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidAddress for the wallet itself", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCallPermission(wallet, "0x12345678", true))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(await wallet.getAddress());
    });

    it("keeps a spender permitted while it still has another call permission", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, cb] = [await f.usdc.getAddress(), await f.callback.getAddress()];
      await f.wallet.connect(f.owner).setCallPermission(cb, f.callback.interface.getFunction("writeSlot0")!.selector, false);
      const op = await operation([erc20Approve(usdc, cb, 1n), erc20Approve(usdc, cb, 0n)], 1n);
      await expect(f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)))).to.emit(
        f.wallet,
        "Executed",
      );
    });
  });

  describe("transfer-like permissions on budgeted tokens (TokenPermissionConflict)", function () {
    const TRANSFER_LIKE: [string, string][] = [
      ["transfer", "0xa9059cbb"],
      ["transferFrom", "0x23b872dd"],
      ["approve", "0x095ea7b3"],
      ["increaseAllowance", ethers.id("increaseAllowance(address,uint256)").slice(0, 10)],
      ["permit", ethers.id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)").slice(0, 10)],
      ["increaseApproval", ethers.id("increaseApproval(address,uint256)").slice(0, 10)],
      ["approveAndCall", ethers.id("approveAndCall(address,uint256,bytes)").slice(0, 10)],
      ["authorizeOperator", ethers.id("authorizeOperator(address)").slice(0, 10)],
    ];

    describe("setCallPermission on a budgeted token", function () {
      for (const [name, selector] of TRANSFER_LIKE) {
        it(`reverts with TokenPermissionConflict(token, ${name})`, async function () {
          const { wallet, owner, usdc } = await loadFixture(deployWalletFixture);
          await expect(wallet.connect(owner).setCallPermission(usdc, selector, true))
            .to.be.revertedWithCustomError(wallet, "TokenPermissionConflict")
            .withArgs(await usdc.getAddress(), selector);
        });
      }

      it("accepts a selector that is not transfer-like (mint)", async function () {
        const { wallet, owner, usdc } = await loadFixture(deployWalletFixture);
        const mint = usdc.interface.getFunction("mint")!.selector;
        await wallet.connect(owner).setCallPermission(usdc, mint, true);
        expect(await wallet.isCallPermitted(usdc, mint)).to.equal(true);
      });

      it("accepts withdrawing a transfer-like permission that does not exist (no conflict, no event)", async function () {
        const { wallet, owner, usdc } = await loadFixture(deployWalletFixture);
        await expect(wallet.connect(owner).setCallPermission(usdc, TRANSFER_LIKE[0][1], false)).to.not.emit(wallet, "CallPermissionSet");
      });
    });

    describe("setCallPermission on a token without a budget", function () {
      it("accepts a transfer permission", async function () {
        const { wallet, owner, weth } = await loadFixture(deployWalletFixture);
        const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[0][1], true);
        expect([await wallet.isCallPermitted(loose, TRANSFER_LIKE[0][1]), await wallet.isCallPermitted(weth, TRANSFER_LIKE[0][1])]).to.deep.equal([
          true,
          false,
        ]);
      });
    });

    describe("setBudget on a token with a transfer-like permission", function () {
      for (const [name, selector] of TRANSFER_LIKE) {
        it(`reverts with TokenPermissionConflict(token, ${name})`, async function () {
          const { wallet, owner } = await loadFixture(deployWalletFixture);
          const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
          await wallet.connect(owner).setCallPermission(loose, selector, true);
          await expect(wallet.connect(owner).setBudget({ token: loose, limit: 100n, period: DAY, maxPerOperation: 10n }))
            .to.be.revertedWithCustomError(wallet, "TokenPermissionConflict")
            .withArgs(await loose.getAddress(), selector);
        });
      }

      it("names the first conflicting selector in the order transfer, transferFrom, approve, increaseAllowance, permit", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[4][1], true);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[2][1], true);
        await expect(wallet.connect(owner).setBudget({ token: loose, limit: 100n, period: DAY, maxPerOperation: 10n }))
          .to.be.revertedWithCustomError(wallet, "TokenPermissionConflict")
          .withArgs(await loose.getAddress(), TRANSFER_LIKE[2][1]);
      });

      it("accepts the budget once the permission is withdrawn", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[0][1], true);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[0][1], false);
        await expect(wallet.connect(owner).setBudget({ token: loose, limit: 100n, period: DAY, maxPerOperation: 10n }))
          .to.emit(wallet, "BudgetSet")
          .withArgs(await loose.getAddress(), 100n, DAY, 10n);
      });

      it("accepts the budget beside a permission that is not transfer-like", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
        await wallet.connect(owner).setCallPermission(loose, loose.interface.getFunction("mint")!.selector, true);
        await wallet.connect(owner).setBudget({ token: loose, limit: 100n, period: DAY, maxPerOperation: 10n });
        expect(await wallet.available(loose)).to.equal(100n);
      });
    });

    describe("in the factory's configuration", function () {
      it("reverts with TokenPermissionConflict when a budgeted token also gets a transfer permission", async function () {
        const { factory, wallet, config } = await loadFixture(deployWalletFixture);
        const usdc = config.budgets[0].token;
        const bad = { ...config, callPermissions: [...config.callPermissions, { target: usdc, selector: TRANSFER_LIKE[0][1] }] };
        await expect(factory.createWallet(bad, ethers.id("conflict")))
          .to.be.revertedWithCustomError(wallet, "TokenPermissionConflict")
          .withArgs(usdc, TRANSFER_LIKE[0][1]);
      });
    });

    describe("removeBudget", function () {
      // The conflicting state cannot be reached (both setters refuse it), so removeBudget's own check can only be
      // seen passing: beside a permission that is not transfer-like, and with none at all.
      it("removes a budget beside a permission that is not transfer-like", async function () {
        const { wallet, owner, usdc } = await loadFixture(deployWalletFixture);
        await wallet.connect(owner).setCallPermission(usdc, usdc.interface.getFunction("mint")!.selector, true);
        await expect(wallet.connect(owner).removeBudget(usdc)).to.emit(wallet, "BudgetRemoved").withArgs(await usdc.getAddress());
      });

      it("leaves no transfer permission behind: a transfer needs a new, explicit permission afterwards", async function () {
        const { wallet, owner, usdc } = await loadFixture(deployWalletFixture);
        await wallet.connect(owner).removeBudget(usdc);
        expect(await wallet.isCallPermitted(usdc, TRANSFER_LIKE[0][1])).to.equal(false);
      });

      it("emits nothing for a token without a budget", async function () {
        const { wallet, owner } = await loadFixture(deployWalletFixture);
        const loose = await ethers.deployContract("MockERC20", ["Loose", "LOOSE", 18]);
        await wallet.connect(owner).setCallPermission(loose, TRANSFER_LIKE[0][1], true);
        await expect(wallet.connect(owner).removeBudget(loose)).to.not.emit(wallet, "BudgetRemoved");
      });
    });
  });

  describe("ownership (two-step)", function () {
    it("reverts with InvalidAddress(wallet) when the new owner is the wallet itself", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).transferOwnership(wallet))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(await wallet.getAddress());
    });

    it("keeps the wallet recoverable: no pending owner after the refused self-transfer", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).transferOwnership(wallet)).to.be.reverted;
      expect([await wallet.owner(), await wallet.pendingOwner()]).to.deep.equal([owner.address, ethers.ZeroAddress]);
    });

    it("cannot start a transfer to itself through ownerExecute either (the wallet is not its own owner)", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      const walletAddr = await wallet.getAddress();
      const data = wallet.interface.encodeFunctionData("transferOwnership", [walletAddr]);
      await expect(wallet.connect(owner).ownerExecute([{ target: walletAddr, value: 0n, data }]))
        .to.be.revertedWithCustomError(wallet, "CallReverted")
        .withArgs(0n, wallet.interface.encodeErrorResult("OwnableUnauthorizedAccount", [walletAddr]));
    });

    it("emits OwnershipTransferStarted(owner, pendingOwner)", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).transferOwnership(bob.address))
        .to.emit(wallet, "OwnershipTransferStarted")
        .withArgs(owner.address, bob.address);
    });

    it("hands over control once the new owner accepts", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).transferOwnership(bob.address);
      await expect(wallet.connect(bob).acceptOwnership()).to.emit(wallet, "OwnershipTransferred").withArgs(owner.address, bob.address);
    });

    it("leaves the previous owner without configuration rights", async function () {
      const { wallet, owner, bob, mallory } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).transferOwnership(bob.address);
      await wallet.connect(bob).acceptOwnership();
      await expect(wallet.connect(owner).setRecipient(mallory.address, true))
        .to.be.revertedWithCustomError(wallet, "OwnableUnauthorizedAccount")
        .withArgs(owner.address);
    });

    it("lets the owner cancel a pending transfer with transferOwnership(0)", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).transferOwnership(bob.address);
      await wallet.connect(owner).transferOwnership(ethers.ZeroAddress);
      expect(await wallet.pendingOwner()).to.equal(ethers.ZeroAddress);
    });

    // Without an owner nobody could unpause, reconfigure or rescue funds, and a guardian's pause would be permanent.
    it("refuses renounceOwnership, which would leave a paused wallet unrecoverable", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).renounceOwnership()).to.be.revertedWithCustomError(wallet, "RenounceOwnershipDisabled");
      expect(await wallet.owner()).to.equal(owner.address);
    });
  });
});
