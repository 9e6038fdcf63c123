import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { deployWalletFixture } from "../fixtures";
import { erc20Approve, erc20Transfer, nativeTransfer, operation, signed } from "../helpers";
import { APPROVE, TRANSFER, walletError, walletWithMocksFixture } from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;
const GWEI = 10n ** 9n;

/** The circuit breaker: guardians stop the agent path, only the owner starts it again, the owner can always rescue. */
describe("AgentWallet pause", function () {
  async function signedTransfer(f: Awaited<ReturnType<typeof deployWalletFixture>>, nonce = 1n) {
    const op = await operation([erc20Transfer(await f.usdc.getAddress(), f.alice.address, USDC(10n))], nonce);
    return signed(f.wallet, op, f.sessionKey, f.cosigner);
  }

  describe("pause", function () {
    it("emits Paused(guardian) when a guardian pauses", async function () {
      const { wallet, guardian } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(guardian).pause()).to.emit(wallet, "Paused").withArgs(guardian.address);
    });

    it("emits Paused(owner) when the owner pauses", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).pause()).to.emit(wallet, "Paused").withArgs(owner.address);
    });

    it("sets paused()", async function () {
      const { wallet, guardian } = await loadFixture(deployWalletFixture);
      await wallet.connect(guardian).pause();
      expect(await wallet.paused()).to.equal(true);
    });

    it("reverts with NotOwnerOrGuardian for an outsider", async function () {
      const { wallet, mallory } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(mallory).pause())
        .to.be.revertedWithCustomError(wallet, "NotOwnerOrGuardian")
        .withArgs(mallory.address);
    });

    it("reverts with NotOwnerOrGuardian for the session key", async function () {
      const { wallet, sessionKey } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(sessionKey).pause())
        .to.be.revertedWithCustomError(wallet, "NotOwnerOrGuardian")
        .withArgs(sessionKey.address);
    });

    it("reverts with NotOwnerOrGuardian for a guardian the owner removed", async function () {
      const { wallet, owner, guardian } = await loadFixture(deployWalletFixture);
      await wallet.connect(owner).removeGuardian(guardian.address);
      await expect(wallet.connect(guardian).pause())
        .to.be.revertedWithCustomError(wallet, "NotOwnerOrGuardian")
        .withArgs(guardian.address);
    });
  });

  describe("when a pause races an execution in the same block", function () {
    afterEach(async function () {
      await network.provider.send("evm_setAutomine", [true]);
    });

    async function race() {
      const f = await loadFixture(deployWalletFixture);
      const args = await signedTransfer(f, 77n);
      const [walletBalance, aliceBalance] = [await f.usdc.balanceOf(f.wallet), await f.usdc.balanceOf(f.alice)];
      await network.provider.send("evm_setAutomine", [false]);
      // The guardian outbids the relayer, so the pause is ordered first in the block.
      const pauseTx = await f.wallet
        .connect(f.guardian)
        .pause({ gasLimit: 100_000n, maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 50n * GWEI });
      const executeTx = await f.wallet
        .connect(f.relayer)
        .execute(...args, { gasLimit: 1_000_000n, maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 1n * GWEI });
      await mine(1);
      await network.provider.send("evm_setAutomine", [true]);
      const pauseReceipt = (await ethers.provider.getTransactionReceipt(pauseTx.hash))!;
      const executeReceipt = (await ethers.provider.getTransactionReceipt(executeTx.hash))!;
      return { ...f, pauseReceipt, executeReceipt, executeTx, walletBalance, aliceBalance };
    }

    it("mines both transactions in the same block, the pause first", async function () {
      const { pauseReceipt, executeReceipt } = await race();
      expect([executeReceipt.blockNumber, pauseReceipt.index < executeReceipt.index]).to.deep.equal([pauseReceipt.blockNumber, true]);
    });

    it("lets the pause succeed and the execution revert", async function () {
      const { pauseReceipt, executeReceipt } = await race();
      expect([pauseReceipt.status, executeReceipt.status]).to.deep.equal([1, 0]);
    });

    it("reverts the execution with WalletPaused", async function () {
      const { wallet, executeTx } = await race();
      const trace = await network.provider.send("debug_traceTransaction", [
        executeTx.hash,
        { disableStorage: true, disableMemory: true, disableStack: true },
      ]);
      expect([trace.failed, "0x" + trace.returnValue.replace(/^0x/, "")]).to.deep.equal([true, walletError(wallet, "WalletPaused")]);
    });

    it("leaves the nonce unused and the balances unchanged", async function () {
      const { wallet, usdc, alice, walletBalance, aliceBalance } = await race();
      expect([await wallet.isNonceUsed(77n), await usdc.balanceOf(wallet), await usdc.balanceOf(alice)]).to.deep.equal([
        false,
        walletBalance,
        aliceBalance,
      ]);
    });
  });

  describe("when paused", function () {
    async function paused() {
      const f = await loadFixture(deployWalletFixture);
      await f.wallet.connect(f.guardian).pause();
      return f;
    }

    it("reverts the agent path with WalletPaused", async function () {
      const f = await paused();
      await expect(f.wallet.connect(f.relayer).execute(...(await signedTransfer(f)))).to.be.revertedWithCustomError(
        f.wallet,
        "WalletPaused",
      );
    });

    it("lets the owner move tokens out without limits (rescue), to any address", async function () {
      const f = await paused();
      const all = await f.usdc.balanceOf(f.wallet);
      expect(all).to.be.greaterThan(USDC(1_000n)); // more than the whole daily budget
      await expect(f.wallet.connect(f.owner).ownerExecute([erc20Transfer(await f.usdc.getAddress(), f.mallory.address, all)])).to.changeTokenBalances(
        f.usdc,
        [f.wallet, f.mallory],
        [-all, all],
      );
    });

    it("lets the owner move native ETH out without limits", async function () {
      const f = await paused();
      const all = await ethers.provider.getBalance(f.wallet);
      await expect(f.wallet.connect(f.owner).ownerExecute([nativeTransfer(f.owner.address, all)])).to.changeEtherBalance(f.wallet, -all);
    });

    it("emits OwnerExecuted(target, value, selector) for each call on the owner path", async function () {
      const f = await paused();
      const usdc = await f.usdc.getAddress();
      const tx = f.wallet
        .connect(f.owner)
        .ownerExecute([erc20Transfer(usdc, f.owner.address, 1n), nativeTransfer(f.alice.address, 3n), erc20Approve(usdc, f.bob.address, 2n)]);
      const receipt = await (await tx).wait();
      const emitted = receipt!.logs
        .map((log) => f.wallet.interface.parseLog(log))
        .filter((parsed) => parsed?.name === "OwnerExecuted")
        .map((parsed) => [...parsed!.args]);
      expect(emitted).to.deep.equal([
        [usdc, 0n, TRANSFER],
        [f.alice.address, 3n, "0x00000000"],
        [usdc, 0n, APPROVE],
      ]);
    });

    it("emits OwnerExecuted with selector 0 for calldata shorter than a selector", async function () {
      const f = await paused();
      await expect(f.wallet.connect(f.owner).ownerExecute([{ target: f.alice.address, value: 1n, data: "0xa9059c" }]))
        .to.emit(f.wallet, "OwnerExecuted")
        .withArgs(f.alice.address, 1n, "0x00000000");
    });

    it("emits no OwnerExecuted for an empty batch", async function () {
      const f = await paused();
      await expect(f.wallet.connect(f.owner).ownerExecute([])).to.not.emit(f.wallet, "OwnerExecuted");
    });

    it("does not let a guardian unpause (OwnableUnauthorizedAccount)", async function () {
      const f = await paused();
      await expect(f.wallet.connect(f.guardian).unpause())
        .to.be.revertedWithCustomError(f.wallet, "OwnableUnauthorizedAccount")
        .withArgs(f.guardian.address);
    });

    it("emits Unpaused(owner) when the owner unpauses", async function () {
      const f = await paused();
      await expect(f.wallet.connect(f.owner).unpause()).to.emit(f.wallet, "Unpaused").withArgs(f.owner.address);
    });

    it("runs the agent path again once the owner unpaused", async function () {
      const f = await paused();
      const args = await signedTransfer(f);
      await f.wallet.connect(f.owner).unpause();
      await expect(f.wallet.connect(f.relayer).execute(...args)).to.changeTokenBalance(f.usdc, f.alice, USDC(10n));
    });
  });

  describe("ownerExecute", function () {
    describe("when the owner is a contract", function () {
      async function contractOwned() {
        const f = await loadFixture(walletWithMocksFixture);
        const walletAddr = await f.wallet.getAddress();
        await f.wallet.connect(f.owner).transferOwnership(f.callback);
        await f.callback.callBack(walletAddr, f.wallet.interface.encodeFunctionData("acceptOwnership"));
        return { ...f, walletAddr };
      }

      it("cannot be re-entered from inside its own calls (ReentrancyGuardReentrantCall)", async function () {
        const f = await contractOwned();
        const cb = await f.callback.getAddress();
        const inner = f.wallet.interface.encodeFunctionData("ownerExecute", [[]]);
        const outer = f.wallet.interface.encodeFunctionData("ownerExecute", [
          [{ target: cb, value: 0n, data: f.callback.interface.encodeFunctionData("callBack", [f.walletAddr, inner]) }],
        ]);
        await expect(f.callback.callBack(f.walletAddr, outer))
          .to.be.revertedWithCustomError(f.wallet, "CallReverted")
          .withArgs(0n, walletError(f.wallet, "ReentrancyGuardReentrantCall"));
      });

      it("refuses ERC-1271 signatures when the contract owner does not implement isValidSignature", async function () {
        const f = await contractOwned();
        const hash = ethers.id("order");
        const sig = await f.owner.signMessage(ethers.getBytes(hash));
        expect(await f.wallet.isValidSignature(hash, sig)).to.equal("0xffffffff");
      });
    });

    it("reverts with OwnableUnauthorizedAccount for a guardian", async function () {
      const { wallet, guardian, alice } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(guardian).ownerExecute([nativeTransfer(alice.address, 1n)]))
        .to.be.revertedWithCustomError(wallet, "OwnableUnauthorizedAccount")
        .withArgs(guardian.address);
    });

    it("reverts with CallReverted(index, reason) when one of its calls reverts", async function () {
      const { wallet, owner, usdc, alice } = await loadFixture(deployWalletFixture);
      const tooMuch = (await usdc.balanceOf(wallet)) + 1n;
      const walletAddr = await wallet.getAddress();
      const reason = usdc.interface.encodeErrorResult("ERC20InsufficientBalance", [walletAddr, tooMuch - 1n, tooMuch]);
      await expect(wallet.connect(owner).ownerExecute([nativeTransfer(alice.address, 1n), erc20Transfer(await usdc.getAddress(), alice.address, tooMuch)]))
        .to.be.revertedWithCustomError(wallet, "CallReverted")
        .withArgs(1n, reason);
    });

    it("cannot re-enter the agent path (ReentrancyGuardReentrantCall)", async function () {
      const f = await loadFixture(deployWalletFixture);
      const callback = await ethers.deployContract("CallbackTarget");
      const inner = f.wallet.interface.encodeFunctionData("execute", await signedTransfer(f));
      const data = callback.interface.encodeFunctionData("callBack", [await f.wallet.getAddress(), inner]);
      await expect(f.wallet.connect(f.owner).ownerExecute([{ target: await callback.getAddress(), value: 0n, data }]))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(0n, walletError(f.wallet, "ReentrancyGuardReentrantCall"));
    });
  });
});
