/**
 * The breaker's rules (src/monitor/rules.ts) and the engine's stops (src/services/breaker.ts), at their edges: which
 * refusals count and when three make a trip, the spending window, which control changes flag, and the per-wallet
 * configuration. The rules read a real store (SQLite in memory); the breaker is a recorder, because what a trip does on
 * chain is the drills' subject (test/monitor/drills.spec.ts), not these edges'.
 */
import { expect } from "chai";
import { getAddress, type Address } from "viem";
import { MonitorRules, parseRulesConfig, type BudgetLimit } from "../../src/monitor/rules";
import type { ControlChange, ObservedBlock, ObservedExecution } from "../../src/monitor/types";
import { Stops, type Breaker, type TripCause } from "../../src/services/breaker";
import { SqliteStore, type Store } from "../../src/store";

const WALLET = getAddress("0x1111111111111111111111111111111111111111");
const OTHER_WALLET = getAddress("0x2222222222222222222222222222222222222222");
const KEY = getAddress("0x4444444444444444444444444444444444444444");
const OTHER_KEY = getAddress("0x5555555555555555555555555555555555555555");
const USDC = getAddress("0x6666666666666666666666666666666666666666");
const ALICE = getAddress("0x3333333333333333333333333333333333333333");

interface Fired {
  kind: string;
  wallet: Address;
  key: Address | null;
  cause: TripCause;
}

/** A breaker that records what the rules asked of it. */
function recorder(): { breaker: Breaker; fired: Fired[] } {
  const fired: Fired[] = [];
  const breaker = {
    async trip(kind: string, wallet: Address, key: Address | null, cause: TripCause) {
      fired.push({ kind, wallet, key, cause });
      return { incident: { id: `inc_${fired.length}` }, outcome: "sent", txHash: null };
    },
  } as unknown as Breaker;
  return { breaker, fired };
}

const block = (number: bigint, timestamp: bigint): ObservedBlock => ({ chainId: 31337, number, hash: "0x01", parentHash: "0x00", timestamp, transactionCount: 1 });

function execution(overrides: Partial<ObservedExecution> = {}): ObservedExecution {
  return {
    chainId: 31337,
    wallet: WALLET,
    digest: "0xd1",
    sessionKey: KEY,
    nonce: 1n,
    txHash: "0xt1",
    blockNumber: 10n,
    blockHash: "0x01",
    logIndex: 0,
    relayer: ALICE,
    gasUsed: 80_000n,
    decisionId: "op_1",
    simulated: [],
    actual: [],
    matchesSimulation: true,
    ...overrides,
  };
}

describe("the breaker's rules", function () {
  let store: Store;
  let fired: Fired[];
  let rules: MonitorRules;
  let budgets: BudgetLimit[];
  let now: number;

  function make(config = "{}") {
    const r = recorder();
    fired = r.fired;
    rules = new MonitorRules({
      chainId: 31337,
      store,
      breaker: r.breaker,
      rules: parseRulesConfig(config),
      budgets: async () => budgets,
      // The budget before a BudgetSet's block: `budgets` stands for the chain's state there.
      budgetAt: async (_wallet, token) => budgets.find((b) => b.token === token) ?? { limit: 0n, maxPerOperation: 0n },
      now: () => now,
    });
  }

  beforeEach(async function () {
    store = SqliteStore.open(":memory:");
    budgets = [{ token: USDC, limit: 1_000n, maxPerOperation: 500n }];
    now = Date.now();
    make();
  });
  afterEach(async function () {
    rules.stop();
    await store.close();
  });

  /** A refusal record as the engine appends it (with the verified session key). */
  const refusal = (code: string, digest: string, key = KEY, wallet = WALLET) =>
    store.appendAudit("refusal", digest, { chainId: 31337, wallet, sessionKey: key, nonce: "1", digest, code, message: "m" });
  /** A rejected decision's audit record. */
  const rejected = (codes: string[], digest: string, key = KEY) =>
    store.appendAudit("decision", "op_x", { chainId: 31337, wallet: WALLET, sessionKey: key, digest, status: "rejected", reasons: codes.map((code) => ({ code, message: "m" })) });

  describe("rule 3: refusals that mean manipulation, per session key", function () {
    it("revokes the key at the third refusal within the window, naming the refusals that counted", async function () {
      await rejected(["INTENT_MISMATCH"], "0xa1");
      await refusal("BOUNDS_MISMATCH", "0xa2");
      await rules.scanRefusals();
      expect(fired, "two are not enough").to.deep.equal([]);
      await rejected(["RECIPIENT_NOT_ALLOWED"], "0xa3");
      await rules.scanRefusals();
      expect(fired).to.have.length(1);
      expect(fired[0]).to.deep.include({ kind: "revoke", wallet: WALLET, key: KEY });
      expect(fired[0]!.cause.rule).to.equal("refusal_burst");
      const counted = (fired[0]!.cause.evidence as { refusals: { digest: string; codes: string[] }[] }).refusals;
      expect(counted.map((r) => r.digest)).to.deep.equal(["0xa1", "0xa2", "0xa3"]);
    });

    it("counts a proposal refused again (same digest) once", async function () {
      for (let i = 0; i < 3; i++) await refusal("INTENT_MISMATCH", "0xsame");
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
    });

    it("does not count refusals that do not mean manipulation (budget, nonce, expiry)", async function () {
      await refusal("OVER_BUDGET", "0xb1");
      await refusal("NONCE_USED", "0xb2");
      await rejected(["ABOVE_REVIEW_THRESHOLD"], "0xb3");
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
    });

    it("keeps keys apart: three refusals spread over two keys trip nothing", async function () {
      await refusal("INTENT_MISMATCH", "0xc1", KEY);
      await refusal("INTENT_MISMATCH", "0xc2", OTHER_KEY);
      await refusal("INTENT_MISMATCH", "0xc3", KEY);
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
      expect(rules.counted(WALLET, KEY)).to.have.length(2);
    });

    it("forgets refusals older than the window", async function () {
      make(JSON.stringify({ default: { refusalBurst: { windowSeconds: 1 } } }));
      await refusal("INTENT_MISMATCH", "0xe1");
      await refusal("INTENT_MISMATCH", "0xe2");
      await rules.scanRefusals();
      await new Promise((r) => setTimeout(r, 1_100));
      now = Date.now();
      await refusal("INTENT_MISMATCH", "0xe3");
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
      expect(rules.counted(WALLET, KEY).map((r) => r.digest)).to.deep.equal(["0xe3"]);
    });

    it("reads refusals other replicas recorded in the shared store, from before it started (within the window)", async function () {
      await refusal("INTENT_MISMATCH", "0xf1");
      await refusal("UNDECLARED_OUTFLOW", "0xf2");
      await refusal("STANDING_APPROVAL", "0xf3");
      make(); // a fresh process: nothing in memory
      await rules.scanRefusals();
      expect(fired.map((f) => f.kind)).to.deep.equal(["revoke"]);
    });

    it("starts counting afresh once an operator cleared the wallet", async function () {
      await refusal("INTENT_MISMATCH", "0x31");
      await refusal("INTENT_MISMATCH", "0x32");
      await store.clearAnomaly(31337, WALLET, "on-call");
      await refusal("INTENT_MISMATCH", "0x33");
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
      expect(rules.counted(WALLET, KEY).map((r) => r.digest)).to.deep.equal(["0x33"]);
    });

    it("follows the wallet's configuration: a count of 2, or the rule off", async function () {
      make(JSON.stringify({ wallets: { [WALLET.toLowerCase()]: { refusalBurst: { count: 2 } } } }));
      await refusal("INTENT_MISMATCH", "0x11");
      await refusal("INTENT_MISMATCH", "0x12");
      await rules.scanRefusals();
      expect(fired).to.have.length(1);
      make(JSON.stringify({ default: { refusalBurst: { action: "off" } } }));
      for (const d of ["0x21", "0x22", "0x23"]) await refusal("INTENT_MISMATCH", d);
      await rules.scanRefusals();
      expect(fired).to.deep.equal([]);
    });
  });

  describe("rules 1 and 2: executions", function () {
    it("pauses on an execution with no approved decision", async function () {
      await rules.onExecution(execution({ decisionId: null, simulated: null, matchesSimulation: null, digest: "0xleak" }), block(10n, 100n));
      expect(fired).to.have.length(1);
      expect(fired[0]).to.deep.include({ kind: "pause", wallet: WALLET, key: null });
      expect(fired[0]!.cause).to.deep.include({ rule: "unattributed_execution" });
      expect(fired[0]!.cause.evidence).to.deep.include({ digest: "0xleak" });
      expect(fired[0]!.cause.offendingBlock).to.deep.equal({ number: 10n, timestamp: 100n });
    });

    it("pauses when what changed is not what was simulated, with both in the evidence", async function () {
      const simulated = [{ account: ALICE, asset: "native", delta: 5n }];
      const actual = [{ account: OTHER_WALLET, asset: "native", delta: 5n }];
      await rules.onExecution(execution({ simulated, actual, matchesSimulation: false }), block(10n, 100n));
      expect(fired.map((f) => [f.kind, f.cause.rule])).to.deep.equal([["pause", "simulation_mismatch"]]);
      expect(fired[0]!.cause.evidence).to.deep.include({ expected: simulated, actual });
    });

    it("leaves an attributed, matching execution alone", async function () {
      await rules.onExecution(execution(), block(10n, 100n));
      expect(fired).to.deep.equal([]);
    });
  });

  describe("rule 4: spending velocity", function () {
    const spend = (amount: bigint, ts: bigint, digest: `0x${string}`) =>
      rules.onExecution(execution({ digest, actual: [{ account: WALLET, asset: USDC, delta: -amount }] }), block(ts, ts));

    it("flags the wallet once more than half a budget left within the window, not at exactly half", async function () {
      await spend(300n, 1_000n, "0x1");
      await spend(200n, 1_100n, "0x2");
      expect(fired, "exactly 50% is allowed").to.deep.equal([]);
      await spend(1n, 1_200n, "0x3");
      expect(fired.map((f) => [f.kind, f.cause.rule])).to.deep.equal([["flag", "spending_velocity"]]);
      expect(fired[0]!.cause.evidence).to.deep.include({ total: 501n, limit: 1_000n });
    });

    it("does not add up spending further apart than the window", async function () {
      await spend(300n, 1_000n, "0x1");
      await spend(300n, 1_600n, "0x2");
      expect(fired).to.deep.equal([]);
      await spend(300n, 1_601n, "0x3");
      expect(fired).to.have.length(1);
    });

    it("counts only the wallet's own outflow of a budgeted asset", async function () {
      await rules.onExecution(execution({ actual: [{ account: ALICE, asset: USDC, delta: -900n }] }), block(1n, 1n));
      await rules.onExecution(execution({ actual: [{ account: WALLET, asset: USDC, delta: 900n }] }), block(2n, 2n));
      await rules.onExecution(execution({ actual: [{ account: WALLET, asset: ALICE, delta: -900n }] }), block(3n, 3n));
      expect(fired).to.deep.equal([]);
    });
  });

  describe("rule 5: control changes", function () {
    const change = (event: string, args: Record<string, string | boolean> = {}): ControlChange => ({
      chainId: 31337,
      wallet: WALLET,
      event,
      args,
      txHash: "0xc",
      blockNumber: 5n,
      logIndex: 0,
    });

    it("flags on a session key added, a co-signer changed, a guardian added, an ownership transfer", async function () {
      for (const e of ["SessionKeyAdded", "CosignerChanged", "GuardianAdded", "OwnershipTransferStarted"]) await rules.onControlChange(change(e), block(5n, 5n));
      expect(fired.map((f) => [f.kind, f.cause.rule])).to.deep.equal(Array(4).fill(["flag", "control_change"]));
    });

    it("ignores a revocation, an allowlist change and a lowered budget; flags a raised one", async function () {
      await rules.onControlChange(change("SessionKeyRevoked"), block(5n, 5n));
      await rules.onControlChange(change("RecipientSet", { allowed: true }), block(5n, 5n));
      await rules.onControlChange(change("BudgetSet", { token: USDC, limit: "800", period: "86400", maxPerOperation: "500" }), block(5n, 5n));
      expect(fired).to.deep.equal([]);
      await rules.onControlChange(change("BudgetSet", { token: USDC, limit: "800", period: "86400", maxPerOperation: "600" }), block(6n, 6n));
      expect(fired.map((f) => f.cause.rule)).to.deep.equal(["control_change"]);
    });

    it("when configured, flags an allowlist widened (RecipientSet, CallPermissionSet allowed), not one narrowed", async function () {
      make(JSON.stringify({ default: { controlChange: { events: ["RecipientSet", "CallPermissionSet"] } } }));
      await rules.onControlChange(change("RecipientSet", { recipient: ALICE, allowed: false }), block(5n, 5n));
      await rules.onControlChange(change("CallPermissionSet", { target: ALICE, selector: "0x12345678", allowed: false }), block(5n, 5n));
      expect(fired).to.deep.equal([]);
      await rules.onControlChange(change("RecipientSet", { recipient: ALICE, allowed: true }), block(5n, 5n));
      await rules.onControlChange(change("CallPermissionSet", { target: ALICE, selector: "0x12345678", allowed: true }), block(5n, 5n));
      expect(fired.map((f) => f.cause.evidence?.event)).to.deep.equal(["RecipientSet", "CallPermissionSet"]);
    });
  });

  describe("MONITOR_RULES", function () {
    it("gives the issue's defaults", function () {
      const r = parseRulesConfig().of(WALLET);
      expect(r).to.deep.include({ unattributedExecution: "pause", simulationMismatch: "pause" });
      expect(r.refusalBurst).to.deep.include({ action: "revoke", count: 3, windowSeconds: 600 });
      expect(r.spendingVelocity).to.deep.equal({ action: "flag", share: 0.5, windowSeconds: 600 });
      expect(r.controlChange.action).to.equal("flag");
    });

    it("merges a wallet's overrides field by field over the defaults", function () {
      const rules = parseRulesConfig(JSON.stringify({ default: { spendingVelocity: { share: 0.3 } }, wallets: { [WALLET]: { spendingVelocity: { windowSeconds: 60 } } } }));
      expect(rules.of(WALLET).spendingVelocity).to.deep.equal({ action: "flag", share: 0.3, windowSeconds: 60 });
      expect(rules.of(OTHER_WALLET).spendingVelocity).to.deep.equal({ action: "flag", share: 0.3, windowSeconds: 600 });
    });

    it("refuses an unknown rule or a share above 1, naming the field", function () {
      expect(() => parseRulesConfig(JSON.stringify({ default: { velocity: {} } }))).to.throw(/MONITOR_RULES default: .*velocity/);
      expect(() => parseRulesConfig(JSON.stringify({ wallets: { [WALLET]: { spendingVelocity: { share: 2 } } } }))).to.throw(/spendingVelocity\.share/);
      expect(() => parseRulesConfig(JSON.stringify({ wallets: { nope: {} } }))).to.throw(/wallets\.nope/);
    });
  });
});

describe("the engine's stops (co-signing stops before the breaker's transaction is mined)", function () {
  it("refuses a stopped wallet with WALLET_PAUSED until the fork's state includes the mined block", function () {
    const stops = new Stops();
    stops.stop(WALLET, null, "inc_1");
    expect(stops.check(WALLET, KEY, 100n)?.code).to.equal("WALLET_PAUSED");
    stops.settle(WALLET, null, 105n);
    expect(stops.check(WALLET, KEY, 104n)?.code, "the fork has not seen the pause yet").to.equal("WALLET_PAUSED");
    expect(stops.check(WALLET, KEY, 105n)).to.equal(undefined);
    expect(stops.isStopped(WALLET)).to.equal(false);
  });

  it("refuses only the stopped key of a wallet; its other keys and other wallets go on", function () {
    const stops = new Stops();
    stops.stop(WALLET, KEY, "inc_2");
    expect(stops.check(WALLET, KEY, 1n)?.code).to.equal("UNKNOWN_SESSION_KEY");
    expect(stops.check(WALLET, OTHER_KEY, 1n)).to.equal(undefined);
    expect(stops.check(OTHER_WALLET, KEY, 1n)).to.equal(undefined);
  });

  it("keeps a stop whose transaction never mined until an operator lifts it", function () {
    const stops = new Stops();
    stops.stop(WALLET, null, "inc_3");
    stops.stop(WALLET, KEY, "inc_4");
    expect(stops.check(WALLET, KEY, 10n ** 9n)?.code).to.equal("WALLET_PAUSED");
    stops.lift(WALLET);
    expect(stops.check(WALLET, KEY, 1n)).to.equal(undefined);
  });
});
