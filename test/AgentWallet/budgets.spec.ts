import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { DAY, NATIVE, erc20Approve, erc20Transfer, nativeTransfer, operation, signed, type TestOperation } from "../helpers";
import { ETH_LIMIT, ETH_MAX_PER_OP, USDC_LIMIT, USDC_MAX_PER_OP, WETH_LIMIT } from "../fixtures";
import { FEE_LIMIT, SLOW_LIMIT, SLOW_PERIOD, TRANSFER, call, opAt, walletWithMocksFixture, digestArgs } from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;
const ETH = (n: bigint) => n * 10n ** 18n;
const MAX_UINT112 = 2n ** 112n - 1n;
const MAX_BUDGET_PERIOD = 365n * DAY;

type Fixture = Awaited<ReturnType<typeof walletWithMocksFixture>>;

/** Rule 4's budget half: per-operation caps and the refilling bucket, pinned to the second. */
describe("AgentWallet budgets", function () {
  async function run(f: Fixture, op: TestOperation) {
    return f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)));
  }

  /** Spends the whole SLOW bucket (1 unit/second) in a block at `t0`; returns the far deadline used. */
  async function drainSlowAt(f: Fixture, t0: bigint) {
    const deadline = t0 + 10n * DAY;
    const op = opAt([erc20Transfer(await f.slow.getAddress(), f.alice.address, SLOW_LIMIT)], 1n, deadline);
    const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
    await time.setNextBlockTimestamp(t0);
    await f.wallet.connect(f.relayer).execute(...args);
    return deadline;
  }

  /** Signs a SLOW transfer of `amount` with `nonce` and sends it in a block at exactly `at`. */
  async function spendSlowAt(f: Fixture, amount: bigint, nonce: bigint, deadline: bigint, at: bigint) {
    const op = opAt([erc20Transfer(await f.slow.getAddress(), f.alice.address, amount)], nonce, deadline);
    const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
    await time.setNextBlockTimestamp(at);
    return { op, tx: f.wallet.connect(f.relayer).execute(...args) };
  }

  describe("setBudget", function () {
    describe("when the configuration is out of range", function () {
      const cases: [string, { limit: bigint; period: bigint; maxPerOperation: bigint }][] = [
        ["period is 0", { limit: 1_000n, period: 0n, maxPerOperation: 1_000n }],
        ["period is MAX_BUDGET_PERIOD + 1", { limit: 1_000n, period: MAX_BUDGET_PERIOD + 1n, maxPerOperation: 1_000n }],
        ["limit is 0", { limit: 0n, period: DAY, maxPerOperation: 0n }],
        ["limit is type(uint112).max + 1", { limit: MAX_UINT112 + 1n, period: DAY, maxPerOperation: 1n }],
        ["limit is type(uint256).max", { limit: ethers.MaxUint256, period: DAY, maxPerOperation: 1n }],
        ["maxPerOperation is 0", { limit: 1_000n, period: DAY, maxPerOperation: 0n }],
        ["maxPerOperation is above the limit", { limit: 1_000n, period: DAY, maxPerOperation: 1_001n }],
      ];
      for (const [name, c] of cases) {
        it(`reverts with InvalidBudget when ${name}`, async function () {
          const f = await loadFixture(walletWithMocksFixture);
          const token = await f.loose.getAddress();
          await expect(f.wallet.connect(f.owner).setBudget({ token, ...c }))
            .to.be.revertedWithCustomError(f.wallet, "InvalidBudget")
            .withArgs(token, c.limit, c.period, c.maxPerOperation);
        });
      }

      it("reverts with InvalidBudget when the token is the wallet itself", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.wallet.getAddress();
        await expect(f.wallet.connect(f.owner).setBudget({ token, limit: 10n, period: DAY, maxPerOperation: 10n }))
          .to.be.revertedWithCustomError(f.wallet, "InvalidBudget")
          .withArgs(token, 10n, DAY, 10n);
      });
    });

    describe("at the edges of the range", function () {
      it("accepts period == MAX_BUDGET_PERIOD and limit == maxPerOperation == type(uint112).max", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: MAX_UINT112, period: MAX_BUDGET_PERIOD, maxPerOperation: MAX_UINT112 });
        expect([...(await f.wallet.budget(token))]).to.deep.equal([MAX_UINT112, MAX_BUDGET_PERIOD, MAX_UINT112]);
      });

      it("starts a type(uint112).max budget with all of it available", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: MAX_UINT112, period: MAX_BUDGET_PERIOD, maxPerOperation: MAX_UINT112 });
        expect(await f.wallet.available(token)).to.equal(MAX_UINT112);
      });

      it("spends and refills a type(uint112).max budget without overflow (refill over a whole period)", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: MAX_UINT112, period: 1n, maxPerOperation: MAX_UINT112 });
        await f.loose.mint(f.wallet, MAX_UINT112);
        await run(f, await operation([erc20Transfer(token, f.alice.address, MAX_UINT112)], 1n));
        expect(await f.wallet.available(token)).to.equal(0n);
        await time.increase(MAX_BUDGET_PERIOD);
        expect(await f.wallet.available(token)).to.equal(MAX_UINT112);
      });

      it("accepts period 1 and limit 1", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: 1n, period: 1n, maxPerOperation: 1n });
        expect([...(await f.wallet.budget(token))]).to.deep.equal([1n, 1n, 1n]);
      });
    });

    describe("for a new token", function () {
      it("emits BudgetSet with the limit, period and cap", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await expect(f.wallet.connect(f.owner).setBudget({ token, limit: 100n, period: 60n, maxPerOperation: 10n }))
          .to.emit(f.wallet, "BudgetSet")
          .withArgs(token, 100n, 60n, 10n);
      });

      it("lists the token in budgetedTokens()", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: 100n, period: 60n, maxPerOperation: 10n });
        expect(await f.wallet.budgetedTokens()).to.include(token);
      });

      it("starts with a full bucket", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: 100n, period: 60n, maxPerOperation: 10n });
        expect(await f.wallet.available(token)).to.equal(100n);
      });

      it("makes transfers of the token allowed to allowlisted recipients", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const token = await f.loose.getAddress();
        await f.wallet.connect(f.owner).setBudget({ token, limit: 100n, period: 60n, maxPerOperation: 10n });
        await expect(run(f, await operation([erc20Transfer(token, f.alice.address, 10n)], 1n))).to.changeTokenBalance(
          f.loose,
          f.alice,
          10n,
        );
      });
    });

    describe("when the token already has a budget", function () {
      it("keeps the consumption so far, refilled at the old rate up to now", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const t0 = BigInt(await time.latest()) + 10n;
        await drainSlowAt(f, t0);
        await time.setNextBlockTimestamp(t0 + 100n);
        // Twice the rate from now on: used at t0+100 is 86,300, so 2 * 86,400 - 86,300 = 86,500 is available.
        await f.wallet.connect(f.owner).setBudget({ token: f.slow, limit: 2n * SLOW_LIMIT, period: SLOW_PERIOD, maxPerOperation: SLOW_LIMIT });
        expect(await f.wallet.available(f.slow)).to.equal(86_500n);
      });

      it("refills at the new rate after the change", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const t0 = BigInt(await time.latest()) + 10n;
        await drainSlowAt(f, t0);
        await time.setNextBlockTimestamp(t0 + 100n);
        await f.wallet.connect(f.owner).setBudget({ token: f.slow, limit: 2n * SLOW_LIMIT, period: SLOW_PERIOD, maxPerOperation: SLOW_LIMIT });
        await time.increaseTo(t0 + 110n);
        expect(await f.wallet.available(f.slow)).to.equal(86_500n + 20n);
      });

      it("leaves nothing available when the new limit is below what is already used", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        const t0 = BigInt(await time.latest()) + 10n;
        await drainSlowAt(f, t0);
        await time.setNextBlockTimestamp(t0 + 100n);
        await f.wallet.connect(f.owner).setBudget({ token: f.slow, limit: 1_000n, period: SLOW_PERIOD, maxPerOperation: 1_000n });
        expect(await f.wallet.available(f.slow)).to.equal(0n);
      });
    });
  });

  describe("removeBudget", function () {
    it("emits BudgetRemoved", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await expect(f.wallet.connect(f.owner).removeBudget(f.usdc)).to.emit(f.wallet, "BudgetRemoved").withArgs(await f.usdc.getAddress());
    });

    it("zeroes budget() and available() and drops the token from budgetedTokens()", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      await f.wallet.connect(f.owner).removeBudget(usdc);
      expect({
        budget: [...(await f.wallet.budget(usdc))],
        available: await f.wallet.available(usdc),
        listed: (await f.wallet.budgetedTokens()).includes(usdc),
      }).to.deep.equal({ budget: [0n, 0n, 0n], available: 0n, listed: false });
    });

    it("makes a transfer of the token need an explicit call permission (CallNotPermitted)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      await f.wallet.connect(f.owner).removeBudget(usdc);
      await expect(run(f, await operation([erc20Transfer(usdc, f.alice.address, 1n)], 1n)))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(usdc, TRANSFER);
    });

    it("gives a full bucket when the budget is set again", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      await drainSlowAt(f, t0);
      await f.wallet.connect(f.owner).removeBudget(f.slow);
      await f.wallet.connect(f.owner).setBudget({ token: f.slow, limit: SLOW_LIMIT, period: SLOW_PERIOD, maxPerOperation: SLOW_LIMIT });
      expect(await f.wallet.available(f.slow)).to.equal(SLOW_LIMIT);
    });

    describe("of NATIVE", function () {
      it("blocks every native outflow with PerOperationCapExceeded(NATIVE, value, 0)", async function () {
        const f = await loadFixture(walletWithMocksFixture);
        await f.wallet.connect(f.owner).removeBudget(NATIVE);
        await expect(run(f, await operation([nativeTransfer(f.alice.address, 1n)], 1n)))
          .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
          .withArgs(NATIVE, 1n, 0n);
      });
    });
  });

  describe("charging an operation", function () {
    it("emits BudgetCharged(token, outflow)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20Transfer(usdc, f.alice.address, USDC(100n))], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(100n));
    });

    it("charges each token of a batch that transfers two budgeted tokens", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, weth] = [await f.usdc.getAddress(), await f.weth.getAddress()];
      const op = await operation([erc20Transfer(usdc, f.alice.address, USDC(1n)), erc20Transfer(weth, f.bob.address, ETH(1n))], 1n);
      await expect(run(f, op))
        .to.emit(f.wallet, "BudgetCharged")
        .withArgs(usdc, USDC(1n))
        .and.to.emit(f.wallet, "BudgetCharged")
        .withArgs(weth, ETH(1n));
    });

    it("passes at exactly maxPerOperation", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      await expect(run(f, await operation([erc20Transfer(usdc, f.alice.address, USDC_MAX_PER_OP)], 1n))).to.changeTokenBalance(
        f.usdc,
        f.alice,
        USDC_MAX_PER_OP,
      );
    });

    it("reverts with PerOperationCapExceeded(token, outflow, cap) one unit above the cap", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      await expect(run(f, await operation([erc20Transfer(usdc, f.alice.address, USDC_MAX_PER_OP + 1n)], 1n)))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC_MAX_PER_OP + 1n, USDC_MAX_PER_OP);
    });

    it("sums the transfers of one batch against the cap", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20Transfer(usdc, f.alice.address, USDC(300n)), erc20Transfer(usdc, f.bob.address, USDC(300n))], 1n);
      await expect(run(f, op))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("charges native ETH sent by a plain transfer", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(f.alice.address, ETH(1n) / 2n)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(NATIVE, ETH(1n) / 2n);
    });

    it("charges native ETH sent as the value of a permitted call", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const cb = await f.callback.getAddress();
      const data = f.callback.interface.encodeFunctionData("callBack", [f.alice.address, "0x"]);
      const op = await operation([call(cb, data, ETH(1n) / 4n)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(NATIVE, ETH(1n) / 4n);
    });

    it("reverts with PerOperationCapExceeded(NATIVE, outflow, cap) above the native cap", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(f.alice.address, ETH_MAX_PER_OP / 2n), nativeTransfer(f.bob.address, ETH_MAX_PER_OP)], 1n);
      await expect(run(f, op))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(NATIVE, (ETH_MAX_PER_OP * 3n) / 2n, ETH_MAX_PER_OP);
    });

    it("charges only the net outflow of a swap: the bought token's budget is untouched", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, weth, dex] = [await f.usdc.getAddress(), await f.weth.getAddress(), await f.dex.getAddress()];
      const swap = f.dex.interface.encodeFunctionData("swap", [usdc, weth, USDC(400n), 0n]);
      await run(f, await operation([erc20Approve(usdc, dex, USDC(400n)), call(dex, swap)], 1n));
      expect(await f.wallet.available(weth)).to.equal(WETH_LIMIT);
    });

    it("charges the sold token of a swap", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, weth, dex] = [await f.usdc.getAddress(), await f.weth.getAddress(), await f.dex.getAddress()];
      const swap = f.dex.interface.encodeFunctionData("swap", [usdc, weth, USDC(400n), 0n]);
      const op = await operation([erc20Approve(usdc, dex, USDC(400n)), call(dex, swap)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(400n));
    });

    it("charges a fee-on-transfer token the wallet's actual balance decrease", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const fee = await f.feeToken.getAddress();
      const op = await operation([erc20Transfer(fee, f.alice.address, ETH(100n))], 1n);
      const before = await f.feeToken.balanceOf(f.wallet);
      const receipt = await (await run(f, op)).wait();
      const decrease = before - (await f.feeToken.balanceOf(f.wallet));
      const charged = receipt!.logs
        .map((log) => f.wallet.interface.parseLog(log))
        .find((parsed) => parsed?.name === "BudgetCharged" && parsed.args.token === fee);
      expect(charged?.args.amount).to.equal(decrease);
    });

    it("lets the fee-on-transfer recipient receive less than the wallet was charged", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const fee = await f.feeToken.getAddress();
      await expect(run(f, await operation([erc20Transfer(fee, f.alice.address, ETH(100n))], 1n))).to.changeTokenBalances(
        f.feeToken,
        [f.wallet, f.alice],
        [-ETH(100n), ETH(99n)],
      );
    });

    it("does not charge a budget when the batch moves no funds out", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([call(await f.callback.getAddress(), f.callback.interface.encodeFunctionData("writeSlot0", [1n]))], 1n);
      await expect(run(f, op)).to.not.emit(f.wallet, "BudgetCharged");
    });

    it("lets a permitted spender forward approved tokens to a non-allowlisted address, bounded only by the budget", async function () {
      // Documents a limit of the on-chain policy: recipient allowlists bind direct transfers only.
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, cb, walletAddr] = [await f.usdc.getAddress(), await f.callback.getAddress(), await f.wallet.getAddress()];
      const pull = f.usdc.interface.encodeFunctionData("transferFrom", [walletAddr, f.mallory.address, USDC(100n)]);
      const viaCallback = f.callback.interface.encodeFunctionData("callBack", [usdc, pull]);
      const op = await operation([erc20Approve(usdc, cb, USDC(100n)), call(cb, viaCallback)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(100n));
    });
  });

  describe("gross outflow", function () {
    async function withPool(f: Fixture) {
      const pool = await ethers.deployContract("MockLendingPool");
      await f.wallet.connect(f.owner).setCallPermission(pool, pool.interface.getFunction("borrow")!.selector, true);
      await f.wallet.connect(f.owner).setCallPermission(pool, pool.interface.getFunction("repay")!.selector, true);
      await f.usdc.mint(pool, USDC(100_000n));
      return pool;
    }

    it("charges a budgeted transfer its calldata amount", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20Transfer(usdc, f.alice.address, USDC(123n))], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(123n));
    });

    it("never credits an inflow: a borrow alone charges nothing and adds nothing to available()", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const pool = await withPool(f);
      const usdc = await f.usdc.getAddress();
      await run(f, await operation([erc20Transfer(usdc, f.alice.address, USDC(100n))], 1n));
      const availableBefore = await f.wallet.available(usdc);
      const borrow = pool.interface.encodeFunctionData("borrow", [usdc, USDC(400n)]);
      await expect(run(f, await operation([call(await pool.getAddress(), borrow)], 2n))).to.not.emit(f.wallet, "BudgetCharged");
      expect(await f.wallet.available(usdc)).to.be.greaterThanOrEqual(availableBefore).and.lessThan(USDC_LIMIT);
    });

    it("charges a transfer after a borrow in full: [borrow 400, transfer 400] is charged 400", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const pool = await withPool(f);
      const usdc = await f.usdc.getAddress();
      const borrow = pool.interface.encodeFunctionData("borrow", [usdc, USDC(400n)]);
      const op = await operation([call(await pool.getAddress(), borrow), erc20Transfer(usdc, f.alice.address, USDC(400n))], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(400n));
    });

    it("reverts with PerOperationCapExceeded(usdc, 600e6, 500e6) for [borrow 300, transfer 300, transfer 300]", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const pool = await withPool(f);
      const usdc = await f.usdc.getAddress();
      const borrow = pool.interface.encodeFunctionData("borrow", [usdc, USDC(300n)]);
      const op = await operation(
        [call(await pool.getAddress(), borrow), erc20Transfer(usdc, f.alice.address, USDC(300n)), erc20Transfer(usdc, f.bob.address, USDC(300n))],
        1n,
      );
      await expect(run(f, op))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("charges each decrease around a permitted call: [borrow 200, repay 200] is charged 200 (the repay)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const pool = await withPool(f);
      const [usdc, poolAddr] = [await f.usdc.getAddress(), await pool.getAddress()];
      const borrow = pool.interface.encodeFunctionData("borrow", [usdc, USDC(200n)]);
      const repay = pool.interface.encodeFunctionData("repay", [usdc, USDC(200n)]);
      const op = await operation([call(poolAddr, borrow), erc20Approve(usdc, poolAddr, USDC(200n)), call(poolAddr, repay)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(usdc, USDC(200n));
    });

    it("charges every call's value to NATIVE: a native transfer and a permitted call's value add up", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const cb = await f.callback.getAddress();
      const data = f.callback.interface.encodeFunctionData("callBack", [f.alice.address, "0x"]);
      const op = await operation([nativeTransfer(f.alice.address, ETH(1n) / 10n), call(cb, data, ETH(1n) / 5n)], 1n);
      await expect(run(f, op))
        .to.emit(f.wallet, "BudgetCharged")
        .withArgs(NATIVE, (ETH(1n) * 3n) / 10n);
    });

    it("reverts with PerOperationCapExceeded(NATIVE, value, 0) for a permitted call's value when ETH has no budget", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.wallet.connect(f.owner).removeBudget(NATIVE);
      const data = f.callback.interface.encodeFunctionData("callBack", [f.alice.address, "0x"]);
      await expect(run(f, await operation([call(await f.callback.getAddress(), data, 7n)], 1n)))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(NATIVE, 7n, 0n);
    });

    it("charges what an allowlisted contract recipient pulls while it is paid ETH (no unmeasured code runs)", async function () {
      // A native transfer to a recipient with code runs that code: with an approval granted earlier in the batch
      // (or one the owner left standing), it can have a permitted spender pull a budgeted token. That outflow
      // must be charged like any other, or it leaves beyond the cap and the budget.
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const receiver = await ethers.deployContract("PullOnReceive", [dex, usdc, USDC(600n)]);
      await f.wallet.connect(f.owner).setRecipient(receiver, true);
      const op = await operation([erc20Approve(usdc, dex, USDC(600n)), nativeTransfer(await receiver.getAddress(), 1n)], 1n);
      await expect(run(f, op))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("charges what an allowlisted contract recipient pulls with an allowance the owner left standing (single transfer)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const receiver = await ethers.deployContract("PullOnReceive", [dex, usdc, USDC(600n)]);
      await f.wallet.connect(f.owner).setRecipient(receiver, true);
      await f.wallet.connect(f.owner).ownerExecute([erc20Approve(usdc, dex, ethers.MaxUint256)]);
      await expect(run(f, await operation([nativeTransfer(await receiver.getAddress(), 1n)], 1n)))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("charges what a recipient pulls when its code appeared earlier in the same batch (created by a permitted call)", async function () {
      // The recipient has no code when the batch is planned; a permitted CREATE2 deployer gives it code, and the
      // native transfer then runs it. The wallet checks for code again when it makes the call.
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const deployer = await ethers.deployContract("Create2Deployer");
      await f.wallet.connect(f.owner).setCallPermission(deployer, deployer.interface.getFunction("deploy")!.selector, true);
      const factory = await ethers.getContractFactory("PullOnReceive");
      const initCode = (await factory.getDeployTransaction(dex, usdc, USDC(600n))).data;
      const salt = ethers.id("counterfactual recipient");
      const receiver = ethers.getCreate2Address(await deployer.getAddress(), salt, ethers.keccak256(initCode));
      await f.wallet.connect(f.owner).setRecipient(receiver, true);
      const deploy = deployer.interface.encodeFunctionData("deploy", [salt, initCode]);
      const op = await operation(
        [erc20Approve(usdc, dex, USDC(600n)), call(await deployer.getAddress(), deploy), nativeTransfer(receiver, 1n)],
        1n,
      );
      await expect(run(f, op))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("charges a native transfer to a contract recipient its value (measured)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const cb = await f.callback.getAddress();
      await f.wallet.connect(f.owner).setRecipient(cb, true);
      const op = await operation([nativeTransfer(cb, 1234n)], 1n);
      await expect(run(f, op)).to.emit(f.wallet, "BudgetCharged").withArgs(NATIVE, 1234n);
    });
  });

  describe("refill (1 unit per second: limit 86,400, period 86,400)", function () {
    it("reverts with BudgetExceeded(token, outflow, available) one second before enough has refilled", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = await drainSlowAt(f, t0);
      const { tx } = await spendSlowAt(f, 100n, 2n, deadline, t0 + 99n);
      await expect(tx)
        .to.be.revertedWithCustomError(f.wallet, "BudgetExceeded")
        .withArgs(await f.slow.getAddress(), 100n, 99n);
    });

    it("passes at the exact second enough has refilled, leaving 0 available", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = await drainSlowAt(f, t0);
      const { op, tx } = await spendSlowAt(f, 100n, 2n, deadline, t0 + 100n);
      await expect(tx).to.emit(f.wallet, "BudgetCharged").withArgs(await f.slow.getAddress(), 100n);
    });

    it("cannot be spent twice across a boundary: half a period later only half the limit is available", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = await drainSlowAt(f, t0);
      const { tx } = await spendSlowAt(f, SLOW_LIMIT, 2n, deadline, t0 + SLOW_PERIOD / 2n);
      await expect(tx)
        .to.be.revertedWithCustomError(f.wallet, "BudgetExceeded")
        .withArgs(await f.slow.getAddress(), SLOW_LIMIT, SLOW_PERIOD / 2n);
    });

    it("reports available() == floor(elapsed * limit / period)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      await drainSlowAt(f, t0);
      await time.increaseTo(t0 + 12_345n);
      expect(await f.wallet.available(f.slow)).to.equal(12_345n);
    });

    it("never refills above the limit", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t0 = BigInt(await time.latest()) + 10n;
      await drainSlowAt(f, t0);
      await time.increaseTo(t0 + 3n * SLOW_PERIOD);
      expect(await f.wallet.available(f.slow)).to.equal(SLOW_LIMIT);
    });

    it("is not touched by a zero transfer: no BudgetCharged, and the refill keeps its remainder (RateLimiter's tryConsume(0))", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const slow = await f.slow.getAddress();
      await f.wallet.connect(f.owner).setBudget({ token: slow, limit: 10n, period: 3n, maxPerOperation: 10n });
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = t0 + DAY;
      const drain = await signed(f.wallet, opAt([erc20Transfer(slow, f.alice.address, 10n)], 1n, deadline), f.sessionKey, f.cosigner);
      await time.setNextBlockTimestamp(t0);
      await f.wallet.connect(f.relayer).execute(...drain);
      const { tx } = await spendSlowAt(f, 0n, 2n, deadline, t0 + 1n);
      await expect(tx).to.not.emit(f.wallet, "BudgetCharged");
      // floor(3 * 10 / 3) = 10 refilled since t0; re-anchoring at t0 + 1 would give 3 + floor(2 * 10 / 3) = 9.
      await time.increaseTo(t0 + 3n);
      expect(await f.wallet.available(slow)).to.equal(10n);
    });

    it("rounds the refill down when the rate is not whole (limit 10 per 3 seconds)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const slow = await f.slow.getAddress();
      await f.wallet.connect(f.owner).setBudget({ token: slow, limit: 10n, period: 3n, maxPerOperation: 10n });
      const t0 = BigInt(await time.latest()) + 10n;
      const deadline = t0 + DAY;
      const drain = opAt([erc20Transfer(slow, f.alice.address, 10n)], 1n, deadline);
      const drainArgs = await signed(f.wallet, drain, f.sessionKey, f.cosigner);
      await time.setNextBlockTimestamp(t0);
      await f.wallet.connect(f.relayer).execute(...drainArgs);
      const { tx } = await spendSlowAt(f, 4n, 2n, deadline, t0 + 1n);
      await expect(tx).to.be.revertedWithCustomError(f.wallet, "BudgetExceeded").withArgs(slow, 4n, 3n);
    });
  });
});
