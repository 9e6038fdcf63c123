import { expect } from "chai";
import { decodeEventLog, encodeFunctionData, parseEther, type Address } from "viem";
import { loadArtifact } from "../../src/chain/artifacts";
import type { Call } from "../../src/eip712";
import type { Decision } from "../../src/api";
import { executeOnChain, operationOf, proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { balanceOf, erc20, expectApproved, publicClient, syncFork, walletAbi } from "../support/engine";

describe("engine: happy paths, executed on chain", function () {
  let h: CosignerHarness;
  let USDC: Address;
  let WETH: Address;
  let dex: Address;
  let alice: Address;
  let bob: Address;
  let wallet: Address;

  /** Every (account, asset) whose balance could plausibly move, so that missing changes show up too. */
  const universe = () => {
    const accounts = [wallet, alice, bob, dex];
    return accounts.flatMap((account) => ["native", USDC, WETH].map((asset) => ({ account, asset })));
  };

  /**
   * Proposes, expects approval, executes on chain with the co-signature, and checks that the simulated changes are
   * the real ones, that the digest is the wallet's, and that the gas the fork used is the gas the chain used.
   */
  async function proposeAndExecute(calls: Call[], intent: Record<string, unknown>): Promise<Decision> {
    await syncFork(h);
    const request = await proposal(h, calls, intent);
    const decision = await h.cosigner.engine.propose(request);
    expectApproved(decision);

    const onChainDigest = await publicClient(h).readContract({
      address: wallet,
      abi: walletAbi(),
      functionName: "operationDigest",
      args: [calls, BigInt(request.nonce), BigInt(request.deadline), BigInt(request.callGasLimit), operationOf(request).bounds],
    });
    expect(decision.digest).to.equal(onChainDigest);

    const watched = [...universe(), ...decision.simulation!.changes.map((c) => ({ account: c.account as Address, asset: c.asset }))];
    const before = await Promise.all(watched.map((w) => balanceOf(h, w.asset, w.account)));
    const receipt = await executeOnChain(h, request, decision.cosignerSignature!);
    expect(receipt.status).to.equal("success");
    const after = await Promise.all(watched.map((w) => balanceOf(h, w.asset, w.account)));

    const real = new Map<string, string>();
    watched.forEach((w, i) => {
      const delta = after[i]! - before[i]!;
      if (delta !== 0n) real.set(`${w.account}:${w.asset}`, delta.toString());
    });
    const simulated = new Map(decision.simulation!.changes.map((c) => [`${c.account}:${c.asset}`, c.delta]));
    expect(Object.fromEntries(simulated), "simulated changes = real changes").to.deep.equal(Object.fromEntries(real));

    const executed = receipt.logs
      .filter((l) => l.address.toLowerCase() === wallet.toLowerCase())
      .map((l) => {
        try {
          return decodeEventLog({ abi: walletAbi(), data: l.data, topics: l.topics });
        } catch {
          return undefined;
        }
      })
      .find((e) => e?.eventName === "Executed");
    expect((executed!.args as unknown as { digest: string }).digest).to.equal(decision.digest);
    expect(decision.simulation!.gasUsed, "the fork ran the exact execute the chain ran").to.equal(receipt.gasUsed.toString());
    return decision;
  }

  before(async function () {
    h = await startHarness();
    ({ USDC, WETH } = h.deployment.tokens as { USDC: Address; WETH: Address });
    ({ alice, bob } = h.deployment.recipients as { alice: Address; bob: Address });
    dex = h.deployment.dex;
    wallet = h.deployment.wallet;
  });
  after(async function () {
    await h?.stop();
  });

  it("transfer: approves 10 USDC to alice and the wallet executes it with the co-signature", async function () {
    const decision = await proposeAndExecute([transferCall(USDC, alice, usdc(10))], {
      kind: "transfer",
      asset: USDC,
      to: alice,
      amount: usdc(10).toString(),
      memo: "coffee beans",
    });
    expect(decision.simulation!.changes).to.have.deep.members([
      { account: wallet, asset: USDC, delta: "-10000000" },
      { account: alice, asset: USDC, delta: "10000000" },
    ]);
  });

  it("transfer: approves 0.1 ETH to bob and the wallet executes it", async function () {
    const amount = parseEther("0.1");
    const decision = await proposeAndExecute([{ target: bob, value: amount, data: "0x" }], {
      kind: "transfer",
      asset: "native",
      to: bob,
      amount: amount.toString(),
    });
    expect(decision.simulation!.changes).to.have.deep.members([
      { account: wallet, asset: "native", delta: (-amount).toString() },
      { account: bob, asset: "native", delta: amount.toString() },
    ]);
  });

  it("swap: approves approve+swap of 400 USDC for at least 0.09 WETH on the demo DEX and the wallet executes it", async function () {
    const amountIn = usdc(400);
    const minOut = parseEther("0.09");
    const dexAbi = loadArtifact("MockDex").abi;
    const decision = await proposeAndExecute(
      [
        { target: USDC, value: 0n, data: encodeFunctionData({ abi: erc20, functionName: "approve", args: [dex, amountIn] }) },
        { target: dex, value: 0n, data: encodeFunctionData({ abi: dexAbi, functionName: "swap", args: [USDC, WETH, amountIn, minOut] }) },
      ],
      { kind: "swap", sell: { asset: USDC, maxAmount: amountIn.toString() }, buy: { asset: WETH, minAmount: minOut.toString() } },
    );
    expect(decision.simulation!.changes).to.have.deep.members([
      { account: wallet, asset: USDC, delta: "-400000000" },
      { account: wallet, asset: WETH, delta: "100000000000000000" },
      { account: dex, asset: USDC, delta: "400000000" },
      { account: dex, asset: WETH, delta: "-100000000000000000" },
    ]);
  });

  it("call: approves a batch matching its expect list exactly (USDC to alice, ETH to bob) and the wallet executes it", async function () {
    const eth = parseEther("0.05");
    const decision = await proposeAndExecute([transferCall(USDC, alice, usdc(25)), { target: bob, value: eth, data: "0x" }], {
      kind: "call",
      expect: [
        { asset: USDC, delta: (-usdc(25)).toString() },
        { asset: "native", delta: (-eth).toString() },
      ],
    });
    expect(decision.simulation!.changes).to.have.deep.members([
      { account: wallet, asset: USDC, delta: "-25000000" },
      { account: wallet, asset: "native", delta: (-eth).toString() },
      { account: alice, asset: USDC, delta: "25000000" },
      { account: bob, asset: "native", delta: eth.toString() },
    ]);
  });
});
