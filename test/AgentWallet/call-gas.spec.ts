import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { CALL_GAS, erc20Transfer, nativeTransfer, operation, signed, type TestOperation } from "../helpers";
import { call, walletWithMocksFixture } from "./utils";

const CALL_RESERVE = 40_000n;
const BLOCK_GAS = 30_000_000n;
/** What the probe spends before it reads gasleft() (dispatch, value check), generously (coverage instruments it). */
const PROBE_OVERHEAD = 5_000n;

/** The wallet with a GasProbe and a GasSensitiveTarget whose functions the owner permitted. */
async function gasFixture() {
  const f = await walletWithMocksFixture();
  const probe = await ethers.deployContract("GasProbe");
  const sensitive = await ethers.deployContract("GasSensitiveTarget");
  await f.wallet.connect(f.owner).setCallPermission(probe, probe.interface.getFunction("probe")!.selector, true);
  await f.wallet.connect(f.owner).setCallPermission(sensitive, sensitive.interface.getFunction("work")!.selector, true);
  return { ...f, probe, sensitive };
}

type Fixture = Awaited<ReturnType<typeof gasFixture>>;

/** Rule 3's gas half: each call gets exactly callGasLimit, or the wallet reverts InsufficientGas. */
describe("AgentWallet execute: callGasLimit", function () {
  async function probeOp(f: Fixture, callGasLimit: bigint, nonce = 1n): Promise<TestOperation> {
    return operation([call(await f.probe.getAddress(), f.probe.interface.encodeFunctionData("probe"))], nonce, 300n, { callGasLimit });
  }

  /** gasleft() the probe saw when the operation was relayed with `gasLimit`. */
  async function seenWith(f: Fixture, op: TestOperation, gasLimit: bigint) {
    const snapshot = await ethers.provider.send("evm_snapshot", []);
    await f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)), { gasLimit });
    const seen = await f.probe.seen();
    await ethers.provider.send("evm_revert", [snapshot]);
    return seen;
  }

  describe("when the relayer sends plenty of gas", function () {
    it("gives the callee callGasLimit, not the transaction's gas (a 30M relay cannot make it see more)", async function () {
      const f = await loadFixture(gasFixture);
      const seen = await seenWith(f, await probeOp(f, CALL_GAS), BLOCK_GAS);
      expect(seen <= CALL_GAS && seen > CALL_GAS - PROBE_OVERHEAD, `probe saw ${seen}`).to.equal(true);
    });

    it("gives the callee the same gasleft() whatever the relayer sends (2M or 30M)", async function () {
      const f = await loadFixture(gasFixture);
      const op = await probeOp(f, CALL_GAS);
      expect(await seenWith(f, op, 2_000_000n)).to.equal(await seenWith(f, op, BLOCK_GAS));
    });

    it("follows the signed callGasLimit (300k signed, about 300k seen)", async function () {
      const f = await loadFixture(gasFixture);
      const seen = await seenWith(f, await probeOp(f, 300_000n), BLOCK_GAS);
      expect(seen <= 300_000n && seen > 300_000n - PROBE_OVERHEAD, `probe saw ${seen}`).to.equal(true);
    });

    it("runs a call that needs more than 1M gas when the operation signs enough (3M)", async function () {
      const f = await loadFixture(gasFixture);
      const op = await operation([call(await f.sensitive.getAddress(), f.sensitive.interface.encodeFunctionData("work"))], 1n, 300n, {
        callGasLimit: 3_000_000n,
      });
      await f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)), { gasLimit: BLOCK_GAS });
      expect(await f.sensitive.done()).to.equal(1n);
    });

    it("lets a call that needs more than callGasLimit take its own failure path (what the co-signer simulated)", async function () {
      const f = await loadFixture(gasFixture);
      const op = await operation([call(await f.sensitive.getAddress(), f.sensitive.interface.encodeFunctionData("work"))], 1n, 300n, {
        callGasLimit: 1_000_000n,
      });
      await f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)), { gasLimit: BLOCK_GAS });
      expect(await f.sensitive.done()).to.equal(0n);
    });
  });

  describe("when the relayer sends too little gas", function () {
    it("reverts with InsufficientGas(index, callGasLimit, gasLeft) rather than starve the call", async function () {
      const f = await loadFixture(gasFixture);
      const op = await probeOp(f, 5_000_000n);
      const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      const tx = f.wallet.connect(f.relayer).execute(...args, { gasLimit: 1_000_000n });
      await expect(tx).to.be.revertedWithCustomError(f.wallet, "InsufficientGas");
      const err = await tx.catch((e: { data?: string }) => e);
      const decoded = f.wallet.interface.parseError((err as { data: string }).data)!;
      const [index, limit, gasLeft] = decoded.args as unknown as [bigint, bigint, bigint];
      // gasLeft is what was left at the check (the transaction's 1M less intrinsic gas and the checks before it).
      const forwardable = gasLeft - CALL_RESERVE - (gasLeft - CALL_RESERVE) / 64n;
      expect([index, limit, gasLeft < 1_000_000n && gasLeft > 800_000n, forwardable < limit]).to.deep.equal([0n, 5_000_000n, true, true]);
    });

    it("names the call that could not get its gas (index 1 after a cheap first call)", async function () {
      const f = await loadFixture(gasFixture);
      const callGasLimit = 400_000n;
      const probeCall = call(await f.probe.getAddress(), f.probe.interface.encodeFunctionData("probe"));
      const op = await operation([nativeTransfer(f.alice.address, 1n), probeCall], 1n, 300n, { callGasLimit });
      const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      // Enough for the first call's check, not enough left for the second: the first transfer uses ~10k of it.
      const estimate = await f.wallet.connect(f.relayer).execute.estimateGas(...args);
      let found = false;
      for (let gasLimit = estimate - 1_000n; gasLimit > estimate - 60_000n && !found; gasLimit -= 1_000n) {
        const err = await f.wallet
          .connect(f.relayer)
          .execute.staticCall(...args, { gasLimit })
          .then(() => undefined)
          .catch((e: { data?: string }) => e);
        const decoded = err && typeof err.data === "string" ? f.wallet.interface.parseError(err.data) : null;
        if (decoded?.name === "InsufficientGas" && decoded.args[0] === 1n) {
          expect(decoded.args[1]).to.equal(callGasLimit);
          found = true;
        }
      }
      expect(found, "some gas limit leaves enough for call 0 and too little for call 1").to.equal(true);
    });

    it("never lets a relayer make a failure-swallowing call succeed without its work (griefing closed)", async function () {
      // v1 pinned this as a known limitation: a relayer picking the gas limit could make GasSensitiveTarget.work()
      // swallow its heavy step's out-of-gas and still succeed. Now every gas limit either runs the work or reverts.
      const f = await loadFixture(gasFixture);
      const op = await operation([call(await f.sensitive.getAddress(), f.sensitive.interface.encodeFunctionData("work"))], 1n, 300n, {
        callGasLimit: 3_000_000n,
      });
      const args = await signed(f.wallet, op, f.sessionKey, f.cosigner);
      const estimate = await f.wallet.connect(f.relayer).execute.estimateGas(...args);
      const outcomes = new Set<string>();
      for (let gasLimit = estimate; gasLimit > estimate / 2n; gasLimit -= 50_000n) {
        const snapshot = await ethers.provider.send("evm_snapshot", []);
        const tx = await f.wallet.connect(f.relayer).execute(...args, { gasLimit }).catch(() => undefined);
        const receipt = tx ? await ethers.provider.getTransactionReceipt(tx.hash) : null;
        outcomes.add(receipt?.status === 1 ? ((await f.sensitive.done()) === 1n ? "worked" : "griefed") : "reverted");
        await ethers.provider.send("evm_revert", [snapshot]);
      }
      expect([...outcomes].sort()).to.deep.equal(["reverted", "worked"]);
    });
  });

  describe("the gas check's arithmetic", function () {
    it("reverts with InsufficientGas when callGasLimit is above what any transaction can forward (type(uint256).max)", async function () {
      const f = await loadFixture(gasFixture);
      const op = await operation([erc20Transfer(await f.usdc.getAddress(), f.alice.address, 1n)], 1n, 300n, {
        callGasLimit: ethers.MaxUint256,
      });
      await expect(f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)), { gasLimit: BLOCK_GAS }))
        .to.be.revertedWithCustomError(f.wallet, "InsufficientGas");
    });

    it("passes with callGasLimit 0 for a plain native transfer (the value is still sent)", async function () {
      const f = await loadFixture(gasFixture);
      const op = await operation([nativeTransfer(f.alice.address, 5n)], 1n, 300n, { callGasLimit: 0n });
      await expect(f.wallet.connect(f.relayer).execute(...(await signed(f.wallet, op, f.sessionKey, f.cosigner)))).to.changeEtherBalance(
        f.alice,
        5n,
      );
    });

    it("reserves CALL_RESERVE for the CALL itself", async function () {
      const f = await loadFixture(gasFixture);
      expect(await f.wallet.CALL_RESERVE()).to.equal(CALL_RESERVE);
    });
  });
});
