import { expect } from "chai";
import { startHarness, proposal, transferCall, usdc, executeOnChain, type CosignerHarness } from "../support/cosigner";

describe("co-signer engine (smoke)", function () {
  let h: CosignerHarness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  it("approves a transfer that matches its intent, and the wallet accepts the co-signature on chain", async function () {
    const { tokens, recipients } = h.deployment;
    const req = await proposal(h, [transferCall(tokens.USDC!, recipients.alice!, usdc(10))], {
      kind: "transfer",
      asset: tokens.USDC,
      to: recipients.alice,
      amount: usdc(10).toString(),
    });
    const decision = await h.cosigner.engine.propose(req);
    expect(decision.status, JSON.stringify(decision.reasons)).to.equal("approved");
    expect(decision.cosignerSignature).to.match(/^0x[0-9a-f]{130}$/);
    const receipt = await executeOnChain(h, req, decision.cosignerSignature!);
    expect(receipt.status).to.equal("success");
  });
});
