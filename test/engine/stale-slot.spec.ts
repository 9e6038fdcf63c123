import { expect } from "chai";
import { startHarness, proposal, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { asGuardian, syncFork } from "../support/engine";
import { CountersignError } from "../../src/errors";

describe("fork freshness: a nonce burnt on the upstream", function () {
  let h: CosignerHarness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  for (const nonce of [777n, 9n, 123456789n, 5000n]) {
    it(`refuses nonce ${nonce} with NONCE_USED once the fork reached the block that burnt it`, async function () {
      const { tokens, recipients } = h.deployment;
      // a decision first, so the fork is warm (hydrated) before the burn
      await h.cosigner.engine.propose(
        await proposal(h, [transferCall(tokens.USDC!, recipients.alice!, usdc(1))], { kind: "transfer", asset: tokens.USDC, to: recipients.alice, amount: usdc(1).toString() }),
      );
      await asGuardian(h, "invalidateNonce", [nonce]);
      await syncFork(h);
      const req = await proposal(h, [transferCall(tokens.USDC!, recipients.alice!, usdc(1))], { kind: "transfer", asset: tokens.USDC, to: recipients.alice, amount: usdc(1).toString() }, { nonce });
      const err = await h.cosigner.engine.propose(req).then((d) => d, (e) => e);
      expect(err, JSON.stringify(err)).to.be.instanceOf(CountersignError);
      expect((err as CountersignError).code).to.equal("NONCE_USED");
    });
  }
});
