/**
 * The deployment policy: who holds which role, which budgets and allowlists a new wallet starts with, and which
 * tokens it uses. A JSON file (POLICY_FILE) parsed by one strict zod schema; see deployments/policy.example.json.
 */
import { readFileSync } from "node:fs";
import { toFunctionSelector, type Address, type Hex } from "viem";
import { z } from "zod";
import { addressSchema, uint256Schema } from "../intent/schema";

const symbolSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/, "must be a token symbol (letters, digits, _ . -; at most 16)");

/** A token the wallet uses: an existing one by address, or a mock (MockERC20, free minting) deployed for a testnet. */
const tokenSchema = z.union([
  addressSchema,
  z.strictObject({
    mock: z.strictObject({
      name: z.string().min(1).max(64),
      decimals: z.number().int().min(0).max(36),
      /** Minted to the new wallet (token base units). */
      mintToWallet: uint256Schema.optional(),
    }),
  }),
]);

/** "native", a symbol from `tokens`, or a token address. */
const assetRefSchema = z.union([z.literal("native"), addressSchema, symbolSchema]);

const budgetSchema = z
  .strictObject({
    token: assetRefSchema,
    /** Bucket capacity and refill per period (token base units). */
    limit: uint256Schema.refine((n) => n > 0n && n < 2n ** 208n, "must be between 1 and 2^208-1"),
    /** Seconds for an empty bucket to refill (1 to 365 days). */
    period: z.number().int().min(1).max(365 * 86_400),
    /** Largest net outflow of one operation (token base units, 1 to limit). */
    maxPerOperation: uint256Schema.refine((n) => n > 0n, "must be greater than zero"),
  })
  .refine((b) => b.maxPerOperation <= b.limit, { message: "must not exceed limit", path: ["maxPerOperation"] });

const selectorSchema = z.union([
  z.string().regex(/^0x[0-9a-fA-F]{8}$/, "must be a 4-byte 0x selector").transform((s) => s.toLowerCase() as Hex),
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*\(.*\)$/, "must be a selector (0x12345678) or a function signature like swap(address,uint256)")
    .transform((s) => toFunctionSelector(s)),
]);

const sessionKeySchema = z.union([
  z.strictObject({ key: addressSchema, validUntil: z.number().int().positive() }),
  z.strictObject({ key: addressSchema, validForDays: z.number().positive().max(3650) }),
]);

/** The policy file. Keys starting with "$" are comments and ignored. */
export const policySchema = z
  .strictObject({
    /** "deployer" (the account that deploys) or an address: an EOA or a multisig. */
    owner: z.union([z.literal("deployer"), addressSchema]),
    cosigner: addressSchema,
    guardians: z.array(addressSchema).max(16).default([]),
    sessionKeys: z.array(sessionKeySchema).max(16).default([]),
    tokens: z.record(symbolSchema, tokenSchema).default({}),
    budgets: z.array(budgetSchema).max(32).default([]),
    /** Allowlisted recipients by name (name → address). */
    recipients: z.record(z.string().min(1).max(64), addressSchema).default({}),
    callPermissions: z.array(z.strictObject({ target: z.union([addressSchema, symbolSchema]), selector: selectorSchema })).max(64).default([]),
    /** CREATE2 salt label; the same policy and salt give the same wallet address. */
    salt: z.string().min(1).max(64).default("countersign"),
    /** An already deployed AgentWalletFactory to reuse; a new one is deployed when absent. */
    factory: addressSchema.optional(),
    /** Native ETH sent to the new wallet (wei). */
    fundNative: uint256Schema.optional(),
  })
  .superRefine((p, ctx) => {
    for (const [i, b] of p.budgets.entries()) {
      if (b.token !== "native" && !b.token.startsWith("0x") && !(b.token in p.tokens)) {
        ctx.addIssue({ code: "custom", path: ["budgets", i, "token"], message: `unknown token symbol ${b.token}: add it to "tokens"` });
      }
    }
    for (const [i, c] of p.callPermissions.entries()) {
      if (!c.target.startsWith("0x") && !(c.target in p.tokens)) {
        ctx.addIssue({ code: "custom", path: ["callPermissions", i, "target"], message: `unknown token symbol ${c.target}: add it to "tokens"` });
      }
    }
    const roles = [p.cosigner, ...p.guardians, ...p.sessionKeys.map((k) => k.key), ...(p.owner === "deployer" ? [] : [p.owner])];
    const seen = new Set<string>();
    for (const r of roles) {
      if (seen.has(r)) ctx.addIssue({ code: "custom", path: [], message: `${r} holds two roles; owner, co-signer, guardians and session keys must be distinct` });
      seen.add(r);
    }
  });

export type Policy = z.infer<typeof policySchema>;

/**
 * Selectors that grant or use a standing right over the wallet's assets which the co-signer does not see (no
 * approval event it parses) or the wallet does not enforce (no on-chain no-standing-approval rule): a call
 * permission naming one is accepted, with a warning. See docs/threat-model.md, "Known limitations".
 */
export const UNSAFE_SELECTORS: ReadonlyMap<Hex, string> = new Map(
  (
    [
      ["authorizeOperator(address)", "ERC-777 operator approval: AuthorizedOperator is not parsed, so the operator can move every token of the wallet unseen"],
      ["send(address,uint256,bytes)", "ERC-777 send: pays any recipient past the recipient allowlist and runs the recipient's tokensReceived hook"],
      ["operatorSend(address,address,uint256,bytes,bytes)", "ERC-777 operatorSend: moves tokens as an operator, to any recipient, running hooks"],
      ["setOperator(address,bool)", "ERC-6909 operator approval: OperatorSet is not parsed, so the operator can move every id of the wallet unseen"],
      ["approve(address,uint256,uint256)", "ERC-6909 approve: its Approval(owner, spender, id, amount) is not parsed, so the allowance stands unseen"],
      ["approveDelegation(address,uint256)", "credit delegation (Aave): BorrowAllowanceDelegated is not parsed, so the delegatee can borrow against the wallet's collateral unseen"],
      ["approve(address,address,uint160,uint48)", "Permit2 approve: caught only by the co-signer's log check, the wallet does not refuse a standing Permit2 allowance"],
      ["increaseAllowance(address,uint256)", "ERC-20 increaseAllowance: caught only by the co-signer's log check, the wallet does not refuse the standing allowance"],
      ["permit(address,address,uint256,uint256,uint8,bytes32,bytes32)", "ERC-2612 permit: an allowance granted by signature, caught only by the co-signer's log check"],
    ] as const
  ).map(([signature, why]) => [toFunctionSelector(signature), `${signature}: ${why}`]),
);

/**
 * What in a parsed policy is allowed but unsafe: call permissions naming a selector of UNSAFE_SELECTORS. Printed
 * by scripts/deploy.ts; never an error (a deployment may need one, knowingly).
 * @example policyWarnings(policy) // ["callPermissions[0] (0x1f98…, 0x959b8c3f) authorizeOperator(address): ERC-777 …"]
 */
export function policyWarnings(policy: Policy): string[] {
  const warnings: string[] = [];
  for (const [i, c] of policy.callPermissions.entries()) {
    const why = UNSAFE_SELECTORS.get(c.selector);
    if (why) warnings.push(`callPermissions[${i}] (${c.target}, ${c.selector}) ${why}`);
  }
  return warnings;
}

/**
 * Parses a policy object (comment keys starting with "$" removed first); throws one error naming every bad field.
 * @example const policy = parsePolicy(JSON.parse(text))
 */
export function parsePolicy(input: unknown): Policy {
  const result = policySchema.safeParse(stripComments(input));
  if (!result.success) {
    throw new Error(`invalid policy: ${result.error.issues.map((i) => `${i.path.join(".") || "(policy)"}: ${i.message}`).join("; ")}`);
  }
  return result.data;
}

/**
 * Reads and parses the policy file at `path`.
 * @example const policy = loadPolicy(process.env.POLICY_FILE ?? "deployments/policy.example.json")
 */
export function loadPolicy(path: string): Policy {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read policy file ${path}: ${(err as Error).message}`);
  }
  return parsePolicy(json);
}

/**
 * Resolves "native", a symbol or an address to the wallet's asset key (address(0) for native).
 * @example resolveAsset("USDC", record.tokens) // "0xe7f1…"
 */
export function resolveAsset(ref: string, tokens: Record<string, Address>): Address {
  if (ref === "native") return "0x0000000000000000000000000000000000000000";
  if (ref.startsWith("0x")) return addressSchema.parse(ref);
  const address = tokens[ref];
  if (!address) throw new Error(`unknown token ${ref}`);
  return address;
}

function stripComments(input: unknown): unknown {
  if (Array.isArray(input)) return input.map(stripComments);
  if (input && typeof input === "object") {
    return Object.fromEntries(Object.entries(input).filter(([k]) => !k.startsWith("$")).map(([k, v]) => [k, stripComments(v)]));
  }
  return input;
}
