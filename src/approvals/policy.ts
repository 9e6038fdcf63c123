/**
 * The approval policy as data: ordered rules, each matching an operation by intent kind, asset, counterparty, amount
 * (base units or a share of the available budget) and time of day, and deciding `auto`, `approve(n)` (n distinct
 * approvers) or `deny`. The first matching rule wins; no match means approve(1). Each rule says whether what it
 * matches is reversible. One JSON file per deployment (APPROVAL_POLICY_FILE, default deployments/approval-policy.json
 * documents the classification), parsed by the strict schema below at start; without one, REVIEW_THRESHOLDS and
 * REVIEW_NEW_RECIPIENTS are turned into the same rules (`policyFromShorthands`).
 */
import { readFileSync } from "node:fs";
import { getAddress, type Address } from "viem";
import { z } from "zod";
import type { Reason, ReasonCode } from "../errors";
import { addressSchema, uint256Schema } from "../intent/schema";

const ruleName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be 1-64 characters of a-z 0-9 - (a slug)");
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM (24 h)");
const assetRef = z.union([z.literal("native"), addressSchema]);
const kind = z.enum(["transfer", "swap", "call"]);

/** What a rule decides: sign without a person, wait for `approve` distinct approvers, or refuse. */
export const ruleDecisionSchema = z.union([
  z.literal("auto"),
  z.literal("deny"),
  z.strictObject({ approve: z.number().int().min(1, "must be at least 1").max(10, "must be at most 10") }),
]);
export type RuleDecision = z.infer<typeof ruleDecisionSchema>;

/** Who an operation pays, as a rule sees it (see `counterpartyMatches`). */
export const counterpartySchema = z.enum(["own", "allowlisted", "first-time", "third-party"]);
export type Counterparty = z.infer<typeof counterpartySchema>;

/** The conditions of a rule; every one given must hold (none given: matches every operation). */
export const ruleMatchSchema = z.strictObject({
  /** The intent's kind, or any of several. */
  kind: z.union([kind, z.array(kind).min(1)]).optional(),
  /** Only when the wallet sends this asset ("native" or a token address). */
  asset: assetRef.optional(),
  counterparty: counterpartySchema.optional(),
  /** The wallet's gross outflow of an asset (of `asset` when given, else of any). */
  amount: z
    .strictObject({
      /** More than this many base units (needs `asset`). */
      above: uint256Schema.optional(),
      /** More than this share (0-1) of what the wallet's budget for the asset has available before the operation. */
      shareOfAvailableBudgetAbove: z.number().min(0).max(1).optional(),
    })
    .refine((a) => a.above !== undefined || a.shareOfAvailableBudgetAbove !== undefined, "give above or shareOfAvailableBudgetAbove")
    .optional(),
  /** From (inclusive) to (exclusive) in the policy's time zone; wraps past midnight when from > to. */
  timeOfDay: z.strictObject({ from: clock, to: clock }).optional(),
});
export type RuleMatch = z.infer<typeof ruleMatchSchema>;

export const ruleSchema = z.strictObject({
  name: ruleName,
  /** Why the rule exists, in plain words: shown to the person it asks. */
  description: z.string().min(1).max(300),
  /** Whether what the rule matches can be undone (paying the owner's own cold wallet; an approval the batch resets). */
  reversible: z.boolean(),
  match: ruleMatchSchema.default({}),
  decide: ruleDecisionSchema,
});
export type Rule = z.infer<typeof ruleSchema>;

/** The policy file. */
export const approvalPolicySchema = z
  .strictObject({
    version: z.literal(1),
    description: z.string().max(2000).optional(),
    /** IANA time zone the timeOfDay conditions are read in (default UTC). */
    timeZone: z
      .string()
      .default("UTC")
      .refine((tz) => validTimeZone(tz), "must be an IANA time zone such as UTC or Europe/Berlin"),
    /** The owner's own addresses besides the wallet's owner (cold wallets): counterparty "own". */
    ownAddresses: z.array(addressSchema).max(100).default([]),
    rules: z.array(ruleSchema).max(200),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: "custom", path: ["rules", i, "name"], message: `${r.name} is used by an earlier rule` });
      seen.add(r.name);
      if (r.match.amount?.above !== undefined && !r.match.asset) {
        ctx.addIssue({ code: "custom", path: ["rules", i, "match", "asset"], message: "is required with amount.above (base units of which asset?)" });
      }
    });
  });

/** A parsed policy, with where it came from ("file:<path>" or "environment"). */
export type ApprovalPolicy = z.infer<typeof approvalPolicySchema> & { source: string };

/** What the wallet looks like now, for rules about counterparties and budgets (read on the fork when a rule needs it). */
export interface WalletFacts {
  owner: Address;
  /** The recipient allowlist. */
  recipients: readonly Address[];
  /** Available budget now per asset ("native" or checksummed token), base units. */
  available: ReadonlyMap<string, bigint>;
}

/** What a rule is evaluated on. */
export interface PolicyInput {
  kind: "transfer" | "swap" | "call";
  wallet: Address;
  /** The wallet's outflow per asset ("native" or checksummed token): the larger of the gross and the net outflow. */
  outflow: ReadonlyMap<string, bigint>;
  /** Accounts the operation pays. */
  payees: readonly Address[];
  /** Those of `payees` this wallet never paid through the co-signer. */
  newPayees: readonly Address[];
  /** Present when the policy `needsFacts`. */
  facts?: WalletFacts;
  now: Date;
}

/** What the policy decided, by which rule, and why (the reasons a person reads). */
export interface PolicyOutcome {
  rule: string;
  decide: RuleDecision;
  reversible: boolean;
  /** The rule's own words. */
  description: string;
  /** The reasons: of the deciding rule first, then of every later rule that would also have asked for a person. */
  reasons: Reason[];
}

/** The rule applied when no rule matches. */
export const NO_MATCH_RULE: Rule = {
  name: "no-match",
  description: "no rule of the policy matched this operation, so a person decides",
  reversible: false,
  match: {},
  decide: { approve: 1 },
};

/**
 * Reads and validates a policy file; throws naming the file, the field and the reason.
 * @example const policy = loadApprovalPolicy("deployments/approval-policy.json")
 */
export function loadApprovalPolicy(path: string): ApprovalPolicy {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`APPROVAL_POLICY_FILE ${path}: ${(err as Error).message}`);
  }
  return parseApprovalPolicy(json, `file:${path}`);
}

/**
 * Validates a policy (the JSON of a file); throws naming each bad field.
 * @example parseApprovalPolicy({ version: 1, rules: [] }, "test")
 */
export function parseApprovalPolicy(json: unknown, source: string): ApprovalPolicy {
  const parsed = approvalPolicySchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`approval policy (${source}): ${parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ")}`);
  }
  return { ...parsed.data, ownAddresses: parsed.data.ownAddresses.map((a) => getAddress(a)), source };
}

/**
 * The policy REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS stand for: one approve(1) rule per threshold, one approve(1)
 * rule for first payments, then `auto` for everything else (what the co-signer did before policies were data).
 * @example policyFromShorthands(new Map([[usdc, 300_000_000n]]), true).rules.map((r) => r.name) // ["review-threshold-0x…", "new-recipient", "default"]
 */
export function policyFromShorthands(thresholds: ReadonlyMap<string, bigint>, reviewNewRecipients: boolean): ApprovalPolicy {
  const rules: Rule[] = [];
  for (const [asset, above] of thresholds) {
    const key = asset === "native" ? "native" : getAddress(asset);
    rules.push({
      name: `review-threshold-${key.toLowerCase()}`,
      description: `an outflow above the review threshold (REVIEW_THRESHOLDS) of ${key}`,
      reversible: false,
      match: { asset: key as Address | "native", amount: { above } },
      decide: { approve: 1 },
    });
  }
  if (reviewNewRecipients) {
    rules.push({
      name: "new-recipient",
      description: "a first payment to a recipient (REVIEW_NEW_RECIPIENTS)",
      reversible: false,
      match: { counterparty: "first-time" },
      decide: { approve: 1 },
    });
  }
  rules.push({ name: "default", description: "everything else is signed without a person", reversible: false, match: {}, decide: "auto" });
  return { version: 1, timeZone: "UTC", ownAddresses: [], rules, source: "environment" };
}

/**
 * Whether evaluating the policy needs the wallet's owner, allowlist or available budgets (read on the fork).
 * @example if (needsFacts(policy)) facts = await readFacts(wallet)
 */
export function needsFacts(policy: ApprovalPolicy): boolean {
  return policy.rules.some(
    (r) =>
      r.match.counterparty === "own" ||
      r.match.counterparty === "allowlisted" ||
      r.match.counterparty === "third-party" ||
      r.match.amount?.shareOfAvailableBudgetAbove !== undefined,
  );
}

/**
 * The first rule that matches `input` (or NO_MATCH_RULE), with the reasons a person reads: the deciding rule's, and
 * unless it denies, those of later rules that would also have asked for a person.
 * @example evaluatePolicy(policy, input).decide // { approve: 2 }
 */
export function evaluatePolicy(policy: ApprovalPolicy, input: PolicyInput): PolicyOutcome {
  const matching = policy.rules.filter((r) => ruleMatches(policy, r, input));
  const first = matching[0] ?? NO_MATCH_RULE;
  const reasons: Reason[] = [];
  // A denial gives its own reason only; a request for people adds those of later rules that would also ask.
  const others = first.decide === "deny" ? [] : matching.slice(1).filter((r) => typeof r.decide === "object");
  for (const rule of [first, ...others]) {
    if (rule.decide === "auto") continue;
    for (const reason of ruleReasons(policy, rule, input)) if (!reasons.some((x) => x.message === reason.message)) reasons.push(reason);
  }
  return { rule: first.name, decide: first.decide, reversible: first.reversible, description: first.description, reasons };
}

/**
 * "approve 2", "auto", "deny": a rule's decision in words.
 * @example describeDecision({ approve: 2 }) // "approve 2"
 */
export function describeDecision(d: RuleDecision): string {
  return typeof d === "string" ? d : `approve ${d.approve}`;
}

/** Whether every condition of `rule` holds for `input`. */
function ruleMatches(policy: ApprovalPolicy, rule: Rule, input: PolicyInput): boolean {
  const m = rule.match;
  if (m.kind !== undefined && !(Array.isArray(m.kind) ? m.kind : [m.kind]).includes(input.kind)) return false;
  const asset = m.asset === undefined ? undefined : m.asset === "native" ? "native" : getAddress(m.asset);
  if (asset !== undefined && (input.outflow.get(asset) ?? 0n) <= 0n) return false;
  if (m.counterparty !== undefined && !counterpartyMatches(policy, m.counterparty, input)) return false;
  if (m.amount !== undefined && amountsAbove(m.amount, asset, input).length === 0) return false;
  if (m.timeOfDay !== undefined && !withinTime(m.timeOfDay, policy.timeZone, input.now)) return false;
  return true;
}

/**
 * own: every payee is the wallet's owner or one of the policy's own addresses (at least one payee); allowlisted:
 * every payee is on the wallet's recipient allowlist; first-time: some payee was never paid through the co-signer;
 * third-party: some payee is not the owner's own. Without the facts (not read), only first-time can match.
 */
function counterpartyMatches(policy: ApprovalPolicy, want: Counterparty, input: PolicyInput): boolean {
  if (want === "first-time") return input.newPayees.length > 0;
  const facts = input.facts;
  if (!facts) return want === "third-party";
  const own = new Set<string>([facts.owner, ...policy.ownAddresses].map((a) => getAddress(a)));
  if (want === "own") return input.payees.length > 0 && input.payees.every((p) => own.has(getAddress(p)));
  if (want === "third-party") return input.payees.some((p) => !own.has(getAddress(p)));
  const allowed = new Set(facts.recipients.map((a) => getAddress(a)));
  return input.payees.length > 0 && input.payees.every((p) => allowed.has(getAddress(p)));
}

/** The assets whose outflow is above the rule's amount (of `asset` only when given), with what it was compared to. */
function amountsAbove(amount: NonNullable<RuleMatch["amount"]>, asset: string | undefined, input: PolicyInput): { asset: string; outflow: bigint; text: string }[] {
  const out: { asset: string; outflow: bigint; text: string }[] = [];
  for (const [a, outflow] of input.outflow) {
    if (outflow <= 0n || (asset !== undefined && a !== asset)) continue;
    if (amount.above !== undefined && outflow > amount.above) {
      out.push({ asset: a, outflow, text: `gross outflow ${outflow} of ${a} is above the review threshold ${amount.above}` });
      continue;
    }
    const share = amount.shareOfAvailableBudgetAbove;
    if (share !== undefined) {
      const available = input.facts?.available.get(a);
      // An asset without a budget (or not read) counts as above any share: the person looks.
      const scaled = BigInt(Math.round(share * 1_000_000));
      if (available === undefined || outflow * 1_000_000n > available * scaled) {
        out.push({
          asset: a,
          outflow,
          text:
            available === undefined
              ? `gross outflow ${outflow} of ${a}, an asset without a budget`
              : `gross outflow ${outflow} of ${a} is more than ${share * 100}% of the ${available} available in its budget`,
        });
      }
    }
  }
  return out;
}

/** The reasons behind a rule's decision: its code (stable, see docs/errors.md) and the specifics. */
function ruleReasons(policy: ApprovalPolicy, rule: Rule, input: PolicyInput): Reason[] {
  const what = `rule ${rule.name} (${describeDecision(rule.decide)}, ${rule.reversible ? "reversible" : "irreversible"}): ${rule.description}`;
  if (rule.decide === "deny") return [{ code: "POLICY_DENIED", message: what }];
  const m = rule.match;
  if (m.counterparty === "first-time") {
    return input.newPayees.map((p) => reason(policy, "NEW_RECIPIENT", `${p} has never been paid by this wallet through the co-signer`, what));
  }
  if (m.amount !== undefined) {
    const asset = m.asset === undefined ? undefined : m.asset === "native" ? "native" : getAddress(m.asset);
    return amountsAbove(m.amount, asset, input).map((a) => reason(policy, "ABOVE_REVIEW_THRESHOLD", a.text, what));
  }
  return [{ code: "APPROVAL_POLICY", message: what }];
}

/** A reason in the words the co-signer used before policies were data (environment), else with the rule named. */
function reason(policy: ApprovalPolicy, code: ReasonCode, specific: string, what: string): Reason {
  return { code, message: policy.source === "environment" ? specific : `${specific}; ${what}` };
}

/** Whether `now` falls in [from, to) in `timeZone` (wrapping past midnight when from > to). */
function withinTime(t: { from: string; to: string }, timeZone: string, now: Date): boolean {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
  const minutes = Number(parts.find((p) => p.type === "hour")?.value) * 60 + Number(parts.find((p) => p.type === "minute")?.value);
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const from = toMin(t.from);
  const to = toMin(t.to);
  return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
