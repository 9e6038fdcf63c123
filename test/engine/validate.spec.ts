import { expect } from "chai";
import { isAddress } from "viem";
import { ValidationError } from "../../src/errors";
import { MAX_CALLDATA_BYTES } from "../../src/intent/schema";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { expectNeverRan, expectRefusal } from "../support/engine";

/**
 * `address` with one letter's case flipped so that its letters stay of both cases: EIP-55 checks only a mixed-case
 * address (one in a single case carries no checksum, and is valid), so the flip must not leave it in one case, as
 * flipping the only lowercase letter of a deployment's address once did.
 */
function withBadChecksum(address: string): string {
  for (let i = 2; i < address.length; i++) {
    const c = address[i]!;
    if (!/[a-fA-F]/.test(c)) continue;
    const flipped = address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(i + 1);
    if (/[a-f]/.test(flipped.slice(2)) && /[A-F]/.test(flipped.slice(2))) return flipped;
  }
  throw new Error(`${address} has too few letters to carry a checksum`);
}

describe("engine: validate", function () {
  let h: CosignerHarness;

  /** A valid request: 10 USDC to alice. */
  async function valid() {
    const { tokens, recipients } = h.deployment;
    return proposal(h, [transferCall(tokens.USDC!, recipients.alice!, usdc(10))], {
      kind: "transfer",
      asset: tokens.USDC,
      to: recipients.alice,
      amount: usdc(10).toString(),
    });
  }

  /**
   * Proposes `body` and expects INVALID_REQUEST (400) naming `path`, with nothing run on the fork and no audit record;
   * returns the error's message.
   */
  async function expectInvalid(body: unknown, path: string, reason: RegExp): Promise<string> {
    const err = await expectNeverRan(h, () => expectRefusal(h.cosigner.engine.propose(body), "INVALID_REQUEST", 400));
    expect(err).to.be.instanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    const issue = issues.find((i) => i.path === path);
    expect(issue, `no issue at "${path}" in ${JSON.stringify(issues)}`).to.not.equal(undefined);
    expect(issue!.message).to.match(reason);
    return err.message;
  }

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  describe("addresses", function () {
    it("refuses a wallet address with a bad checksum, naming the field", async function () {
      const body = await valid();
      const flipped = withBadChecksum(body.wallet);
      expect(isAddress(flipped, { strict: true })).to.equal(false);
      await expectInvalid({ ...body, wallet: flipped }, "wallet", /bad checksum/);
    });

    it("accepts a wallet address written in one case: EIP-55 gives it no checksum to check", async function () {
      for (const write of [(a: string) => a.toLowerCase(), (a: string) => `0x${a.slice(2).toUpperCase()}`]) {
        const body = await valid();
        const decision = await h.cosigner.engine.propose({ ...body, wallet: write(body.wallet) });
        expect(decision.status, JSON.stringify(decision.reasons)).to.equal("approved");
      }
    });

    it("refuses a recipient with a bad checksum in the intent, naming the field", async function () {
      const body = await valid();
      const to = withBadChecksum(body.intent.to as string);
      expect(isAddress(to, { strict: true })).to.equal(false);
      await expectInvalid({ ...body, intent: { ...body.intent, to } }, "intent.to", /bad checksum/);
    });

    it("refuses an address that is not 20 bytes of hex", async function () {
      const body = await valid();
      const calls = [{ ...body.calls[0]!, target: "0x1234" }];
      await expectInvalid({ ...body, calls }, "calls.0.target", /20-byte hex address/);
    });
  });

  describe("amounts", function () {
    it("refuses an intent amount above 2^256-1", async function () {
      const body = await valid();
      const amount = (2n ** 256n).toString();
      await expectInvalid({ ...body, intent: { ...body.intent, amount } }, "intent.amount", /at most 2\^256-1/);
    });

    it("refuses a call value above 2^256-1", async function () {
      const body = await valid();
      const calls = [{ ...body.calls[0]!, value: (2n ** 256n).toString() }];
      await expectInvalid({ ...body, calls }, "calls.0.value", /at most 2\^256-1/);
    });

    it("refuses an amount that is not a decimal string", async function () {
      const body = await valid();
      await expectInvalid({ ...body, nonce: "0x10" }, "nonce", /decimal string/);
      await expectInvalid({ ...body, nonce: 16 }, "nonce", /string/);
    });
  });

  describe("sizes", function () {
    it("refuses 17 calls", async function () {
      const body = await valid();
      const calls = Array.from({ length: 17 }, () => body.calls[0]!);
      await expectInvalid({ ...body, calls }, "calls", /at most 16 calls/);
    });

    it("refuses no calls", async function () {
      const body = await valid();
      await expectInvalid({ ...body, calls: [] }, "calls", /at least one call/);
    });

    it("refuses calldata of 24 KiB + 1 byte", async function () {
      const body = await valid();
      const data = `0x${"ab".repeat(MAX_CALLDATA_BYTES + 1)}`;
      await expectInvalid({ ...body, calls: [{ ...body.calls[0]!, data }] }, "calls.0.data", /at most 24576 bytes/);
    });

    it("accepts calldata of exactly 24 KiB (the validation limit is inclusive)", async function () {
      // Reaches the fork (the wallet then refuses the call); only the size is at issue here.
      const { tokens } = h.deployment;
      const data = `0x${"ab".repeat(MAX_CALLDATA_BYTES)}` as const;
      const body = await proposal(h, [{ target: tokens.USDC!, value: 0n, data }], { kind: "call", expect: [] });
      const decision = await h.cosigner.engine.propose(body);
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["CALL_NOT_PERMITTED"]);
      expect(decision.simulation!.revertReason).to.equal(`CallNotPermitted(${tokens.USDC}, 0xabababab)`);
    });

    it("refuses a memo of 501 characters", async function () {
      const body = await valid();
      await expectInvalid({ ...body, intent: { ...body.intent, memo: "m".repeat(501) } }, "intent.memo", /at most 500 characters/);
    });
  });

  describe("shape", function () {
    it("refuses an unknown top-level field, naming it", async function () {
      const body = await valid();
      const message = await expectInvalid({ ...body, gasPrice: "1" }, "", /Unrecognized key/);
      expect(message).to.include("gasPrice");
    });

    it("refuses an unknown field inside the intent, naming it", async function () {
      const body = await valid();
      const message = await expectInvalid({ ...body, intent: { ...body.intent, slippage: "1" } }, "intent", /Unrecognized key/);
      expect(message).to.include("slippage");
    });

    it("refuses an unknown intent kind", async function () {
      const body = await valid();
      await expectInvalid({ ...body, intent: { ...body.intent, kind: "bridge" } }, "intent.kind", /./);
    });

    it("refuses a signature that is not 65 bytes", async function () {
      const body = await valid();
      await expectInvalid({ ...body, agentSignature: body.agentSignature.slice(0, -2) }, "agentSignature", /65-byte/);
    });

    it("refuses a body that is not an object", async function () {
      const err = await expectNeverRan(h, () => expectRefusal(h.cosigner.engine.propose("hello"), "INVALID_REQUEST", 400));
      expect(err.message).to.match(/expected object/i);
    });
  });

  describe("chain", function () {
    it("refuses a request for another chain with CHAIN_MISMATCH (400) before any simulation", async function () {
      const body = await valid();
      const err = await expectNeverRan(h, () => expectRefusal(h.cosigner.engine.propose({ ...body, chainId: 1 }), "CHAIN_MISMATCH", 400));
      expect(err.message).to.include(`serves chain ${h.deployment.chainId}, not 1`);
    });
  });
});
