import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { Address } from "viem";
import { deriveBounds } from "../../src/intent/bounds";
import { deployWalletFixture, USDC_MAX_PER_OP } from "../fixtures";
import { NATIVE, erc20Transfer, signed, type TestOperation } from "../helpers";
import { call, opAt } from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;
const ETH = (n: bigint) => n * 10n ** 18n;
const BLOCK_GAS = 30_000_000n;
const SELL = ETH(1n) / 2n; // the agent sells 0.5 ETH
const BUY = USDC(1_000n); // for at least 1,000 USDC

/*
 * The attacks (issue 7), with a LEAKED CO-SIGNER KEY: the attacker signs both parts directly, so no co-signer
 * service stands between it and the chain. Each test shows the chain refusing and the wallet losing nothing.
 */

/** The standard wallet, plus a FickleSwap and a lending pool whose functions the owner permitted, both funded. */
async function attackFixture() {
  const f = await deployWalletFixture();
  const fickle = await ethers.deployContract("FickleSwap");
  const pool = await ethers.deployContract("MockLendingPool");
  const w = f.wallet.connect(f.owner);
  for (const name of ["swapIfGasAbove", "swapUntil", "swapUnlessOrigin", "swapUnlessBlockhash"] as const) {
    await w.setCallPermission(fickle, fickle.interface.getFunction(name)!.selector, true);
  }
  await w.setCallPermission(pool, pool.interface.getFunction("borrow")!.selector, true);
  await w.setCallPermission(pool, pool.interface.getFunction("repay")!.selector, true);
  await f.usdc.mint(fickle, USDC(1_000_000n));
  await f.usdc.mint(pool, USDC(1_000_000n));
  return { ...f, fickle, pool };
}

type Fixture = Awaited<ReturnType<typeof attackFixture>>;

/** The bounds the SDK and the co-signer derive from "sell at most SELL ETH for at least BUY USDC". */
async function swapBounds(f: Fixture) {
  const intent = {
    kind: "swap" as const,
    sell: { asset: "native", maxAmount: SELL },
    buy: { asset: await f.usdc.getAddress(), minAmount: BUY },
  };
  // deriveBounds takes the parsed intent (src/intent/schema.ts); the swap fields are all it reads.
  return deriveBounds(intent as Parameters<typeof deriveBounds>[0], (await f.wallet.getAddress()) as Address);
}

/** The wallet's ETH and USDC, and whether `nonce` was used. */
async function snapshot(f: Fixture, nonce: bigint) {
  return {
    eth: await ethers.provider.getBalance(f.wallet),
    usdc: await f.usdc.balanceOf(f.wallet),
    nonceUsed: await f.wallet.isNonceUsed(nonce),
  };
}

/** Signs with the session key and the leaked co-signer key: no co-signer service is involved. */
async function leaked(f: Fixture, op: TestOperation) {
  return signed(f.wallet, op, f.sessionKey, f.cosigner);
}

describe("AgentWallet v2: the issue's attacks with a leaked co-signer key", function () {
  describe("the derived swap bounds", function () {
    it("are wallet ETH >= -SELL and wallet USDC >= +BUY", async function () {
      const f = await loadFixture(attackFixture);
      const wallet = await f.wallet.getAddress();
      expect(await swapBounds(f)).to.deep.equal([
        { asset: NATIVE, account: wallet, minDelta: -SELL },
        { asset: await f.usdc.getAddress(), account: wallet, minDelta: BUY },
      ]);
    });

    it("let an honest swap through (the FickleSwap pays when nothing differs)", async function () {
      const f = await loadFixture(attackFixture);
      const data = f.fickle.interface.encodeFunctionData("swapUntil", [await f.usdc.getAddress(), BUY, ethers.MaxUint256]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, BigInt(await time.latest()) + 300n, { bounds: await swapBounds(f) });
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op)))).to.changeTokenBalance(f.usdc, f.wallet, BUY);
    });
  });

  describe("a swap that pays only when gasleft() is above 29M (the fork ran with the block's gas)", function () {
    async function gasGated(f: Fixture, callGasLimit: bigint) {
      const data = f.fickle.interface.encodeFunctionData("swapIfGasAbove", [await f.usdc.getAddress(), BUY, 29_000_000n]);
      return opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, BigInt(await time.latest()) + 300n, {
        callGasLimit,
        bounds: await swapBounds(f),
      });
    }

    it("reverts with BoundViolated(usdc, wallet, BUY, 0) even when the relayer sends 30M gas", async function () {
      const f = await loadFixture(attackFixture);
      const op = await gasGated(f, 1_000_000n);
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op)), { gasLimit: BLOCK_GAS }))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(await f.usdc.getAddress(), await f.wallet.getAddress(), BUY, 0n);
    });

    it("leaves the wallet's ETH and USDC unchanged and the nonce unused", async function () {
      const f = await loadFixture(attackFixture);
      const before = await snapshot(f, 1n);
      const op = await gasGated(f, 1_000_000n);
      await f.wallet.connect(f.relayer).execute(...(await leaked(f, op)), { gasLimit: BLOCK_GAS }).catch(() => undefined);
      expect(await snapshot(f, 1n)).to.deep.equal(before);
    });

    it("reverts with InsufficientGas when the operation signs a callGasLimit above what the relayer forwards", async function () {
      const f = await loadFixture(attackFixture);
      const op = await gasGated(f, 29_500_000n);
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op)), { gasLimit: 25_000_000n }))
        .to.be.revertedWithCustomError(f.wallet, "InsufficientGas");
      expect(await snapshot(f, 1n)).to.deep.equal({ eth: ETH(10n), usdc: USDC(10_000n), nonceUsed: false });
    });
  });

  describe("a time bomb: a swap that pays until a timestamp, executed after it but within the deadline", function () {
    it("reverts with BoundViolated(usdc, wallet, BUY, 0) one second after `until`", async function () {
      const f = await loadFixture(attackFixture);
      const until = BigInt(await time.latest()) + 5n;
      const data = f.fickle.interface.encodeFunctionData("swapUntil", [await f.usdc.getAddress(), BUY, until]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, until + 300n, { bounds: await swapBounds(f) });
      const args = await leaked(f, op);
      await time.setNextBlockTimestamp(until + 1n);
      await expect(f.wallet.connect(f.relayer).execute(...args))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(await f.usdc.getAddress(), await f.wallet.getAddress(), BUY, 0n);
    });

    it("leaves the wallet's ETH and USDC unchanged and the nonce unused", async function () {
      const f = await loadFixture(attackFixture);
      const before = await snapshot(f, 1n);
      const until = BigInt(await time.latest()) + 5n;
      const data = f.fickle.interface.encodeFunctionData("swapUntil", [await f.usdc.getAddress(), BUY, until]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, until + 300n, { bounds: await swapBounds(f) });
      const args = await leaked(f, op);
      await time.setNextBlockTimestamp(until + 1n);
      await f.wallet.connect(f.relayer).execute(...args).catch(() => undefined);
      expect(await snapshot(f, 1n)).to.deep.equal(before);
    });

    it("would have lost SELL without the bounds (what the bounds stop)", async function () {
      const f = await loadFixture(attackFixture);
      const until = BigInt(await time.latest()) + 5n;
      const data = f.fickle.interface.encodeFunctionData("swapUntil", [await f.usdc.getAddress(), BUY, until]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, until + 300n);
      const args = await leaked(f, op);
      await time.setNextBlockTimestamp(until + 1n);
      await expect(f.wallet.connect(f.relayer).execute(...args)).to.changeEtherBalance(f.wallet, -SELL);
      expect(await f.usdc.balanceOf(f.wallet)).to.equal(USDC(10_000n));
    });

    it("still pays at `until` itself (the bound only refuses a worse outcome)", async function () {
      const f = await loadFixture(attackFixture);
      const until = BigInt(await time.latest()) + 5n;
      const data = f.fickle.interface.encodeFunctionData("swapUntil", [await f.usdc.getAddress(), BUY, until]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, until + 300n, { bounds: await swapBounds(f) });
      const args = await leaked(f, op);
      await time.setNextBlockTimestamp(until);
      await expect(f.wallet.connect(f.relayer).execute(...args)).to.changeTokenBalance(f.usdc, f.wallet, BUY);
    });
  });

  describe("a swap that pays unless tx.origin is the real relayer", function () {
    it("reverts with BoundViolated(usdc, wallet, BUY, 0) when relayed by that relayer", async function () {
      const f = await loadFixture(attackFixture);
      const data = f.fickle.interface.encodeFunctionData("swapUnlessOrigin", [await f.usdc.getAddress(), BUY, f.relayer.address]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, BigInt(await time.latest()) + 300n, { bounds: await swapBounds(f) });
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op))))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(await f.usdc.getAddress(), await f.wallet.getAddress(), BUY, 0n);
    });

    it("leaves the wallet's ETH and USDC unchanged and the nonce unused", async function () {
      const f = await loadFixture(attackFixture);
      const before = await snapshot(f, 1n);
      const data = f.fickle.interface.encodeFunctionData("swapUnlessOrigin", [await f.usdc.getAddress(), BUY, f.relayer.address]);
      const op = opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, BigInt(await time.latest()) + 300n, { bounds: await swapBounds(f) });
      await f.wallet.connect(f.relayer).execute(...(await leaked(f, op))).catch(() => undefined);
      expect(await snapshot(f, 1n)).to.deep.equal(before);
    });
  });

  describe("a swap that pays unless blockhash(n) equals the value recorded on chain", function () {
    async function recorded(f: Fixture) {
      await mine(3);
      const n = BigInt(await ethers.provider.getBlockNumber()) - 1n;
      await f.fickle.record(n);
      const data = f.fickle.interface.encodeFunctionData("swapUnlessBlockhash", [await f.usdc.getAddress(), BUY, n]);
      return opAt([call(await f.fickle.getAddress(), data, SELL)], 1n, BigInt(await time.latest()) + 300n, { bounds: await swapBounds(f) });
    }

    it("reverts with BoundViolated(usdc, wallet, BUY, 0) on the chain whose hash was recorded", async function () {
      const f = await loadFixture(attackFixture);
      const op = await recorded(f);
      expect(await f.fickle.recordedHash()).to.not.equal(ethers.ZeroHash);
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op))))
        .to.be.revertedWithCustomError(f.wallet, "BoundViolated")
        .withArgs(await f.usdc.getAddress(), await f.wallet.getAddress(), BUY, 0n);
    });

    it("leaves the wallet's ETH and USDC unchanged and the nonce unused", async function () {
      const f = await loadFixture(attackFixture);
      const op = await recorded(f);
      const before = await snapshot(f, 1n);
      await f.wallet.connect(f.relayer).execute(...(await leaked(f, op))).catch(() => undefined);
      expect(await snapshot(f, 1n)).to.deep.equal(before);
    });
  });

  describe("[pool.borrow(USDC, 5000), USDC.transfer(alice, 5000)]: an inflow hiding an outflow", function () {
    async function borrowAndSend(f: Fixture, amount: bigint, nonce = 1n, deadline?: bigint) {
      const usdc = await f.usdc.getAddress();
      const borrow = f.pool.interface.encodeFunctionData("borrow", [usdc, amount]);
      return opAt([call(await f.pool.getAddress(), borrow), erc20Transfer(usdc, f.alice.address, amount)], nonce, deadline ?? BigInt(await time.latest()) + 300n);
    }

    it("reverts with PerOperationCapExceeded(usdc, 5000e6, 500e6): the borrow is not credited", async function () {
      const f = await loadFixture(attackFixture);
      const op = await borrowAndSend(f, USDC(5_000n));
      await expect(f.wallet.connect(f.relayer).execute(...(await leaked(f, op))))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(await f.usdc.getAddress(), USDC(5_000n), USDC_MAX_PER_OP);
    });

    it("leaves the wallet's USDC, the pool's and alice's unchanged", async function () {
      const f = await loadFixture(attackFixture);
      const before = [await f.usdc.balanceOf(f.wallet), await f.usdc.balanceOf(f.pool), await f.usdc.balanceOf(f.alice.address)];
      const op = await borrowAndSend(f, USDC(5_000n));
      await f.wallet.connect(f.relayer).execute(...(await leaked(f, op))).catch(() => undefined);
      expect([await f.usdc.balanceOf(f.wallet), await f.usdc.balanceOf(f.pool), await f.usdc.balanceOf(f.alice.address)]).to.deep.equal(before);
    });

    it("reverts with BudgetExceeded when borrow + transfer fit the cap but not what is left of the day's budget", async function () {
      const f = await loadFixture(attackFixture);
      const usdc = await f.usdc.getAddress();
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = t0 + 1_000n;
      // Spend 2 x 500 (the whole 1,000 USDC/day), then try to hide 400 more behind a 400 borrow.
      const first = opAt([erc20Transfer(usdc, f.alice.address, USDC(500n))], 1n, deadline);
      const second = opAt([erc20Transfer(usdc, f.bob.address, USDC(500n))], 2n, deadline);
      const argsA = await leaked(f, first);
      const argsB = await leaked(f, second);
      const attack = await leaked(f, await borrowAndSend(f, USDC(400n), 3n, deadline));
      await time.setNextBlockTimestamp(t0);
      await f.wallet.connect(f.relayer).execute(...argsA);
      await time.setNextBlockTimestamp(t0 + 1n);
      await f.wallet.connect(f.relayer).execute(...argsB);
      await time.setNextBlockTimestamp(t0 + 2n);
      // Used: 500e6 at t0; 500e6 - 11,574 + 500e6 at t0 + 1; 11,574 less again at t0 + 2: 23,148 available.
      await expect(f.wallet.connect(f.relayer).execute(...attack))
        .to.be.revertedWithCustomError(f.wallet, "BudgetExceeded")
        .withArgs(usdc, USDC(400n), 23_148n);
    });

    it("charges the gross 300 of a borrow 300 + send 300 within the cap, though the wallet's net change is 0", async function () {
      const f = await loadFixture(attackFixture);
      const op = await borrowAndSend(f, USDC(300n));
      const usdc = await f.usdc.getAddress();
      const tx = f.wallet.connect(f.relayer).execute(...(await leaked(f, op)));
      await expect(tx).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(300n));
      await expect(tx).to.changeTokenBalance(f.usdc, f.wallet, 0n);
    });
  });
});
