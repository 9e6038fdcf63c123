import { expect } from "chai";
import { getAddress, type Address } from "viem";
import { Approvers, hashToken } from "../../src/approvals/approvers";
import { evaluatePolicy, loadApprovalPolicy, parseApprovalPolicy, policyFromShorthands, type PolicyInput, type WalletFacts } from "../../src/approvals/policy";

const WALLET = getAddress("0x1111111111111111111111111111111111111111");
const USDC = getAddress("0x2222222222222222222222222222222222222222");
const OWNER = getAddress("0x3333333333333333333333333333333333333333");
const COLD = getAddress("0x4444444444444444444444444444444444444444");
const ALICE = getAddress("0x5555555555555555555555555555555555555555");
const MALLORY = getAddress("0x6666666666666666666666666666666666666666");

const facts: WalletFacts = { owner: OWNER, recipients: [ALICE, COLD, OWNER], available: new Map([[USDC, 1_000_000_000n]]) };

/** A USDC transfer of `amount` base units to `to`. */
function transfer(to: Address, amount: bigint, extra: Partial<PolicyInput> = {}): PolicyInput {
  return { kind: "transfer", wallet: WALLET, outflow: new Map([[USDC, amount]]), payees: [to], newPayees: [], facts, now: new Date("2026-01-05T12:00:00Z"), ...extra };
}

const policy = parseApprovalPolicy(
  {
    version: 1,
    ownAddresses: [COLD],
    rules: [
      { name: "own", description: "pays the owner's own", reversible: true, match: { counterparty: "own" }, decide: "auto" },
      { name: "new", description: "first payment", reversible: false, match: { counterparty: "first-time" }, decide: { approve: 2 } },
      { name: "night", description: "at night", reversible: false, match: { timeOfDay: { from: "22:00", to: "06:00" } }, decide: { approve: 1 } },
      { name: "huge", description: "over 900 USDC", reversible: false, match: { asset: USDC, amount: { above: "900000000" } }, decide: "deny" },
      { name: "share", description: "over half the budget", reversible: false, match: { amount: { shareOfAvailableBudgetAbove: 0.5 } }, decide: { approve: 1 } },
      { name: "small", description: "allowlisted transfers", reversible: false, match: { kind: "transfer", counterparty: "allowlisted" }, decide: "auto" },
    ],
  },
  "test",
);

describe("approval policy (src/approvals/policy.ts)", function () {
  describe("evaluatePolicy", function () {
    it("lets the first matching rule decide: the owner's cold wallet is auto even above the deny amount", function () {
      const outcome = evaluatePolicy(policy, transfer(COLD, 950_000_000n));
      expect(outcome).to.include({ rule: "own", reversible: true });
      expect(outcome.decide).to.equal("auto");
    });

    it("needs two approvers for a first payment, naming the rule and the recipient", function () {
      const outcome = evaluatePolicy(policy, transfer(ALICE, 1n, { newPayees: [ALICE] }));
      expect(outcome.rule).to.equal("new");
      expect(outcome.decide).to.deep.equal({ approve: 2 });
      expect(outcome.reasons[0]).to.include({ code: "NEW_RECIPIENT" });
      expect(outcome.reasons[0]!.message).to.contain(ALICE).and.contain("rule new (approve 2, irreversible)");
    });

    it("denies an amount above the rule's base units with POLICY_DENIED", function () {
      const outcome = evaluatePolicy(policy, transfer(ALICE, 900_000_001n));
      expect(outcome.rule).to.equal("huge");
      expect(outcome.decide).to.equal("deny");
      expect(outcome.reasons.map((r) => r.code)).to.deep.equal(["POLICY_DENIED"]);
    });

    it("asks a person above a share of the available budget, and not at it", function () {
      expect(evaluatePolicy(policy, transfer(ALICE, 500_000_001n)).rule).to.equal("share");
      expect(evaluatePolicy(policy, transfer(ALICE, 500_000_000n)).rule).to.equal("small");
    });

    it("matches a time of day that wraps past midnight, in the policy's time zone", function () {
      expect(evaluatePolicy(policy, transfer(ALICE, 1n, { now: new Date("2026-01-05T23:30:00Z") })).rule).to.equal("night");
      expect(evaluatePolicy(policy, transfer(ALICE, 1n, { now: new Date("2026-01-05T05:59:00Z") })).rule).to.equal("night");
      expect(evaluatePolicy(policy, transfer(ALICE, 1n, { now: new Date("2026-01-05T06:00:00Z") })).rule).to.equal("small");
    });

    it("falls back to approve(1) when no rule matches (a payee that is not allowlisted)", function () {
      const outcome = evaluatePolicy(policy, transfer(MALLORY, 1n));
      expect(outcome.rule).to.equal("no-match");
      expect(outcome.decide).to.deep.equal({ approve: 1 });
      expect(outcome.reasons[0]!.code).to.equal("APPROVAL_POLICY");
    });

    it("counts a payment to own and third-party accounts in one batch as third-party, not own", function () {
      const outcome = evaluatePolicy(policy, { ...transfer(COLD, 1n), kind: "call", payees: [COLD, MALLORY] });
      expect(outcome.rule).to.equal("no-match");
    });
  });

  describe("the shorthands REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS", function () {
    it("become approve(1) rules before an auto default, with the reasons the co-signer always gave", function () {
      const derived = policyFromShorthands(new Map([[USDC, 300n]]), true);
      expect(derived.rules.map((r) => r.name)).to.deep.equal([`review-threshold-${USDC.toLowerCase()}`, "new-recipient", "default"]);
      const outcome = evaluatePolicy(derived, transfer(ALICE, 301n, { newPayees: [ALICE], facts: undefined }));
      expect(outcome.decide).to.deep.equal({ approve: 1 });
      expect(outcome.reasons.map((r) => r.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD", "NEW_RECIPIENT"]);
      expect(outcome.reasons[0]!.message).to.equal(`gross outflow 301 of ${USDC} is above the review threshold 300`);
      expect(evaluatePolicy(derived, transfer(ALICE, 300n, { facts: undefined })).decide).to.equal("auto");
    });
  });

  describe("the policy file", function () {
    it("parses the default policy of deployments/approval-policy.json", function () {
      const file = loadApprovalPolicy("deployments/approval-policy.json");
      expect(file.rules.map((r) => r.name)).to.include.members(["first-payment-to-new-recipient", "large-third-party-payment"]);
      expect(file.rules.find((r) => r.name === "first-payment-to-new-recipient")!.decide).to.deep.equal({ approve: 2 });
      expect(file.rules.every((r) => typeof r.reversible === "boolean")).to.equal(true);
    });

    it("refuses an unknown field, a bad decision and a missing reversibility, naming each", function () {
      const bad = { version: 1, rules: [{ name: "x", description: "d", match: { colour: "red" }, decide: { approve: 0 } }] };
      expect(() => parseApprovalPolicy(bad, "t")).to.throw(/rules\.0\.reversible.*|rules\.0\.match: Unrecognized key: "colour"/);
      try {
        parseApprovalPolicy(bad, "t");
      } catch (err) {
        const message = (err as Error).message;
        expect(message).to.contain('rules.0.match: Unrecognized key: "colour"');
        expect(message).to.contain("rules.0.decide.approve: must be at least 1");
        expect(message).to.contain("rules.0.reversible");
      }
    });

    it("refuses two rules with one name and an amount in base units without its asset", function () {
      const rule = { name: "a", description: "d", reversible: false, match: { amount: { above: "1" } }, decide: "auto" };
      expect(() => parseApprovalPolicy({ version: 1, rules: [rule, rule] }, "t")).to.throw(/rules\.1\.name: a is used by an earlier rule.*|rules\.0\.match\.asset/);
      expect(() => parseApprovalPolicy({ version: 1, rules: [rule] }, "t")).to.throw("rules.0.match.asset: is required with amount.above");
      expect(() => parseApprovalPolicy({ version: 1, timeZone: "Mars/Olympus", rules: [] }, "t")).to.throw(/timeZone: must be an IANA time zone/);
    });
  });

  describe("approvers", function () {
    const alice = "alice-token-0123456789abcdef";
    const bob = "bob-token-0123456789abcdef00";
    const approvers = Approvers.of([
      { name: "alice", hash: Buffer.from(hashToken(alice), "hex") },
      { name: "bob", hash: Buffer.from(hashToken(bob), "hex") },
    ]);

    it("names the approver whose token the header carries, and nobody for another token", function () {
      expect(approvers.byHeader(`Bearer ${alice}`)).to.deep.equal({ name: "alice" });
      expect(approvers.byHeader(`bearer ${bob}`)).to.deep.equal({ name: "bob" });
      expect(approvers.byHeader(`Bearer ${alice}x`)).to.equal(undefined);
      expect(approvers.byHeader(alice)).to.equal(undefined);
      expect(approvers.byHeader(undefined)).to.equal(undefined);
    });

    it("refuses two approvers with one token or one name", function () {
      const h = Buffer.from(hashToken(alice), "hex");
      expect(() => Approvers.of([{ name: "a", hash: h }, { name: "b", hash: h }])).to.throw(/same token/);
      expect(() => Approvers.load({ legacyToken: alice, legacyName: "x", file: undefined })).to.not.throw();
      expect(() => Approvers.of([{ name: "a", hash: h }, { name: "a", hash: Buffer.from(hashToken(bob), "hex") }])).to.throw(/configured twice/);
    });
  });
});
