import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployWalletFixture } from "../fixtures";
import { erc20Transfer, operation, signed } from "../helpers";

const SALT = ethers.id("factory-spec");

/** AgentWalletFactory: deterministic clones, initialised in the deploying transaction, bound to their config. */
describe("AgentWalletFactory", function () {
  describe("predictWallet / createWallet", function () {
    it("deploys to the predicted address", async function () {
      const { factory, config } = await loadFixture(deployWalletFixture);
      const predicted = await factory.predictWallet(config, SALT);
      expect(await factory.createWallet.staticCall(config, SALT)).to.equal(predicted);
    });

    it("leaves code at the predicted address", async function () {
      const { factory, config } = await loadFixture(deployWalletFixture);
      const predicted = await factory.predictWallet(config, SALT);
      await factory.createWallet(config, SALT);
      expect(await ethers.provider.getCode(predicted)).to.not.equal("0x");
    });

    it("emits WalletCreated(wallet, owner, salt)", async function () {
      const { factory, config, owner } = await loadFixture(deployWalletFixture);
      const predicted = await factory.predictWallet(config, SALT);
      await expect(factory.createWallet(config, SALT)).to.emit(factory, "WalletCreated").withArgs(predicted, owner.address, SALT);
    });

    it("initialises the wallet with the whole configuration in the same transaction", async function () {
      const { factory, config, owner, cosigner, guardian, sessionKey } = await loadFixture(deployWalletFixture);
      const wallet = await ethers.getContractAt("AgentWallet", await factory.predictWallet(config, SALT));
      await factory.createWallet(config, SALT);
      expect({
        owner: await wallet.owner(),
        cosigner: await wallet.cosigner(),
        guardians: await wallet.guardians(),
        sessionKeys: await wallet.sessionKeys(),
        recipients: await wallet.recipients(),
        budgeted: await wallet.budgetedTokens(),
      }).to.deep.equal({
        owner: owner.address,
        cosigner: cosigner.address,
        guardians: [guardian.address],
        sessionKeys: [sessionKey.address],
        recipients: config.recipients,
        budgeted: [config.budgets[0].token, config.budgets[1].token],
      });
    });

    it("gives a different address for the same salt with a different owner (no front-running the address)", async function () {
      const { factory, config, mallory } = await loadFixture(deployWalletFixture);
      const stolen = { ...config, owner: mallory.address };
      expect(await factory.predictWallet(stolen, SALT)).to.not.equal(await factory.predictWallet(config, SALT));
    });

    it("still deploys the victim's wallet after an attacker used the same salt with another owner", async function () {
      const { factory, config, owner, mallory } = await loadFixture(deployWalletFixture);
      await factory.connect(mallory).createWallet({ ...config, owner: mallory.address }, SALT);
      const predicted = await factory.predictWallet(config, SALT);
      await factory.createWallet(config, SALT);
      expect(await (await ethers.getContractAt("AgentWallet", predicted)).owner()).to.equal(owner.address);
    });

    it("gives a different address for the same salt with any other configuration change", async function () {
      const { factory, config, mallory } = await loadFixture(deployWalletFixture);
      const widened = { ...config, recipients: [...config.recipients, mallory.address] };
      expect(await factory.predictWallet(widened, SALT)).to.not.equal(await factory.predictWallet(config, SALT));
    });

    describe("when the configuration and salt are already deployed", function () {
      it("returns the existing wallet's address", async function () {
        const { factory, wallet, config, salt } = await loadFixture(deployWalletFixture);
        expect(await factory.createWallet.staticCall(config, salt)).to.equal(await wallet.getAddress());
      });

      it("does not revert, and emits no second WalletCreated", async function () {
        const { factory, config, salt } = await loadFixture(deployWalletFixture);
        await expect(factory.createWallet(config, salt)).to.not.emit(factory, "WalletCreated");
      });

      it("leaves the existing wallet's state untouched (a used nonce and a later recipient stay)", async function () {
        const { factory, wallet, config, salt, usdc, alice, mallory, owner, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
        const op = await operation([erc20Transfer(await usdc.getAddress(), alice.address, 100n)], 1n);
        await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
        await wallet.connect(owner).setRecipient(mallory.address, true);
        await factory.createWallet(config, salt);
        expect([await wallet.isNonceUsed(1n), await wallet.isRecipientAllowed(mallory.address)]).to.deep.equal([true, true]);
      });

      it("lets the owner's deployment go on when a stranger front-ran it with the same configuration", async function () {
        const { factory, config, owner, mallory } = await loadFixture(deployWalletFixture);
        const predicted = await factory.predictWallet(config, SALT);
        await expect(factory.connect(mallory).createWallet(config, SALT))
          .to.emit(factory, "WalletCreated")
          .withArgs(predicted, owner.address, SALT);
        expect(await factory.connect(owner).createWallet.staticCall(config, SALT)).to.equal(predicted);
        await expect(factory.connect(owner).createWallet(config, SALT)).to.not.emit(factory, "WalletCreated");
      });

      it("gives the front-run wallet to the configured owner, not to the stranger who deployed it", async function () {
        const { factory, config, owner, mallory } = await loadFixture(deployWalletFixture);
        await factory.connect(mallory).createWallet(config, SALT);
        const wallet = await ethers.getContractAt("AgentWallet", await factory.predictWallet(config, SALT));
        expect([await wallet.owner(), await wallet.cosigner()]).to.deep.equal([owner.address, config.cosigner]);
      });
    });

    it("reverts with InvalidAddress(0) for a configuration without owner", async function () {
      const { factory, wallet, config } = await loadFixture(deployWalletFixture);
      await expect(factory.createWallet({ ...config, owner: ethers.ZeroAddress }, SALT))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with RoleConflict when the configuration gives one account two roles", async function () {
      const { factory, wallet, config } = await loadFixture(deployWalletFixture);
      await expect(factory.createWallet({ ...config, guardians: [config.cosigner] }, SALT))
        .to.be.revertedWithCustomError(wallet, "RoleConflict")
        .withArgs(config.cosigner);
    });

    it("reverts with InvalidBudget when the configuration has an invalid budget", async function () {
      const { factory, wallet, config } = await loadFixture(deployWalletFixture);
      const bad = { token: ethers.ZeroAddress, limit: 1n, period: 0n, maxPerOperation: 1n };
      await expect(factory.createWallet({ ...config, budgets: [bad] }, SALT))
        .to.be.revertedWithCustomError(wallet, "InvalidBudget")
        .withArgs(bad.token, bad.limit, bad.period, bad.maxPerOperation);
    });
  });

  describe("initialize", function () {
    it("reverts with InvalidInitialization when called again on a wallet", async function () {
      const { wallet, config, mallory } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(mallory).initialize({ ...config, owner: mallory.address })).to.be.revertedWithCustomError(
        wallet,
        "InvalidInitialization",
      );
    });

    it("reverts with InvalidInitialization on the implementation", async function () {
      const { factory, config, mallory } = await loadFixture(deployWalletFixture);
      const implementation = await ethers.getContractAt("AgentWallet", await factory.implementation());
      await expect(implementation.connect(mallory).initialize({ ...config, owner: mallory.address })).to.be.revertedWithCustomError(
        implementation,
        "InvalidInitialization",
      );
    });

    it("leaves the implementation owned by the factory, with no co-signer", async function () {
      const { factory } = await loadFixture(deployWalletFixture);
      const implementation = await ethers.getContractAt("AgentWallet", await factory.implementation());
      expect([await implementation.owner(), await implementation.cosigner()]).to.deep.equal([
        await factory.getAddress(),
        ethers.ZeroAddress,
      ]);
    });
  });

  describe("clones", function () {
    it("each use their own address in the EIP-712 domain", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      const domain = await wallet.eip712Domain();
      expect([domain.name, domain.version, domain.verifyingContract]).to.deep.equal(["AgentWallet", "2", await wallet.getAddress()]);
    });
  });
});
