/**
 * The rules that trip the breaker (issue 10), configurable per wallet (MONITOR_RULES):
 * 1. `unattributedExecution`: an `Executed` digest with no approved decision — the co-signer key was used outside
 *    the service. Pause.
 * 2. `simulationMismatch`: what an execution actually changed differs from what its decision's simulation recorded.
 *    Pause.
 * 3. `refusalBurst`: one session key collects `count` refusals that mean manipulation within `windowSeconds`.
 *    Revoke that key on chain; the wallet's other keys keep working.
 * 4. `spendingVelocity`: more than `share` of a budget leaves the wallet within `windowSeconds`. Flag the wallet:
 *    every later operation waits for a person until an operator clears it.
 * 5. `controlChange`: the wallet's own control changes on chain (owner, co-signer, guardians, a session key added,
 *    a budget raised). Flag the wallet.
 * Rules 1, 2, 4 and 5 act on what the chain follower (follower.ts) tells its handlers. Rule 3 reads refusals from the
 * audit log (the "refusal" records the engine appends with the verified session key, and rejected "decision"
 * records), not from in-process events, so it counts the refusals of every replica that shares the store; an
 * operator's clearing of the wallet ("anomaly.cleared") starts its keys' counts afresh and lifts this process's stops.
 *
 * A trip is never lost: rules 1 and 2 are reconciled from the store (the executions recorded in the recent window
 * whose digest no handled incident names) at start, on the first block, and after every failed or stuck trip, with
 * backoff. Rule 4's window is rebuilt from the store at start; rule 5 compares a BudgetSet with the budget at the block
 * before it. Rule 2 flags instead of pausing when only native ETH differs in a block of several transactions (ETH is
 * measured per block: anyone can move it).
 */
import type { Logger } from "pino";
import { getAddress, type Address } from "viem";
import { z } from "zod";
import type { Breaker, Stops, TripCause } from "../services/breaker";
import type { AuditRecord, Incident, IncidentActionKind, Store } from "../store";
import type { AssetChange } from "../simulation/changes";
import type { ControlChange, MonitorHandler, ObservedBlock, ObservedExecution } from "./types";

/** Reason codes that mean someone tried to make the co-signer sign what the agent did not say it does. */
export const MANIPULATION_CODES = [
  "INTENT_MISMATCH",
  "UNDECLARED_OUTFLOW",
  "STANDING_APPROVAL",
  "WALLET_STATE_CHANGED",
  "CONTROL_CHANGED",
  "RECIPIENT_NOT_ALLOWED",
  "BOUNDS_MISMATCH",
] as const;

/** Control events that flag a wallet by default ("BudgetSet" only when it raises a limit or a cap). */
export const DEFAULT_CONTROL_EVENTS = [
  "OwnershipTransferStarted",
  "OwnershipTransferred",
  "CosignerChanged",
  "GuardianAdded",
  "GuardianRemoved",
  "SessionKeyAdded",
  "BudgetSet",
] as const;

const trip = z.enum(["pause", "flag", "off"]);

/** One wallet's rules, with the issue's defaults. */
export const ruleSetSchema = z
  .object({
    unattributedExecution: trip.default("pause"),
    simulationMismatch: trip.default("pause"),
    refusalBurst: z
      .object({
        action: z.enum(["revoke", "pause", "flag", "off"]).default("revoke"),
        count: z.number().int().positive().default(3),
        windowSeconds: z.number().int().positive().default(600),
        codes: z.array(z.string()).default([...MANIPULATION_CODES]),
      })
      .strict()
      .default({ action: "revoke", count: 3, windowSeconds: 600, codes: [...MANIPULATION_CODES] }),
    spendingVelocity: z
      .object({
        action: trip.default("flag"),
        /** Share of a budget's limit (0–1]. */
        share: z.number().gt(0).max(1).default(0.5),
        windowSeconds: z.number().int().positive().default(600),
      })
      .strict()
      .default({ action: "flag", share: 0.5, windowSeconds: 600 }),
    controlChange: z
      .object({ action: trip.default("flag"), events: z.array(z.string()).default([...DEFAULT_CONTROL_EVENTS]) })
      .strict()
      .default({ action: "flag", events: [...DEFAULT_CONTROL_EVENTS] }),
  })
  .strict();

export type RuleSet = z.output<typeof ruleSetSchema>;

/** MONITOR_RULES: defaults for every wallet, and overrides per wallet (merged field by field). */
const rulesConfigSchema = z
  .object({
    default: z.record(z.string(), z.unknown()).default({}),
    wallets: z.record(z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address"), z.record(z.string(), z.unknown())).default({}),
  })
  .strict();

/**
 * The rules per wallet, from MONITOR_RULES (JSON). Throws one error naming every bad field.
 * @example const rules = parseRulesConfig('{"wallets":{"0xabc…":{"spendingVelocity":{"share":0.25}}}}'); rules.of(wallet)
 */
export function parseRulesConfig(json = "{}"): { of(wallet: string): RuleSet } {
  const parsed = rulesConfigSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`MONITOR_RULES: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const check = (value: unknown, where: string): RuleSet => {
    const r = ruleSetSchema.safeParse(value);
    if (!r.success) throw new Error(`MONITOR_RULES ${where}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return r.data;
  };
  const base = check(parsed.data.default, "default");
  const perWallet = new Map<string, RuleSet>();
  for (const [wallet, overrides] of Object.entries(parsed.data.wallets)) {
    perWallet.set(getAddress(wallet), check(merge(base, overrides), `wallets.${wallet}`));
  }
  return { of: (wallet) => perWallet.get(getAddress(wallet)) ?? base };
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    out[k] = b && typeof b === "object" && !Array.isArray(b) && v && typeof v === "object" && !Array.isArray(v) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** A budget as the rules need it: the asset ("native" or a token) and its limit (base units). */
export interface BudgetLimit {
  token: string;
  limit: bigint;
  maxPerOperation: bigint;
}

export interface RulesOptions {
  chainId: number;
  store: Store;
  breaker: Breaker;
  rules: { of(wallet: string): RuleSet };
  /** The wallet's budgets now (read on the fork). */
  budgets: (wallet: Address) => Promise<BudgetLimit[]>;
  /**
   * A wallet's budget for `token` (the address the BudgetSet event names) at block `blockNumber` of the upstream:
   * rule 5 compares a BudgetSet with the budget before its block. Without it, the previous BudgetSet the store
   * recorded is the comparison (none recorded: the change counts as a raise).
   */
  budgetAt?: (wallet: Address, token: Address, blockNumber: bigint) => Promise<{ limit: bigint; maxPerOperation: bigint }>;
  /** The follower whose position bounds the reconciliation window (default "monitor"). */
  follower?: string;
  /** Blocks below the follower's position the reconciliation scans (default 5 000). */
  reconcileBlocks?: number;
  /** First delay before a failed trip is tried again (ms, default 1 000; doubled each time, at most 300 000). */
  retryMs?: number;
  /** After how long a trip whose transaction got no receipt is tried again (ms, default 30 000: the breaker's resendAfterMs). */
  resendAfterMs?: number;
  /** A block's timestamp (unix seconds) on the upstream: rule 4's window is rebuilt from the store at start with it. */
  blockTimestamp?: (blockNumber: bigint) => Promise<bigint>;
  /** The engine's stops in this process: an "anomaly.cleared" record (from any replica) lifts the wallet's. */
  stops?: Stops;
  /** How often the audit log is read for new refusals (ms, default 250); also on every block. */
  pollMs?: number;
  /** Wall clock (ms); tests may pin it. */
  now?: () => number;
  logger?: Logger;
}

/** One refusal counted against a session key. */
export interface CountedRefusal {
  seq: number;
  at: string;
  kind: string;
  digest: string | null;
  codes: string[];
}

/**
 * The breaker's rules: a monitor handler (rules 1, 2, 4, 5) and a reader of the audit log (rule 3).
 * @example const rules = new MonitorRules({ chainId, store, breaker, rules: parseRulesConfig(), budgets }); rules.attach(service.monitor)
 */
export class MonitorRules implements MonitorHandler {
  private readonly logger?: Logger;
  private readonly now: () => number;
  /** Refusals per "wallet:key" in the window. */
  private readonly refusals = new Map<string, CountedRefusal[]>();
  /** Outflows per "wallet:asset" in the window (chain seconds). */
  private readonly outflows = new Map<string, { at: bigint; amount: bigint; digest: string; block: bigint }[]>();
  /** The last budgets seen per wallet (spending velocity's limits). */
  private readonly knownBudgets = new Map<string, Map<string, BudgetLimit>>();
  /** Rule 4's window rebuilt from the store (once, at the first execution told). */
  private windowRebuilt?: Promise<void>;
  /** The last BudgetSet handled per "wallet:asset" (a second BudgetSet of one block compares with the first). */
  private readonly lastBudgetSet = new Map<string, { block: bigint; logIndex: number; limit: bigint; maxPerOperation: bigint }>();
  private cursor: number | undefined;
  private scanning?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** Reconciliation: one at a time, again after a failed trip (with backoff). */
  private reconciling?: Promise<number>;
  private reconcileAgain = false;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private reconciledOnBlock = false;
  private stopped = false;

  constructor(private readonly options: RulesOptions) {
    this.logger = options.logger?.child({ component: "rules" });
    this.now = options.now ?? Date.now;
  }

  /**
   * Adds the rules to the follower (if any) and starts reading refusals from the audit log.
   * @example rules.attach(service.monitor)
   */
  attach(monitor: { addHandler(h: MonitorHandler): void } | null | undefined): void {
    monitor?.addHandler(this);
    this.start();
  }

  /** Starts reading refusals every `pollMs` and reconciles what was recorded but never tripped (idempotent). */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => void this.scanRefusals().catch((err) => this.logger?.error({ err }, "rules: reading refusals failed")), this.options.pollMs ?? 250);
    this.timer.unref();
    this.reconcileLater(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
  }

  /**
   * Trips for rules 1 and 2 on the executions the store recorded in the recent window whose trip never happened: no
   * incident with a transaction confirmed (or already in force, or a flag) names their digest. This covers a monitor
   * that died between recording a block and telling its handlers, and a trip that failed (store, fork, guardian);
   * it runs at start, on the first block, and after every failed trip (backoff). Returns the trips attempted.
   * @example await rules.reconcile()
   */
  async reconcile(): Promise<number> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      let attempted = 0;
      do {
        this.reconcileAgain = false;
        attempted += await this.reconcileOnce();
      } while (this.reconcileAgain);
      return attempted;
    })().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<number> {
    const { store, chainId } = this.options;
    const position = await store.position(chainId, this.options.follower ?? "monitor");
    const window = BigInt(this.options.reconcileBlocks ?? 5_000);
    const from = position && position.blockNumber > window ? position.blockNumber - window : 0n;
    const suspects = (await store.executionsFrom(chainId, from)).filter((e) => {
      const rules = this.options.rules.of(e.wallet);
      return (e.decisionId === null && rules.unattributedExecution !== "off") || (e.decisionId !== null && e.matchesSimulation === false && rules.simulationMismatch !== "off");
    });
    if (suspects.length === 0) return 0;
    // Handled: an incident names the digest and its action holds (mined, already in force, a flag), or its
    // transaction is in flight and not yet stuck (the breaker sends a stuck one again when tripped after resendAfterMs),
    // or a person resolved it.
    const handled = new Set<string>();
    const stuckAfter = this.options.resendAfterMs ?? 30_000;
    const holds = (a: Incident["actions"][number]) =>
      a.status === "confirmed" || a.status === "already_done" || a.status === "none" || ((a.status === "submitted" || a.status === "sending") && this.now() - Date.parse(a.at) < stuckAfter);
    for (const wallet of new Set(suspects.map((e) => getAddress(e.wallet)))) {
      for (const incident of await store.listIncidents({ chainId, wallet, limit: 1_000 })) {
        const last = incident.actions.at(-1);
        // A person resolved it: their call stands (e.g. they paused by hand and the owner has since resumed).
        const decided = incident.state === "resolved";
        if (!decided && !incident.actions.some((a) => a.status !== "submitted" && a.status !== "sending" && holds(a)) && !(last && holds(last))) continue;
        for (const ev of incident.evidence) if (typeof ev.digest === "string") handled.add(`${wallet}:${ev.digest.toLowerCase()}`);
      }
    }
    let attempted = 0;
    for (const e of suspects) {
      const wallet = getAddress(e.wallet);
      if (handled.has(`${wallet}:${e.digest.toLowerCase()}`)) continue;
      attempted += 1;
      const rules = this.options.rules.of(wallet);
      const base = { digest: e.digest, txHash: e.txHash, blockNumber: e.blockNumber, sessionKey: e.sessionKey, nonce: e.nonce, relayer: e.relayer, reconciled: true };
      this.logger?.warn({ wallet, digest: e.digest, block: e.blockNumber.toString() }, "rules: a recorded execution was never tripped for; tripping now");
      if (e.decisionId === null) {
        if (rules.unattributedExecution === "off") continue;
        await this.fire(rules.unattributedExecution, wallet, null, {
          rule: "unattributed_execution",
          reason: `execution ${e.digest} (tx ${e.txHash}) has no approved decision: the co-signer key was used outside the service`,
          evidence: { ...base, actual: e.changes },
        });
      } else {
        // The block's other transactions are not known here: a mismatch of native ETH alone flags (a person decides), as in a crowded block.
        const simulated = (e.simulated ?? []).map(parsed);
        const actual = e.changes.map(parsed);
        const nativeOnly = mismatching(simulated, actual).every((k) => k.endsWith(":native"));
        if (rules.simulationMismatch === "off") continue;
        await this.fire(nativeOnly && rules.simulationMismatch === "pause" ? "flag" : rules.simulationMismatch, wallet, null, {
          rule: "simulation_mismatch",
          reason: `execution ${e.digest} (decision ${e.decisionId}) changed balances other than its simulation showed`,
          evidence: { ...base, decisionId: e.decisionId, expected: e.simulated, actual: e.changes },
        });
      }
    }
    return attempted;
  }

  /** Reconciles after `ms` (a failed trip: with backoff); one timer at a time. */
  private reconcileLater(ms?: number): void {
    if (this.stopped || this.retryTimer) return;
    const delay = ms ?? Math.min(300_000, (this.options.retryMs ?? 1_000) * 2 ** Math.min(this.failures++, 12));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile().then(
        () => undefined,
        (err: unknown) => {
          this.logger?.error({ err: (err as Error).message }, "rules: reconciling failed; trying again");
          this.reconcileLater();
        },
      );
    }, delay);
    this.retryTimer.unref();
  }

  /** Rules 1, 2 and 4 on one execution. */
  async onExecution(e: ObservedExecution, block: ObservedBlock): Promise<void> {
    if (e.chainId !== this.options.chainId) return;
    const rules = this.options.rules.of(e.wallet);
    const offendingBlock = { number: block.number, timestamp: block.timestamp };
    const base = { digest: e.digest, txHash: e.txHash, blockNumber: e.blockNumber, sessionKey: e.sessionKey, nonce: e.nonce, relayer: e.relayer };
    if (e.decisionId === null && rules.unattributedExecution !== "off") {
      await this.fire(rules.unattributedExecution, e.wallet, null, {
        rule: "unattributed_execution",
        reason: `execution ${e.digest} (tx ${e.txHash}) has no approved decision: the co-signer key was used outside the service`,
        evidence: { ...base, actual: e.actual },
        offendingBlock,
      });
    } else if (e.matchesSimulation === false && rules.simulationMismatch !== "off") {
      // ETH changes are measured per block (attribution.ts): in a block with other transactions anyone can move them
      // (1 wei to a payee), so a mismatch of native ETH alone there flags the wallet for a person instead of pausing.
      const pairs = mismatching(e.simulated ?? [], e.actual);
      const crowded = pairs.every((k) => k.endsWith(":native")) && block.transactionCount > 1;
      const action = crowded && rules.simulationMismatch === "pause" ? "flag" : rules.simulationMismatch;
      await this.fire(action, e.wallet, null, {
        rule: "simulation_mismatch",
        reason: crowded
          ? `execution ${e.digest} (decision ${e.decisionId}) moved ETH other than its simulation showed, in a block of ${block.transactionCount} transactions (which can move the same balances): a person decides`
          : `execution ${e.digest} (decision ${e.decisionId}) changed balances other than its simulation showed`,
        evidence: { ...base, decisionId: e.decisionId, expected: e.simulated, actual: e.actual, mismatching: pairs, transactionCount: block.transactionCount },
        offendingBlock,
      });
    }
    await this.checkVelocity(e, block, rules);
  }

  /** Rule 5 on one control change. */
  async onControlChange(change: ControlChange, block: ObservedBlock): Promise<void> {
    if (change.chainId !== this.options.chainId) return;
    const rules = this.options.rules.of(change.wallet);
    const raised = change.event === "BudgetSet" ? await this.budgetRaised(change) : !(change.event in ALLOWED_ONLY) || change.args.allowed === true;
    if (rules.controlChange.action === "off" || !rules.controlChange.events.includes(change.event) || !raised) return;
    await this.fire(rules.controlChange.action, change.wallet, null, {
      rule: "control_change",
      reason: `${change.event} on chain outside the service (tx ${change.txHash}): every operation needs a person until cleared`,
      evidence: { event: change.event, args: change.args, txHash: change.txHash, blockNumber: change.blockNumber },
      offendingBlock: { number: block.number, timestamp: block.timestamp },
    });
  }

  /** Rule 3 on every block as well as on its timer; the first block (the follower runs) reconciles as well. */
  async onBlock(): Promise<void> {
    if (!this.reconciledOnBlock) {
      this.reconciledOnBlock = true;
      await this.reconcile().catch((err: unknown) => {
        this.logger?.error({ err: (err as Error).message }, "rules: reconciling failed; trying again");
        this.reconcileLater();
      });
    }
    await this.scanRefusals();
  }

  /** A reorg drops the outflows counted from the dropped blocks. */
  async onReorg(fromBlock: bigint): Promise<void> {
    for (const [id, list] of this.outflows) this.outflows.set(id, list.filter((o) => o.block < fromBlock));
  }

  /**
   * Reads the audit log from where it stopped and counts refusals per session key (rule 3). One scan at a time.
   * @example await rules.scanRefusals()
   */
  async scanRefusals(): Promise<void> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** The refusals counted against a key now (tests, the runbook's "what to check"). */
  counted(wallet: Address, key: Address): CountedRefusal[] {
    return [...(this.refusals.get(`${getAddress(wallet)}:${getAddress(key)}`) ?? [])];
  }

  private async scan(): Promise<void> {
    const { store } = this.options;
    if (this.cursor === undefined) {
      // From the start: the refusals still inside the longest window count (older records are read and dropped).
      const head = await store.auditHead();
      this.cursor = Math.max(0, head.seq - 10_000);
    }
    for (;;) {
      const page = await store.listAudit(this.cursor, 500);
      for (const record of page) {
        this.cursor = record.seq;
        await this.countRefusal(record);
      }
      if (page.length < 500) break;
    }
  }

  private async countRefusal(record: AuditRecord): Promise<void> {
    const p = record.payload as { chainId?: number; wallet?: string; sessionKey?: string; digest?: string; code?: string; status?: string; reasons?: { code: string }[] };
    if (p?.chainId !== this.options.chainId || !p.wallet) return;
    if (record.kind === "anomaly.cleared") {
      // An operator looked at the wallet and cleared it (on any replica): this process's stops lift (those set before
      // the clear), and its keys start counting afresh.
      this.options.stops?.lift(getAddress(p.wallet), Date.parse(record.at));
      const prefix = `${getAddress(p.wallet)}:`;
      for (const id of [...this.refusals.keys()]) if (id.startsWith(prefix)) this.refusals.delete(id);
      return;
    }
    if (!p.sessionKey) return;
    let codes: string[];
    if (record.kind === "refusal" && p.code) codes = [p.code];
    else if (record.kind === "decision" && p.status === "rejected") codes = (p.reasons ?? []).map((r) => r.code);
    else return;
    const wallet = getAddress(p.wallet);
    const key = getAddress(p.sessionKey);
    const rule = this.options.rules.of(wallet).refusalBurst;
    const counted = codes.filter((c) => rule.codes.includes(c));
    if (rule.action === "off" || counted.length === 0) return;
    const id = `${wallet}:${key}`;
    const windowStart = this.now() - rule.windowSeconds * 1000;
    const list = (this.refusals.get(id) ?? []).filter((r) => Date.parse(r.at) >= windowStart);
    if (Date.parse(record.at) < windowStart) return;
    // A proposal refused again (the same digest) is one proposal.
    if (!list.some((r) => r.digest !== null && r.digest === (p.digest ?? null))) {
      list.push({ seq: record.seq, at: record.at, kind: record.kind, digest: p.digest ?? null, codes: counted });
    }
    this.refusals.set(id, list);
    if (list.length < rule.count) return;
    this.refusals.delete(id);
    await this.fire(rule.action, wallet, rule.action === "revoke" ? key : null, {
      rule: "refusal_burst",
      reason: `session key ${key} collected ${list.length} refusals that mean manipulation within ${rule.windowSeconds} s`,
      evidence: { sessionKey: key, refusals: list },
    });
  }

  private async checkVelocity(e: ObservedExecution, block: ObservedBlock, rules: RuleSet): Promise<void> {
    const rule = rules.spendingVelocity;
    if (rule.action === "off") return;
    await (this.windowRebuilt ??= this.rebuildWindow(block.number));
    const wallet = getAddress(e.wallet);
    const out = new Map<string, bigint>();
    for (const c of e.actual) if (getAddress(c.account) === wallet && c.delta < 0n) out.set(assetId(c.asset), (out.get(assetId(c.asset)) ?? 0n) - c.delta);
    if (out.size === 0) return;
    let budgets: BudgetLimit[];
    try {
      budgets = await this.options.budgets(wallet);
      this.remember(wallet, budgets);
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message, wallet }, "rules: budgets unreadable; spending velocity not checked");
      return;
    }
    const since = block.timestamp - BigInt(rule.windowSeconds);
    const shareBp = BigInt(Math.round(rule.share * 10_000));
    for (const [asset, amount] of out) {
      const id = `${wallet}:${asset}`;
      const list = (this.outflows.get(id) ?? []).filter((o) => o.at > since);
      list.push({ at: block.timestamp, amount, digest: e.digest, block: block.number });
      this.outflows.set(id, list);
      const budget = budgets.find((b) => assetId(b.token) === asset);
      if (!budget || budget.limit === 0n) continue;
      const total = list.reduce((s, o) => s + o.amount, 0n);
      if (total * 10_000n <= shareBp * budget.limit) continue;
      await this.fire(rule.action, wallet, null, {
        rule: "spending_velocity",
        reason: `${total} of ${asset === "native" ? "ETH" : asset} left the wallet within ${rule.windowSeconds} s: more than ${rule.share * 100}% of its budget (${budget.limit})`,
        evidence: { asset, total, limit: budget.limit, share: rule.share, windowSeconds: rule.windowSeconds, executions: list.map((o) => ({ digest: o.digest, amount: o.amount, block: o.block })) },
        offendingBlock: { number: block.number, timestamp: block.timestamp },
      });
      this.outflows.set(id, []);
    }
  }

  /**
   * Rule 4's window after a restart: the outflows of the executions the store recorded within each wallet's window
   * before block `upTo` (block timestamps read with `blockTimestamp`), so a burst that straddles a restart still counts
   * whole. Block `upTo` and later ones are told by the follower.
   */
  private async rebuildWindow(upTo: bigint): Promise<void> {
    const { store, chainId, blockTimestamp } = this.options;
    if (!blockTimestamp) return;
    try {
      const head = await blockTimestamp(upTo);
      const window = BigInt(this.options.reconcileBlocks ?? 5_000);
      const from = upTo > window ? upTo - window : 0n;
      const times = new Map<bigint, bigint>();
      for (const e of await store.executionsFrom(chainId, from)) {
        const rule = this.options.rules.of(e.wallet).spendingVelocity;
        const wallet = getAddress(e.wallet);
        if (rule.action === "off" || e.blockNumber >= upTo) continue;
        if (!times.has(e.blockNumber)) times.set(e.blockNumber, await blockTimestamp(e.blockNumber));
        const at = times.get(e.blockNumber)!;
        if (at <= head - BigInt(rule.windowSeconds)) continue;
        for (const c of e.changes) {
          if (getAddress(c.account) !== wallet || !c.delta.startsWith("-")) continue;
          const id = `${wallet}:${assetId(c.asset)}`;
          this.outflows.set(id, [...(this.outflows.get(id) ?? []), { at, amount: -BigInt(c.delta), digest: e.digest, block: e.blockNumber }]);
        }
      }
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, "rules: the spending window could not be rebuilt from the store; it starts empty");
    }
  }

  /**
   * Whether a BudgetSet raises the limit or the cap above the budget before it: the previous BudgetSet of the same
   * block seen here, else the budget at the parent block (budgetAt), else the previous BudgetSet the store recorded;
   * when none can be read, it counts as raised.
   */
  private async budgetRaised(change: ControlChange): Promise<boolean> {
    const wallet = getAddress(change.wallet);
    const rawToken = String(change.args.token ?? "");
    const token = assetId(rawToken);
    const limit = BigInt(String(change.args.limit ?? "0"));
    const cap = BigInt(String(change.args.maxPerOperation ?? "0"));
    const id = `${wallet}:${token}`;
    let before: { limit: bigint; maxPerOperation: bigint } | undefined;
    const seen = this.lastBudgetSet.get(id);
    if (seen && seen.block === change.blockNumber && seen.logIndex < change.logIndex) before = seen;
    if (!before && this.options.budgetAt && /^0x[0-9a-fA-F]{40}$/.test(rawToken)) {
      try {
        before = await this.options.budgetAt(wallet, getAddress(rawToken), change.blockNumber - 1n);
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message, wallet }, "rules: the budget before the BudgetSet is unreadable");
      }
    }
    if (!before) {
      try {
        const previous = (await this.options.store.controlChanges(this.options.chainId, wallet))
          .filter((c) => c.event === "BudgetSet" && assetId(String(c.args.token ?? "")) === token)
          .filter((c) => c.blockNumber < change.blockNumber || (c.blockNumber === change.blockNumber && c.logIndex < change.logIndex))
          .at(-1);
        if (previous) before = { limit: BigInt(String(previous.args.limit ?? "0")), maxPerOperation: BigInt(String(previous.args.maxPerOperation ?? "0")) };
      } catch {
        // unknown: counts as raised
      }
    }
    this.lastBudgetSet.set(id, { block: change.blockNumber, logIndex: change.logIndex, limit, maxPerOperation: cap });
    return !before || limit > before.limit || cap > before.maxPerOperation;
  }

  private remember(wallet: Address, budgets: BudgetLimit[], overwrite = true): void {
    const map = this.knownBudgets.get(wallet) ?? new Map<string, BudgetLimit>();
    for (const b of budgets) if (overwrite || !map.has(assetId(b.token))) map.set(assetId(b.token), { ...b, token: assetId(b.token) });
    this.knownBudgets.set(wallet, map);
  }

  /** Trips the breaker for a rule; a failure is logged (the breaker already stopped co-signing, fail closed). */
  private async fire(action: IncidentActionKind, wallet: string, key: Address | null, cause: Omit<TripCause, "source" | "operator">): Promise<void> {
    const w = getAddress(wallet);
    try {
      const t = await this.options.breaker.trip(action, w, action === "revoke" ? key : null, { source: "monitor", operator: `rule:${cause.rule}`, ...cause });
      this.logger?.warn({ wallet: w, key, rule: cause.rule, incidentId: t.incident.id, outcome: t.outcome, txHash: t.txHash }, "rules: breaker tripped");
      if (t.outcome === "failed" || (t.outcome === "joined" && t.txHash === null)) {
        // Failed, or another process is about to act: the reconciliation looks again (rules 1 and 2). Without a
        // guardian key nothing changes until a restart (whose reconciliation tries again).
        if (t.error?.code !== "GUARDIAN_UNAVAILABLE") this.reconcileLater();
        return;
      }
      if (t.outcome !== "flagged") this.failures = 0;
      // No receipt within the wait (stuck), or reverted: look again once the breaker would send it again.
      t.mined?.then(
        (r) => {
          if (r?.status === "submitted") this.reconcileLater(this.options.resendAfterMs ?? 30_000);
        },
        () => this.reconcileLater(),
      );
    } catch (err) {
      this.logger?.error({ err: (err as Error).message, wallet: w, rule: cause.rule }, "rules: the breaker could not trip; trying again");
      this.reconcileLater();
    }
  }
}

/** Control events that widen what the agent can do only when they allow ("allowed": true). */
const ALLOWED_ONLY = { RecipientSet: true, CallPermissionSet: true } as const;

/** The "account:asset" pairs whose changes differ between `simulated` and `actual` (a pair one omits is a zero). */
function mismatching(simulated: readonly AssetChange[], actual: readonly AssetChange[]): string[] {
  const sums = new Map<string, bigint>();
  const key = (c: AssetChange) => `${getAddress(c.account)}:${assetId(c.asset)}`;
  for (const c of simulated) sums.set(key(c), (sums.get(key(c)) ?? 0n) + c.delta);
  for (const c of actual) sums.set(key(c), (sums.get(key(c)) ?? 0n) - c.delta);
  return [...sums].filter(([, d]) => d !== 0n).map(([k]) => k);
}

function parsed(c: { account: string; asset: string; delta: string }): AssetChange {
  return { account: getAddress(c.account), asset: c.asset, delta: BigInt(c.delta) };
}

/** "native" (or the zero address) for ETH, a checksummed address for a token. */
function assetId(asset: string): string {
  if (asset === "native" || /^0x0{40}$/i.test(asset)) return "native";
  return /^0x[0-9a-fA-F]{40}$/.test(asset) ? getAddress(asset) : asset;
}
