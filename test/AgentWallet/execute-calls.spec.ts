import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { erc20Approve, erc20Transfer, nativeTransfer, operation, signed, type TestOperation } from "../helpers";
import { USDC_MAX_PER_OP } from "../fixtures";
import type { AgentWallet } from "../../typechain-types";
import type { Signer } from "ethers";
import {
  APPROVE,
  SLOW_LIMIT,
  TRANSFER,
  TRANSFER_FROM,
  call,
  dirtyTransfer,
  erc20TransferFrom,
  opAt,
  walletError,
  walletWithMocksFixture,
  digestArgs,
} from "./utils";

const USDC = (n: bigint) => n * 10n ** 6n;

type Fixture = Awaited<ReturnType<typeof walletWithMocksFixture>>;

/** Rule 3 (what each call may be) and rule 4's standing-approval half, attack by attack. */
describe("AgentWallet execute: calls", function () {
  async function run(wallet: AgentWallet, op: TestOperation, sessionKey: Signer, cosigner: Signer, relayer: Signer) {
    return wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
  }

  describe("a call to the wallet itself", function () {
    it("reverts with SelfCallNotAllowed(index) when the batch calls the wallet directly", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const walletAddr = await f.wallet.getAddress();
      const setRecipient = f.wallet.interface.encodeFunctionData("setRecipient", [f.mallory.address, true]);
      const op = await operation([nativeTransfer(f.alice.address, 1n), call(walletAddr, setRecipient)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "SelfCallNotAllowed")
        .withArgs(1n);
    });

    it("reverts with SelfCallNotAllowed(index) for a plain native transfer to the wallet", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(await f.wallet.getAddress(), 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "SelfCallNotAllowed")
        .withArgs(0n);
    });
  });

  describe("a nested call back into the wallet through a permitted target", function () {
    it("reverts with CallReverted(ReentrancyGuardReentrantCall) when it re-enters execute", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const walletAddr = await f.wallet.getAddress();
      // A perfectly signed inner operation: only the reentrancy guard stops it.
      const inner = await operation([erc20Transfer(await f.usdc.getAddress(), f.alice.address, USDC(100n))], 2n);
      const innerData = f.wallet.interface.encodeFunctionData("execute", await signed(f.wallet, inner, f.sessionKey, f.cosigner));
      const callBack = f.callback.interface.encodeFunctionData("callBack", [walletAddr, innerData]);
      const op = await operation([call(await f.callback.getAddress(), callBack)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(0n, walletError(f.wallet, "ReentrancyGuardReentrantCall"));
    });

    it("leaves the inner operation's nonce unused after the re-entry failed", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const inner = await operation([erc20Transfer(await f.usdc.getAddress(), f.alice.address, USDC(100n))], 2n);
      const innerData = f.wallet.interface.encodeFunctionData("execute", await signed(f.wallet, inner, f.sessionKey, f.cosigner));
      const callBack = f.callback.interface.encodeFunctionData("callBack", [await f.wallet.getAddress(), innerData]);
      const op = await operation([call(await f.callback.getAddress(), callBack)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer)).to.be.reverted;
      expect([await f.wallet.isNonceUsed(1n), await f.wallet.isNonceUsed(2n)]).to.deep.equal([false, false]);
    });

    it("reverts with CallReverted(OwnableUnauthorizedAccount) when it calls addSessionKey, and no key is added", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const callbackAddr = await f.callback.getAddress();
      const validUntil = BigInt(await time.latest()) + 86_400n;
      const add = f.wallet.interface.encodeFunctionData("addSessionKey", [f.mallory.address, validUntil]);
      const callBack = f.callback.interface.encodeFunctionData("callBack", [await f.wallet.getAddress(), add]);
      const op = await operation([call(callbackAddr, callBack)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(0n, walletError(f.wallet, "OwnableUnauthorizedAccount", [callbackAddr]));
      expect(await f.wallet.sessionKeyValidUntil(f.mallory.address)).to.equal(0n);
    });

    it("reverts with CallReverted(OwnableUnauthorizedAccount) when it calls setRecipient, and mallory stays off the list", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const callbackAddr = await f.callback.getAddress();
      const set = f.wallet.interface.encodeFunctionData("setRecipient", [f.mallory.address, true]);
      const callBack = f.callback.interface.encodeFunctionData("callBack", [await f.wallet.getAddress(), set]);
      const op = await operation([call(callbackAddr, callBack)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(0n, walletError(f.wallet, "OwnableUnauthorizedAccount", [callbackAddr]));
      expect(await f.wallet.isRecipientAllowed(f.mallory.address)).to.equal(false);
    });

    it("reverts with CallReverted(NotOwnerOrGuardian) when it calls invalidateNonce", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const callbackAddr = await f.callback.getAddress();
      const burn = f.wallet.interface.encodeFunctionData("invalidateNonce", [9n]);
      const callBack = f.callback.interface.encodeFunctionData("callBack", [await f.wallet.getAddress(), burn]);
      const op = await operation([call(callbackAddr, callBack)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(0n, walletError(f.wallet, "NotOwnerOrGuardian", [callbackAddr]));
    });
  });

  describe("native transfers", function () {
    it("sends ETH to an allowlisted recipient", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(f.alice.address, 10n ** 17n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer)).to.changeEtherBalances(
        [f.wallet, f.alice],
        [-(10n ** 17n), 10n ** 17n],
      );
    });

    it("reverts with RecipientNotAllowed for a recipient that is not allowlisted", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(f.mallory.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(f.mallory.address);
    });

    it("reverts with RecipientNotAllowed after the owner removed the recipient", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.wallet.connect(f.owner).setRecipient(f.alice.address, false);
      const op = await operation([nativeTransfer(f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(f.alice.address);
    });
  });

  describe("ERC-20 transfer on a budgeted token", function () {
    it("reverts with RecipientNotAllowed(mallory) for a recipient that is not allowlisted", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([erc20Transfer(await f.usdc.getAddress(), f.mallory.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(f.mallory.address);
    });

    it("reverts with MalformedCall(index) when the recipient word has dirty upper bits", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20Transfer(usdc, f.alice.address, 1n), dirtyTransfer(usdc, f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(1n);
    });

    it("reverts with MalformedCall(index) when the calldata is one byte short", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t = erc20Transfer(await f.usdc.getAddress(), f.alice.address, 1n);
      const op = await operation([{ ...t, data: ethers.dataSlice(t.data, 0, 67) }], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(0n);
    });

    it("reverts with MalformedCall(index) when extra calldata is appended", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const t = erc20Transfer(await f.usdc.getAddress(), f.alice.address, 1n);
      const op = await operation([{ ...t, data: ethers.concat([t.data, ethers.zeroPadValue(f.mallory.address, 32)]) }], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(0n);
    });

    it("reverts with MalformedCall(index) for calldata shorter than a selector", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([call(f.alice.address, "0xa9059c")], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(0n);
    });

    it("reverts with CallNotPermitted for transferFrom on a budgeted token", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20TransferFrom(usdc, await f.wallet.getAddress(), f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(usdc, TRANSFER_FROM);
    });
  });

  describe("ERC-20 transfer on a token without a budget", function () {
    it("reverts with CallNotPermitted(token, transfer) even to an allowlisted recipient", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const loose = await f.loose.getAddress();
      const op = await operation([erc20Transfer(loose, f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(loose, TRANSFER);
    });
  });

  describe("transfer calldata sent to address(0) while NATIVE has a budget", function () {
    // `transfer(alice, 1)` sent to address(0) must not be taken for a budgeted ERC-20 transfer because NATIVE's
    // budget lives under address(0): it is an unpermitted call, with a reason the co-signer can decode.
    it("reverts with CallNotPermitted(0x0, transfer) rather than an undecodable revert", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([erc20Transfer(ethers.ZeroAddress, f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(ethers.ZeroAddress, TRANSFER);
    });
  });

  // "When the relayer chooses the gas limit" (v1's known limitation, gas griefing) is closed by v2's signed
  // callGasLimit: see call-gas.spec.ts.

  describe("ERC-721 transferFrom (same selector as ERC-20 transferFrom)", function () {
    it("reverts with CallNotPermitted(nft, 0x23b872dd) even to an allowlisted recipient", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const nft = await f.nft.getAddress();
      const op = await operation([erc20TransferFrom(nft, await f.wallet.getAddress(), f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(nft, TRANSFER_FROM);
    });
  });

  describe("a call that is not a transfer or approval of a budgeted token", function () {
    it("reverts with CallNotPermitted(target, selector) for an unpermitted pair", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const dex = await f.dex.getAddress();
      const setRate = f.dex.interface.encodeFunctionData("setRate", [ethers.ZeroAddress, ethers.ZeroAddress, 1n]);
      const op = await operation([call(dex, setRate)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(dex, f.dex.interface.getFunction("setRate")!.selector);
    });

    it("reverts with CallNotPermitted after the owner withdrew the permission", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const cb = await f.callback.getAddress();
      const selector = f.callback.interface.getFunction("writeSlot0")!.selector;
      await f.wallet.connect(f.owner).setCallPermission(cb, selector, false);
      const op = await operation([call(cb, f.callback.interface.encodeFunctionData("writeSlot0", [1n]))], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallNotPermitted")
        .withArgs(cb, selector);
    });

    it("reverts with CallReverted(index, reason) when a permitted call reverts", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, weth, dex] = [await f.usdc.getAddress(), await f.weth.getAddress(), await f.dex.getAddress()];
      const quote = await f.dex.quote(usdc, weth, USDC(100n));
      const swap = f.dex.interface.encodeFunctionData("swap", [usdc, weth, USDC(100n), quote + 1n]);
      const op = await operation([erc20Approve(usdc, dex, USDC(100n)), call(dex, swap)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "CallReverted")
        .withArgs(1n, f.dex.interface.encodeErrorResult("SlippageExceeded", [quote, quote + 1n]));
    });
  });

  describe("never delegatecall", function () {
    it("writes the permitted target's own slot 0", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([call(await f.callback.getAddress(), f.callback.interface.encodeFunctionData("writeSlot0", [42n]))], 1n);
      await run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer);
      expect(await f.callback.slot0Value()).to.equal(42n);
    });

    it("leaves the wallet's slot 0 and owner untouched", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const slot0Before = await ethers.provider.getStorage(f.wallet, 0);
      const attacker = BigInt(f.mallory.address);
      const op = await operation([call(await f.callback.getAddress(), f.callback.interface.encodeFunctionData("writeSlot0", [attacker]))], 1n);
      await run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer);
      expect([await ethers.provider.getStorage(f.wallet, 0), await f.wallet.owner()]).to.deep.equal([slot0Before, f.owner.address]);
    });
  });

  describe("approve then transferFrom (getting around the budget through an allowance)", function () {
    it("reverts with PerOperationCapExceeded when a permitted DEX pulls more than the cap in the same batch", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const pull = f.dex.interface.encodeFunctionData("pull", [usdc, await f.wallet.getAddress(), USDC(600n)]);
      const op = await operation([erc20Approve(usdc, dex, USDC(600n)), call(dex, pull)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("reverts with PerOperationCapExceeded when a swap pulls more than the cap", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, weth, dex] = [await f.usdc.getAddress(), await f.weth.getAddress(), await f.dex.getAddress()];
      const swap = f.dex.interface.encodeFunctionData("swap", [usdc, weth, USDC(600n), 0n]);
      const op = await operation([erc20Approve(usdc, dex, USDC(600n)), call(dex, swap)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("reverts with BudgetExceeded(token, pulled, available) when the pull exceeds what is left", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [slow, dex] = [await f.slow.getAddress(), await f.dex.getAddress()];
      const t0 = BigInt(await time.latest()) + 10n;
      const drain = opAt([erc20Transfer(slow, f.alice.address, SLOW_LIMIT)], 1n, t0 + 1000n);
      await time.setNextBlockTimestamp(t0);
      await run(f.wallet, drain, f.sessionKey, f.cosigner, f.relayer);
      const pull = f.dex.interface.encodeFunctionData("pull", [slow, await f.wallet.getAddress(), 100n]);
      const attack = opAt([erc20Approve(slow, dex, 100n), call(dex, pull)], 2n, t0 + 1000n);
      const args = await signed(f.wallet, attack, f.sessionKey, f.cosigner);
      await time.setNextBlockTimestamp(t0 + 10n);
      await expect(f.wallet.connect(f.relayer).execute(...args))
        .to.be.revertedWithCustomError(f.wallet, "BudgetExceeded")
        .withArgs(slow, 100n, 10n);
    });

    it("reverts with PerOperationCapExceeded when a DEX uses an allowance the owner left standing", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      await f.wallet.connect(f.owner).ownerExecute([erc20Approve(usdc, dex, ethers.MaxUint256)]);
      const pull = f.dex.interface.encodeFunctionData("pull", [usdc, await f.wallet.getAddress(), USDC(600n)]);
      const op = await operation([call(dex, pull)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "PerOperationCapExceeded")
        .withArgs(usdc, USDC(600n), USDC_MAX_PER_OP);
    });

    it("reverts with SpenderNotPermitted when the spender is the agent's own EOA", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([erc20Approve(usdc, f.sessionKey.address, USDC(1n))], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "SpenderNotPermitted")
        .withArgs(usdc, f.sessionKey.address);
    });

    it("reverts with SpenderNotPermitted after the spender's last call permission was withdrawn", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, cb] = [await f.usdc.getAddress(), await f.callback.getAddress()];
      await f.wallet.connect(f.owner).setCallPermission(cb, f.callback.interface.getFunction("callBack")!.selector, false);
      await f.wallet.connect(f.owner).setCallPermission(cb, f.callback.interface.getFunction("writeSlot0")!.selector, false);
      const op = await operation([erc20Approve(usdc, cb, USDC(1n))], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "SpenderNotPermitted")
        .withArgs(usdc, cb);
    });

    it("reverts with MalformedCall(index) when the spender word has dirty upper bits", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const a = erc20Approve(await f.usdc.getAddress(), await f.dex.getAddress(), 1n);
      const bytes = ethers.getBytes(a.data);
      bytes.fill(0xff, 4, 16);
      const op = await operation([{ ...a, data: ethers.hexlify(bytes) }], 1n);
      expect(ethers.dataSlice(a.data, 0, 4)).to.equal(APPROVE);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(0n);
    });

    it("charges the pulled amount when the DEX uses the whole allowance", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const pull = f.dex.interface.encodeFunctionData("pull", [usdc, await f.wallet.getAddress(), USDC(100n)]);
      const op = await operation([erc20Approve(usdc, dex, USDC(100n)), call(dex, pull)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.emit(f.wallet, "BudgetCharged")
        .withArgs(usdc, USDC(100n));
    });
  });

  describe("standing approvals", function () {
    it("reverts with StandingApproval(token, spender, allowance) when the spender used part of it", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const pull = f.dex.interface.encodeFunctionData("pull", [usdc, await f.wallet.getAddress(), USDC(60n)]);
      const op = await operation([erc20Approve(usdc, dex, USDC(100n)), call(dex, pull)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "StandingApproval")
        .withArgs(usdc, dex, USDC(40n));
    });

    it("reverts with StandingApproval when the batch only approves", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const op = await operation([erc20Approve(usdc, dex, ethers.MaxUint256)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "StandingApproval")
        .withArgs(usdc, dex, ethers.MaxUint256);
    });

    it("passes when the batch resets the allowance to zero before it ends", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const [usdc, dex] = [await f.usdc.getAddress(), await f.dex.getAddress()];
      const op = await operation([erc20Approve(usdc, dex, USDC(5n)), erc20Approve(usdc, dex, 0n)], 1n);
      await run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer);
      expect(await f.usdc.allowance(f.wallet, dex)).to.equal(0n);
    });
  });

  describe("tokens that answer badly", function () {
    it("reverts with TokenCallFailed(index, token) when a budgeted transfer returns false", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.falseToken.getAddress();
      await f.falseToken.setFail(true);
      const op = await operation([nativeTransfer(f.alice.address, 1n), erc20Transfer(token, f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(1n, token);
    });

    it("reverts with TokenCallFailed when a budgeted transfer above the balance returns false", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.falseToken.getAddress();
      const op = await operation([erc20Transfer(token, f.alice.address, 10n ** 30n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, token);
    });

    it("reverts with TokenCallFailed when a budgeted approve returns false", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.falseToken.getAddress();
      await f.falseToken.setFail(true);
      const op = await operation([erc20Approve(token, await f.dex.getAddress(), 0n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, token);
    });

    it("accepts a budgeted token whose transfer returns nothing (USDT-style)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.modeToken.getAddress();
      await f.modeToken.setMode(1); // Nothing
      const op = await operation([erc20Transfer(token, f.alice.address, 5n)], 1n);
      await run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer);
      expect(await f.modeToken.balanceOf(f.alice.address)).to.equal(5n);
    });

    it("reverts with TokenCallFailed when a budgeted transfer returns fewer than 32 bytes", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.modeToken.getAddress();
      await f.modeToken.setMode(2); // Short
      const op = await operation([erc20Transfer(token, f.alice.address, 5n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, token);
    });

    it("reverts with TokenCallFailed when a budgeted transfer returns a word other than 1", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const token = await f.modeToken.getAddress();
      await f.modeToken.setMode(3); // Two
      const op = await operation([erc20Transfer(token, f.alice.address, 5n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, token);
    });

    it("does not demand a boolean from a permitted 68-byte call on a budgeted token that is not transfer/approve", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const slow = await f.slow.getAddress();
      const mint = f.slow.interface.encodeFunctionData("mint", [f.alice.address, 7n]);
      expect(ethers.dataLength(mint)).to.equal(68);
      await f.wallet.connect(f.owner).setCallPermission(slow, f.slow.interface.getFunction("mint")!.selector, true);
      const op = await operation([call(slow, mint)], 1n);
      await run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer);
      expect(await f.slow.balanceOf(f.alice.address)).to.equal(7n);
    });
  });

  // A single transfer without bounds runs on a fast path; the same rules must hold on the general path (a bound or
  // a second call), so each is pinned on both.
  describe("the same rules on the general path (a bound forces it)", function () {
    async function runBounded(f: Fixture, calls: TestOperation["calls"]) {
      const walletAddr = await f.wallet.getAddress();
      const op = await operation(calls, 1n, 300n, { bounds: [{ asset: ethers.ZeroAddress, account: walletAddr, minDelta: -(10n ** 30n) }] });
      return f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)));
    }

    it("reverts with RecipientNotAllowed for a native transfer to a stranger", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await expect(runBounded(f, [nativeTransfer(f.mallory.address, 1n)]))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(f.mallory.address);
    });

    it("reverts with RecipientNotAllowed for a budgeted transfer to a stranger", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await expect(runBounded(f, [erc20Transfer(await f.usdc.getAddress(), f.mallory.address, 1n)]))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(f.mallory.address);
    });

    it("reverts with TokenCallFailed when a budgeted transfer returns false", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.falseToken.setFail(true);
      const token = await f.falseToken.getAddress();
      await expect(runBounded(f, [erc20Transfer(token, f.alice.address, 1n)]))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, token);
    });

    it("accepts a budgeted transfer that returns nothing (USDT-style)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.modeToken.setMode(1);
      await runBounded(f, [erc20Transfer(await f.modeToken.getAddress(), f.alice.address, 5n)]);
      expect(await f.modeToken.balanceOf(f.alice.address)).to.equal(5n);
    });

    it("reverts with TokenCallFailed for a budgeted 'token' with no code (an EOA answers nothing)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.wallet.connect(f.owner).setBudget({ token: f.bob.address, limit: 10n, period: 60n, maxPerOperation: 10n });
      await expect(runBounded(f, [erc20Transfer(f.bob.address, f.alice.address, 1n)]))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, f.bob.address);
    });
  });

  describe("the fast path (one transfer, no bounds)", function () {
    it("reverts with MalformedCall(0) when the recipient word has dirty upper bits", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([dirtyTransfer(await f.usdc.getAddress(), f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer)).to.be.revertedWithCustomError(f.wallet, "MalformedCall").withArgs(0n);
    });

    it("reverts with TokenCallFailed for a budgeted 'token' with no code (an EOA answers nothing)", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      await f.wallet.connect(f.owner).setBudget({ token: f.bob.address, limit: 10n, period: 60n, maxPerOperation: 10n });
      const op = await operation([erc20Transfer(f.bob.address, f.alice.address, 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "TokenCallFailed")
        .withArgs(0n, f.bob.address);
    });

    it("reverts with RecipientNotAllowed for a native transfer to a contract that is not allowlisted", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(await f.dex.getAddress(), 1n)], 1n);
      await expect(run(f.wallet, op, f.sessionKey, f.cosigner, f.relayer))
        .to.be.revertedWithCustomError(f.wallet, "RecipientNotAllowed")
        .withArgs(await f.dex.getAddress());
    });
  });

  describe("a call whose target word has dirty upper bits", function () {
    it("reverts with MalformedCall(index), though the signature over the clean target verifies", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const usdc = await f.usdc.getAddress();
      const op = await operation([nativeTransfer(f.alice.address, 1n), erc20Transfer(usdc, f.bob.address, 1n)], 1n);
      const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      const data = f.wallet.interface.encodeFunctionData("execute", args);
      const word = ethers.zeroPadValue(usdc, 32).slice(2).toLowerCase();
      expect(data.split(word).length - 1, "the target word appears once").to.equal(1);
      const dirty = data.replace(word, "ff".repeat(12) + word.slice(24));
      await expect(f.relayer.sendTransaction({ to: await f.wallet.getAddress(), data: dirty }))
        .to.be.revertedWithCustomError(f.wallet, "MalformedCall")
        .withArgs(1n);
    });
  });

  describe("a relayer leaving less than CALL_RESERVE", function () {
    it("reverts with InsufficientGas(index, 0, gasLeft < CALL_RESERVE) even when callGasLimit is 0", async function () {
      const f = await loadFixture(walletWithMocksFixture);
      const op = await operation([nativeTransfer(f.alice.address, 1n)], 1n, 300n, { callGasLimit: 0n });
      const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      const estimate = await f.wallet.connect(f.relayer).execute.estimateGas(...args);
      let gasLeft: bigint | undefined;
      for (let gasLimit = estimate; gasLimit > estimate - 80_000n && gasLeft === undefined; gasLimit -= 500n) {
        const err = await f.wallet
          .connect(f.relayer)
          .execute.staticCall(...args, { gasLimit })
          .then(() => undefined)
          .catch((e: { data?: string }) => e);
        const decoded = err && typeof err.data === "string" ? f.wallet.interface.parseError(err.data) : null;
        if (decoded?.name === "InsufficientGas") {
          expect([decoded.args[0], decoded.args[1]]).to.deep.equal([0n, 0n]);
          gasLeft = decoded.args[2] as bigint;
        }
      }
      expect(gasLeft !== undefined && gasLeft < 40_000n, `gasLeft ${gasLeft}`).to.equal(true);
    });
  });
});
