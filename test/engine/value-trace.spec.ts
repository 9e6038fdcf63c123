import { expect } from "chai";
import { encodeFunctionData, getAddress, parseEther, toFunctionSelector, type Address, type Hex } from "viem";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";
import type { Call } from "../../src/eip712";
import type { Decision } from "../../src/api";
import type { EvmProcess } from "../../src/simulation/evm-process";
import { canMoveEth, valueRecipients } from "../../src/simulation/value-trace";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { artifact, asOwner, deployMock, expectApproved, expectRefusal, syncFork } from "../support/engine";

const AMOUNT = parseEther("0.01");
const forwarderAbi = () => artifact("EthForwarder").abi;

/** A fresh account no one has paid (zero balance on the chain). */
const stranger = (): Address => privateKeyToAccount(generatePrivateKey()).address;

/**
 * Counts the traces the fork's EVM was asked for from now on (the simulation runs in the EVM's process, which counts
 * its requests), and makes them fail when `fail` (the process honours that with COUNTERSIGN_EVM_FAULTS=1).
 */
async function watchTraces(h: CosignerHarness, fail = false): Promise<{ count: () => Promise<number>; restore: () => Promise<void> }> {
  const fork = h.cosigner.fork;
  const evm = (fork as unknown as { provider: EvmProcess }).provider;
  const traced = async () => (await fork.evmUsage()).requests["debug_traceTransaction"] ?? 0;
  const before = await traced();
  if (fail) await evm.fault("debug_traceTransaction", true);
  return { count: async () => (await traced()) - before, restore: () => evm.fault("debug_traceTransaction", false) };
}

describe("simulate: every account that receives ETH (value trace)", function () {
  let h: CosignerHarness;
  let forwarder: Address;
  let second: Address;

  const forwardCall = (to: Address, value = AMOUNT): Call => ({
    target: forwarder,
    value,
    data: encodeFunctionData({ abi: forwarderAbi(), functionName: "forward", args: [to] }),
  });
  const paysNative = (amount: bigint) => ({ kind: "call", expect: [{ asset: "native", delta: (-amount).toString() }] });
  const propose = async (calls: Call[], intent: Record<string, unknown>): Promise<Decision> =>
    h.cosigner.engine.propose(await proposal(h, calls, intent));

  before(async function () {
    process.env.COUNTERSIGN_EVM_FAULTS = "1"; // the EVM's process lets the tests make its traces fail
    h = await startHarness({ reviewNewRecipients: true });
    forwarder = await deployMock(h, "EthForwarder");
    second = await deployMock(h, "EthForwarder");
    await asOwner(h, "setCallPermission", [forwarder, toFunctionSelector("forward(address)"), true]);
    await asOwner(h, "setCallPermission", [forwarder, toFunctionSelector("forwardVia(address,address)"), true]);
    await syncFork(h);
  });
  after(async function () {
    await h?.stop();
    delete process.env.COUNTERSIGN_EVM_FAULTS;
  });

  describe("a permitted contract that forwards the ETH it receives", function () {
    it("shows the third party it pays in the changes, with +amount", async function () {
      const third = stranger();
      const decision = await propose([forwardCall(third)], paysNative(AMOUNT));
      expect(decision.simulation!.changes).to.deep.include({ account: third, asset: "native", delta: AMOUNT.toString() });
      expect(decision.simulation!.changes).to.deep.include({ account: h.deployment.wallet, asset: "native", delta: (-AMOUNT).toString() });
    });

    it("holds the operation for a person, naming the third party as a new recipient", async function () {
      const third = stranger();
      const decision = await propose([forwardCall(third)], paysNative(AMOUNT));
      expect(decision.status).to.equal("pending_approval");
      expect(decision.cosignerSignature).to.equal(undefined);
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["NEW_RECIPIENT"]);
      expect(decision.reasons[0]!.message).to.contain(third);
    });

    it("finds the payee two contracts deep (forwarded through a second forwarder)", async function () {
      const third = stranger();
      const data = encodeFunctionData({ abi: forwarderAbi(), functionName: "forwardVia", args: [second, third] });
      const decision = await propose([{ target: forwarder, value: AMOUNT, data }], paysNative(AMOUNT));
      expect(decision.simulation!.changes).to.deep.include({ account: third, asset: "native", delta: AMOUNT.toString() });
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["NEW_RECIPIENT"]);
      expect(decision.reasons[0]!.message).to.contain(third);
    });

    it("approves when the forwarder sends the ETH back to the wallet (no one else is paid)", async function () {
      const decision = await propose([forwardCall(h.deployment.wallet)], { kind: "call", expect: [] });
      expectApproved(decision);
      expect(decision.simulation!.changes.filter((c) => c.asset === "native")).to.deep.equal([]);
    });

    it("refuses with SIMULATION_FAILED when the trace it needs cannot be read", async function () {
      const traces = await watchTraces(h, true);
      try {
        await expectRefusal(propose([forwardCall(stranger())], paysNative(AMOUNT)), "SIMULATION_FAILED");
        expect(await traces.count()).to.equal(1);
      } finally {
        await traces.restore();
      }
    });
  });

  describe("when no code that could move ETH runs", function () {
    it("does not trace an ERC-20 transfer of a token whose code cannot send ETH", async function () {
      const { tokens, recipients } = h.deployment;
      const traces = await watchTraces(h);
      try {
        await propose([transferCall(tokens.USDC!, recipients.alice!, usdc(1))], {
          kind: "transfer",
          asset: tokens.USDC,
          to: recipients.alice,
          amount: usdc(1).toString(),
        });
        expect(await traces.count()).to.equal(0);
      } finally {
        await traces.restore();
      }
    });
  });

  describe("canMoveEth", function () {
    it("is false for no code and for code without CALL, CALLCODE, DELEGATECALL, CREATE, CREATE2 or SELFDESTRUCT", function () {
      expect(canMoveEth("0x")).to.equal(false);
      expect(canMoveEth("0x6001600101fa00")).to.equal(false); // PUSH1 1 PUSH1 1 ADD STATICCALL STOP
    });

    it("is true for code with a CALL, and not fooled by 0xf1 inside PUSH data", function () {
      expect(canMoveEth("0x60f100")).to.equal(false); // PUSH1 0xf1 STOP
      expect(canMoveEth("0x6000f1")).to.equal(true);
      expect(canMoveEth("0xff")).to.equal(true);
      expect(canMoveEth("0xf4")).to.equal(true);
    });

    it("ignores a CALL byte after a halt with no JUMPDEST before it (Solidity's metadata), not one a JUMPDEST makes reachable", function () {
      expect(canMoveEth("0x6000fef1")).to.equal(false); // PUSH1 0 INVALID | 0xf1 (never reached)
      expect(canMoveEth("0x6000fe5bf1")).to.equal(true); // PUSH1 0 INVALID JUMPDEST CALL
    });

    it("is true for an EIP-7702 delegation (the delegate's code runs)", function () {
      expect(canMoveEth(`0xef0100${"11".repeat(20)}` as Hex)).to.equal(true);
    });
  });

  describe("valueRecipients", function () {
    it("reads CALL value transfers and SELFDESTRUCT beneficiaries from the stack, not CALLs without value", function () {
      const pad = (hex: string) => hex.replace(/^0x/, "").padStart(64, "0");
      const a = getAddress(`0x${"aa".repeat(20)}`);
      const b = getAddress(`0x${"bb".repeat(20)}`);
      const c = getAddress(`0x${"cc".repeat(20)}`);
      const logs = [
        { op: "CALL", depth: 1, stack: [pad("0"), pad("5"), pad(a), pad("ffff")] },
        { op: "CALL", depth: 2, stack: [pad("0"), pad("0"), pad(b), pad("ffff")] },
        { op: "SELFDESTRUCT", depth: 2, stack: [pad(c)] },
      ];
      expect(valueRecipients(logs)).to.deep.equal([a, c]);
    });
  });
});
