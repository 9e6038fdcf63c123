import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { encodeFunctionData, getAddress, zeroAddress, type Address, type Hex } from "viem";
import { loadArtifact } from "../../src/chain/artifacts";
import { CountersignError } from "../../src/errors";
import { observeAnswer, observeCalldata, type AllowanceRead, type BalanceRead } from "../../src/simulation/observe-call";
import { deployWalletFixture } from "../fixtures";

const readerAbi = loadArtifact("StateReader").abi;

/** A StateReader, tokens that answer well and badly, balances and an allowance. */
async function readerFixture() {
  const base = await deployWalletFixture();
  const reader = await ethers.deployContract("StateReader");
  const silent = await ethers.deployContract("NoBalanceToken"); // balanceOf reverts
  const short = await ethers.deployContract("ShortAnswer"); // answers one byte
  const burner = await ethers.deployContract("GasBurner"); // burns what it is given, down to 30,000
  const sized = await ethers.deployContract("CalldataSizeToken"); // answers the size of the calldata it was sent
  const wallet = getAddress(await base.wallet.getAddress());
  const usdc = getAddress(await base.usdc.getAddress());
  await base.usdc.connect(base.alice).approve(wallet, 12_345n);
  return { ...base, reader: getAddress(await reader.getAddress()), wallet, usdc, silent: getAddress(await silent.getAddress()), short: getAddress(await short.getAddress()), burner: getAddress(await burner.getAddress()), sized: getAddress(await sized.getAddress()) };
}

const call = (to: Address, data: Hex) => ethers.provider.call({ to, data }) as Promise<Hex>;

describe("StateReader.observe(), packed (observe-call.ts)", function () {
  it("answers what balances() and allowances() answer (the reads prepare() makes before), readable or not", async function () {
    const f = await loadFixture(readerFixture);
    const alice = getAddress(f.alice.address);
    const nobody = "0x00000000000000000000000000000000000b0b0b" as Address;
    const pairs: BalanceRead[] = [
      { asset: "native", account: f.wallet },
      { asset: f.usdc, account: f.wallet },
      { asset: f.usdc, account: alice },
      { asset: "native", account: nobody },
      { asset: f.silent, account: f.wallet },
      { asset: f.short, account: f.wallet },
      { asset: f.burner, account: f.wallet },
      { asset: nobody, account: f.wallet }, // no code: no answer
      { asset: f.sized, account: f.wallet },
    ];
    const allowances: AllowanceRead[] = [
      { token: f.usdc, owner: alice, spender: f.wallet },
      { token: f.usdc, owner: f.wallet, spender: alice },
      { token: f.silent, owner: alice, spender: f.wallet },
      { token: f.sized, owner: alice, spender: f.wallet },
    ];
    const observed = observeAnswer(await call(f.reader, observeCalldata(pairs, allowances)), pairs.length, allowances.length);
    const assets = pairs.map((p) => (p.asset === "native" ? zeroAddress : (p.asset as Address)));
    const [balances, ok] = ethers.AbiCoder.defaultAbiCoder().decode(
      ["uint256[]", "bool[]"],
      await call(f.reader, encodeFunctionData({ abi: readerAbi, functionName: "balances", args: [assets, pairs.map((p) => p.account)] })),
    );
    const [reference] = ethers.AbiCoder.defaultAbiCoder().decode(
      ["uint256[]"],
      await call(f.reader, encodeFunctionData({ abi: readerAbi, functionName: "allowances", args: [allowances.map((a) => a.token), allowances.map((a) => a.owner), allowances.map((a) => a.spender)] })),
    );
    expect(observed).to.deep.equal({ balances: [...balances], balanceOk: [...ok], allowances: [...reference] });
    // And the values themselves: the wallet's funds, the unreadable ones as 0 and not ok, the allowance granted.
    expect(observed.balances.slice(0, 3)).to.deep.equal([10n ** 19n, 10_000n * 10n ** 6n, 1n]);
    expect(observed.balanceOk).to.deep.equal([true, true, true, true, false, false, true, false, true]);
    expect(observed.allowances).to.deep.equal([12_345n, 0n, 2n ** 256n - 1n, 68n]);
    // The same calldata as the wallet's own balance reads (abi.encodeCall: selector and one word) before and after:
    // a token that answers by what it was sent cannot show a change that is not there.
    expect(observed.balances[8]).to.equal(36n);
  });

  it("answers nothing for no reads, and reverts on calldata one word short or long (an encoding it did not expect)", async function () {
    const f = await loadFixture(readerFixture);
    expect(observeAnswer(await call(f.reader, observeCalldata([])), 0, 0)).to.deep.equal({ balances: [], balanceOk: [], allowances: [] });
    const data = observeCalldata([{ asset: "native", account: f.wallet }], [{ token: f.usdc, owner: f.wallet, spender: f.wallet }]);
    expect(observeAnswer(await call(f.reader, data), 1, 1).balances).to.deep.equal([10n ** 19n]);
    await expect(call(f.reader, data.slice(0, -64) as Hex)).to.be.reverted;
    await expect(call(f.reader, `${data}${"00".repeat(32)}` as Hex)).to.be.reverted;
  });

  it("refuses an answer of another length than the reads asked for (SIMULATION_FAILED), taking nothing from it", function () {
    const one = `0x${"00".repeat(31)}05${"00".repeat(31)}01` as Hex;
    expect(observeAnswer(one, 1, 0)).to.deep.equal({ balances: [5n], balanceOk: [true], allowances: [] });
    for (const [raw, pairs, allowances] of [[one, 2, 0], [one, 0, 1], [`${one}00`, 1, 0], ["0x", 1, 0]] as const) {
      expect(() => observeAnswer(raw as Hex, pairs, allowances))
        .to.throw(CountersignError)
        .with.property("code", "SIMULATION_FAILED");
    }
  });
});
