import { encodeFunctionData, toFunctionSelector, type Address } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { proposal, startHarness, type CosignerHarness } from "../support/cosigner";
import { artifact, asOwner, deployMock, expectRejected, ROLES, send, syncFork } from "../support/engine";

describe("engine: what cannot be measured is refused", function () {
  let h: CosignerHarness;
  const alice = devAccount(ROLES.alice).address;

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  it("refuses with UNREADABLE_BALANCE when the wallet's balance of a moved token cannot be read", async function () {
    const token = (await deployMock(h, "NoBalanceToken")) as Address;
    const { abi } = artifact("NoBalanceToken");
    await send(h, ROLES.owner, token, abi, "mint", [h.deployment.wallet, 1000n]);
    await asOwner(h, "setCallPermission", [token, toFunctionSelector("transfer(address,uint256)"), true]);
    await syncFork(h);
    const calls = [{ target: token, value: 0n, data: encodeFunctionData({ abi, functionName: "transfer", args: [alice, 400n] }) }];
    const decision = await h.cosigner.engine.propose(await proposal(h, calls, { kind: "call", expect: [] }));
    const messages = expectRejected(decision, "UNREADABLE_BALANCE");
    expectMessage(messages[0]!, token, h.deployment.wallet);
  });

  it("refuses with BALANCE_LOG_MISMATCH when a token moves the wallet's funds without a Transfer log", async function () {
    const token = (await deployMock(h, "SilentToken")) as Address;
    const { abi } = artifact("SilentToken");
    await send(h, ROLES.owner, token, abi, "mint", [h.deployment.wallet, 1000n]);
    await asOwner(h, "setCallPermission", [token, toFunctionSelector("settle(address,uint256)"), true]);
    await syncFork(h);
    const calls = [{ target: token, value: 0n, data: encodeFunctionData({ abi, functionName: "settle", args: [alice, 400n] }) }];
    // The wallet reads this token's balance only because the intent names it; the logs name nothing.
    const decision = await h.cosigner.engine.propose(await proposal(h, calls, { kind: "call", expect: [{ asset: token, delta: "-400" }] }));
    const [message] = expectRejected(decision, "BALANCE_LOG_MISMATCH");
    if (!message!.includes("-400")) throw new Error(message);
  });
});

function expectMessage(message: string, token: string, wallet: string): void {
  if (!message.includes(token) || !message.includes(wallet)) throw new Error(`unexpected message: ${message}`);
}
