import { expect } from "chai";
import { encodeFunctionData, toFunctionSelector, type Abi, type Address, type Hex } from "viem";
import { devAccount } from "../../src/chain/accounts";
import type { Call } from "../../src/eip712";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { artifact, asGuardian, asOwner, deployMock, expectRefusal, expectRejected, recordForkRequests, ROLES, syncFork } from "../support/engine";

function call(target: Address, abi: Abi, functionName: string, args: readonly unknown[]): Call {
  return { target, value: 0n, data: encodeFunctionData({ abi, functionName, args } as never) };
}

describe("engine: control changes without events, Permit2 allowances, revoked keys", function () {
  let h: CosignerHarness;
  const mallory = devAccount(ROLES.mallory).address;
  const propose = async (calls: Call[], intent: Record<string, unknown>) => h.cosigner.engine.propose(await proposal(h, calls, intent));

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  describe("an EIP-1967 slot written without an event", function () {
    it("refuses with CONTROL_CHANGED when a permitted call silently repoints the implementation slot", async function () {
      const proxy = await deployMock(h, "SilentUpgradeable");
      const { abi } = artifact("SilentUpgradeable");
      await asOwner(h, "setCallPermission", [proxy, toFunctionSelector("sync(address)"), true]);
      await syncFork(h);
      const decision = await propose([call(proxy, abi, "sync", [mallory])], { kind: "call", expect: [] });
      const [message] = expectRejected(decision, "CONTROL_CHANGED");
      expect(message).to.equal(`control of ${proxy} changes: EIP-1967 slot 0x360894a1 changed`);
    });

    it("refuses with CONTROL_CHANGED when a permitted call silently changes the admin slot", async function () {
      const proxy = await deployMock(h, "SilentUpgradeable");
      const { abi } = artifact("SilentUpgradeable");
      await asOwner(h, "setCallPermission", [proxy, toFunctionSelector("touch(address)"), true]);
      await syncFork(h);
      const decision = await propose([call(proxy, abi, "touch", [mallory])], { kind: "call", expect: [] });
      const [message] = expectRejected(decision, "CONTROL_CHANGED");
      expect(message).to.equal(`control of ${proxy} changes: EIP-1967 slot 0xb5312768 changed`);
    });
  });

  describe("a Permit2 allowance", function () {
    it("refuses with STANDING_APPROVAL when the batch leaves a Permit2 allowance for someone", async function () {
      const permit2 = await deployMock(h, "MockPermit2");
      const { abi } = artifact("MockPermit2");
      await asOwner(h, "setCallPermission", [permit2, toFunctionSelector("approve(address,address,uint160,uint48)"), true]);
      await syncFork(h);
      const decision = await propose([call(permit2, abi, "approve", [h.deployment.tokens.USDC, mallory, 10n ** 30n, 2n ** 47n])], {
        kind: "call",
        expect: [],
      });
      const [message] = expectRejected(decision, "STANDING_APPROVAL");
      expect(message).to.equal(`the operation leaves ${mallory} approved on ${permit2} (permit2)`);
    });
  });

  describe("a session key revoked by a guardian", function () {
    after(async function () {
      // Give the wallet its session key back, for whatever runs next on this harness.
      await asOwner(h, "addSessionKey", [h.deployment.roles.sessionKey, h.deployment.sessionKeyValidUntil]);
      await syncFork(h);
    });

    it("is refused before simulation with UNKNOWN_SESSION_KEY (401)", async function () {
      const { tokens, recipients, roles, wallet } = h.deployment;
      const req = await proposal(h, [transferCall(tokens.USDC!, recipients.alice!, usdc(1))], {
        kind: "transfer",
        asset: tokens.USDC,
        to: recipients.alice,
        amount: usdc(1).toString(),
      });
      await asGuardian(h, "revokeSessionKey", [roles.sessionKey]);
      await syncFork(h);
      const requests = recordForkRequests(h);
      await expectRefusal(h.cosigner.engine.propose(req), "UNKNOWN_SESSION_KEY", 401);
      // The refusal comes from the one read of the wallet's session key: the operation itself never ran on the fork
      // (no snapshot, no transaction, no call to the token it names).
      const sessionKeyRead = toFunctionSelector("sessionKeyValidUntil(address)");
      const calls = requests().filter((r) => r.method === "eth_call");
      expect(calls.map((r) => [(r.params[0] as { to: Address }).to, (r.params[0] as { data: Hex }).data.slice(0, 10)])).to.deep.equal([[wallet, sessionKeyRead]]);
      const methods = requests().map((r) => r.method);
      for (const simulationStep of ["evm_snapshot", "eth_sendTransaction", "eth_estimateGas"]) expect(methods).to.not.include(simulationStep);
      expect(methods.every((m) => m === "eth_call" || m === "eth_getCode"), methods.join(", ")).to.equal(true);
    });
  });
});
