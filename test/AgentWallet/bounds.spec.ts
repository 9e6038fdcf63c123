import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { NATIVE, erc20Approve, erc20Transfer, nativeTransfer, operation, signed, type TestBound, type TestOperation } from "../helpers";
import { call, walletWithMocksFixture } from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;
const MAX_INT256 = 2n ** 255n - 1n;
const MIN_INT256 = -(2n ** 255n);

type Fixture = Awaited<ReturnType<typeof walletWithMocksFixture>>;

/** Rule 5: after the batch, every bound's balance change is at least its minDelta. */
describe("AgentWallet execute: bounds", function () {
  async function run(f: Fixture, calls: TestOperation["calls"], bounds: TestBound[]) {
    const op = await operation(calls, 1n, 300n, { bounds });
    return f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)));
  }

  async function addresses(f: Fixture) {
    return {
      wallet: await f.wallet.getAddress(),
      usdc: await f.usdc.getAddress(),
      weth: await f.weth.getAddress(),
      dex: await f.dex.getAddress(),
    };
  }

  describe("on a token transfer", function () {
    it("passes when the wallet's change is exactly minDelta (-amount)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, USDC(10n))], [{ asset: a.usdc, account: a.wallet, minDelta: -USDC(10n) }]))
        .to.emit(f.wallet, "Executed");
    });

    it("reverts with BoundViolated(asset, account, minDelta, actualDelta) one unit below", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const minDelta = -USDC(10n) + 1n;
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, USDC(10n))], [{ asset: a.usdc, account: a.wallet, minDelta }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(a.usdc, a.wallet, minDelta, -USDC(10n));
    });

    it("checks a third party's balance: the recipient gets at least +amount", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, USDC(10n))], [{ asset: a.usdc, account: f.alice.address, minDelta: USDC(10n) }]))
        .to.changeTokenBalance(f.usdc, f.alice, USDC(10n));
    });

    it("reverts with BoundViolated on the recipient of a fee-on-transfer token (99 received of 100)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const fee = await f.feeToken.getAddress();
      const amount = 100n * 10n ** 18n;
      await expect(run(f, [erc20Transfer(fee, f.alice.address, amount)], [{ asset: fee, account: f.alice.address, minDelta: amount }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(fee, f.alice.address, amount, (amount * 99n) / 100n);
    });

    it("reverts with BoundViolated for an untouched account that must gain (actual delta 0)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], [{ asset: a.usdc, account: f.bob.address, minDelta: 1n }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(a.usdc, f.bob.address, 1n, 0n);
    });
  });

  describe("on native ETH (asset zero)", function () {
    it("passes at exactly minDelta = -value", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [nativeTransfer(f.alice.address, 1000n)], [{ asset: NATIVE, account: a.wallet, minDelta: -1000n }])).to.changeEtherBalance(
        f.alice,
        1000n,
      );
    });

    it("reverts with BoundViolated(NATIVE, wallet, minDelta, -value) when more ETH left than bounded", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [nativeTransfer(f.alice.address, 1000n)], [{ asset: NATIVE, account: a.wallet, minDelta: -999n }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(NATIVE, a.wallet, -999n, -1000n);
    });

    it("checks the recipient's ETH balance (+value)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await expect(run(f, [nativeTransfer(f.alice.address, 1000n)], [{ asset: NATIVE, account: f.alice.address, minDelta: 1001n }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(NATIVE, f.alice.address, 1001n, 1000n);
    });
  });

  describe("on a swap", function () {
    async function swap(f: Fixture, amountIn: bigint) {
      const a = await addresses(f);
      const data = f.dex.interface.encodeFunctionData("swap", [a.usdc, a.weth, amountIn, 0n]);
      return [erc20Approve(a.usdc, a.dex, amountIn), call(a.dex, data)];
    }

    it("passes with the bought amount exactly at minDelta", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const out = await f.dex.quote(a.usdc, a.weth, USDC(400n));
      const bounds = [
        { asset: a.usdc, account: a.wallet, minDelta: -USDC(400n) },
        { asset: a.weth, account: a.wallet, minDelta: out },
      ];
      await expect(run(f, await swap(f, USDC(400n)), bounds)).to.changeTokenBalance(f.weth, f.wallet, out);
    });

    it("reverts with BoundViolated(weth, wallet, minOut, out) when the swap pays one unit less than the bound", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const out = await f.dex.quote(a.usdc, a.weth, USDC(400n));
      await expect(run(f, await swap(f, USDC(400n)), [{ asset: a.weth, account: a.wallet, minDelta: out + 1n }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(a.weth, a.wallet, out + 1n, out);
    });

    it("reports the first violated bound in the order signed", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const bounds = [
        { asset: a.usdc, account: a.wallet, minDelta: -USDC(400n) },
        { asset: a.usdc, account: a.wallet, minDelta: -USDC(399n) },
        { asset: a.weth, account: a.wallet, minDelta: MAX_INT256 },
      ];
      await expect(run(f, await swap(f, USDC(400n)), bounds))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(a.usdc, a.wallet, -USDC(399n), -USDC(400n));
    });
  });

  describe("at the int256 edges", function () {
    it("passes a bound of type(int256).min (anything goes)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], [{ asset: a.usdc, account: a.wallet, minDelta: MIN_INT256 }])).to.emit(
        f.wallet,
        "Executed",
      );
    });

    it("saturates a rise above type(int256).max to type(int256).max (which still meets a max bound)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const huge = await ethers.deployContract("MockERC20", ["Huge", "HUGE", 0]);
      await f.wallet.connect(f.owner).setCallPermission(huge, huge.interface.getFunction("mint")!.selector, true);
      const mint = huge.interface.encodeFunctionData("mint", [a.wallet, 2n ** 255n + 5n]);
      await expect(run(f, [call(await huge.getAddress(), mint)], [{ asset: await huge.getAddress(), account: a.wallet, minDelta: MAX_INT256 }])).to.emit(
        f.wallet,
        "Executed",
      );
    });

    it("saturates a fall below type(int256).min to type(int256).min", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const huge = await ethers.deployContract("MockERC20", ["Huge", "HUGE", 0]);
      await huge.mint(f.alice.address, 2n ** 255n + 5n);
      await huge.connect(f.alice).approve(a.dex, ethers.MaxUint256);
      await f.wallet.connect(f.owner).setCallPermission(a.dex, f.dex.interface.getFunction("pull")!.selector, true);
      const pull = f.dex.interface.encodeFunctionData("pull", [await huge.getAddress(), f.alice.address, 2n ** 255n + 5n]);
      await expect(run(f, [call(a.dex, pull)], [{ asset: await huge.getAddress(), account: f.alice.address, minDelta: MIN_INT256 + 1n }]))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(await huge.getAddress(), f.alice.address, MIN_INT256 + 1n, MIN_INT256);
    });
  });

  describe("an unreadable balance", function () {
    it("reverts with BalanceUnreadable(asset, account) when balanceOf reverts", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const token = await ethers.deployContract("NoBalanceToken");
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], [{ asset: await token.getAddress(), account: a.wallet, minDelta: 0n }]))
        .to.be.revertedWithCustomError(f.wallet, "BalanceUnreadable")
        .withArgs(await token.getAddress(), a.wallet);
    });

    it("reverts with BalanceUnreadable(asset, account) when the asset has no code", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], [{ asset: f.bob.address, account: a.wallet, minDelta: 0n }]))
        .to.be.revertedWithCustomError(f.wallet, "BalanceUnreadable")
        .withArgs(f.bob.address, a.wallet);
    });

    it("reverts with BalanceUnreadable when balanceOf answers with fewer than 32 bytes", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const short = await ethers.deployContract("ShortAnswer");
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], [{ asset: await short.getAddress(), account: a.wallet, minDelta: 0n }]))
        .to.be.revertedWithCustomError(f.wallet, "BalanceUnreadable")
        .withArgs(await short.getAddress(), a.wallet);
    });

    it("reverts with BalanceUnreadable(token, wallet) when a budgeted token's balance cannot be measured around a permitted call", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await ethers.deployContract("NoBalanceToken");
      await f.wallet.connect(f.owner).setBudget({ token, limit: 100n, period: 86_400n, maxPerOperation: 100n });
      const data = f.callback.interface.encodeFunctionData("writeSlot0", [1n]);
      await expect(run(f, [call(await f.callback.getAddress(), data)], []))
        .to.be.revertedWithCustomError(f.wallet, "BalanceUnreadable")
        .withArgs(await token.getAddress(), await f.wallet.getAddress());
    });
  });

  describe("bound count", function () {
    it("accepts exactly MAX_BOUNDS (32) bounds", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const bounds = Array.from({ length: 32 }, () => ({ asset: a.usdc, account: a.wallet, minDelta: -1n }));
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], bounds)).to.emit(f.wallet, "Executed");
    });

    it("reverts with InvalidBoundCount(33) for one bound more than MAX_BOUNDS", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const bounds = Array.from({ length: 33 }, () => ({ asset: a.usdc, account: a.wallet, minDelta: -1n }));
      await expect(run(f, [erc20Transfer(a.usdc, f.alice.address, 1n)], bounds))
        .to.be.revertedWithCustomError(f.wallet, "InvalidBoundCount")
        .withArgs(33n);
    });
  });

  describe("the signature", function () {
    it("binds the bounds: a relayer that drops a bound gets a signature of nobody (UnknownSessionKey)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const op = await operation([erc20Transfer(a.usdc, f.alice.address, 1n)], 1n, 300n, {
        bounds: [{ asset: a.usdc, account: a.wallet, minDelta: -1n }],
      });
      const [calls, nonce, deadline, gas, , agentSig, cosignerSig] = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      await expect(f.wallet.connect(f.relayer).execute(calls, nonce, deadline, gas, [], agentSig, cosignerSig)).to.be.revertedWithCustomError(
        f.wallet,
        "UnknownSessionKey",
      );
    });

    it("binds callGasLimit: a relayer that lowers it gets a signature of nobody (UnknownSessionKey)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = await addresses(f);
      const op = await operation([erc20Transfer(a.usdc, f.alice.address, 1n)], 1n);
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      await expect(
        f.wallet.connect(f.relayer).execute(calls, nonce, deadline, gas - 1n, bounds, agentSig, cosignerSig),
      ).to.be.revertedWithCustomError(f.wallet, "UnknownSessionKey");
    });
  });
});
