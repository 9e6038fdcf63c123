/**
 * The owner's (and guardian's) hands on a deployed wallet: read its whole policy, change budgets, allowlists and
 * session keys, pause and unpause. Used by the `wallet:*` Hardhat tasks; each change returns its transaction hash.
 */
import {
  encodeFunctionData,
  getAddress,
  toFunctionSelector,
  zeroAddress,
  type Abi,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { loadArtifact } from "../chain/artifacts";
import { revertData } from "../client/client";
import { describeRevert } from "../policy/revert-reasons";

/** What to do about the wallet's refusals an owner meets. */
const HINTS: Record<string, string> = {
  TokenPermissionConflict:
    " (a transfer-like permission beside a budget would bypass it: budgeted tokens move only by transfer to an allowlisted recipient or approve to a permitted spender; remove the permission before changing the budget)",
  RoleConflict: " (owner, co-signer, guardians and session keys must be distinct accounts)",
  InvalidSessionKey: " (validUntil must be in the future)",
};

/** Everything the wallet says about itself (token base units; unix seconds). */
export interface WalletStatus {
  wallet: Address;
  owner: Address;
  cosigner: Address;
  paused: boolean;
  guardians: Address[];
  sessionKeys: { key: Address; validUntil: number; active: boolean }[];
  budgets: { token: Address; limit: bigint; period: bigint; maxPerOperation: bigint; available: bigint }[];
  recipients: Address[];
  callPermissions: { target: Address; selector: Hex }[];
  blockNumber: bigint;
}

const abi = (): Abi => loadArtifact("AgentWallet").abi;

/**
 * Reads the wallet's roles, budgets (with what is available now), allowlists and pause flag at the latest block.
 * @example const status = await readWalletStatus(publicClient, wallet)
 */
export async function readWalletStatus(publicClient: PublicClient, wallet: Address): Promise<WalletStatus> {
  const code = await publicClient.getCode({ address: wallet });
  if (!code || code === "0x") throw new Error(`no contract at ${wallet}`);
  const blockNumber = await publicClient.getBlockNumber();
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    publicClient.readContract({ address: wallet, abi: abi(), functionName, args, blockNumber }) as Promise<T>;
  const [owner, cosigner, paused, guardians, keys, tokens, recipients, permissions] = await Promise.all([
    read<Address>("owner"),
    read<Address>("cosigner"),
    read<boolean>("paused"),
    read<Address[]>("guardians"),
    read<Address[]>("sessionKeys"),
    read<Address[]>("budgetedTokens"),
    read<Address[]>("recipients"),
    read<{ target: Address; selector: Hex }[]>("callPermissions"),
  ]);
  const block = await publicClient.getBlock({ blockNumber });
  const sessionKeys = await Promise.all(
    keys.map(async (key) => {
      const validUntil = Number(await read<number>("sessionKeyValidUntil", [key]));
      return { key, validUntil, active: BigInt(validUntil) >= block.timestamp };
    }),
  );
  const budgets = [];
  for (const token of [zeroAddress, ...tokens]) {
    const [limit, period, maxPerOperation] = await read<readonly [bigint, bigint, bigint]>("budget", [token]);
    if (maxPerOperation === 0n) continue;
    budgets.push({ token, limit, period, maxPerOperation, available: await read<bigint>("available", [token]) });
  }
  return {
    wallet,
    owner,
    cosigner,
    paused,
    guardians: [...guardians],
    sessionKeys,
    budgets,
    recipients: [...recipients],
    callPermissions: permissions.map((p) => ({ target: p.target, selector: p.selector })),
    blockNumber,
  };
}

/**
 * The status as printable lines (amounts in base units; `symbols` names known tokens).
 * @example console.log(formatWalletStatus(status, { USDC: usdc }).join("\n"))
 */
export function formatWalletStatus(s: WalletStatus, symbols: Record<string, Address> = {}): string[] {
  const name = (token: Address) =>
    token === zeroAddress ? "native" : `${Object.entries(symbols).find(([, a]) => getAddress(a) === token)?.[0] ?? "token"} ${token}`;
  return [
    `wallet        ${s.wallet} (block ${s.blockNumber})`,
    `owner         ${s.owner}`,
    `co-signer     ${s.cosigner}`,
    `paused        ${s.paused}`,
    `guardians     ${s.guardians.join(", ") || "(none)"}`,
    `session keys  ${s.sessionKeys.map((k) => `${k.key} until ${k.validUntil} (${new Date(k.validUntil * 1000).toISOString()})${k.active ? "" : " EXPIRED"}`).join("; ") || "(none)"}`,
    `budgets${s.budgets.length ? "" : "       (none)"}`,
    ...s.budgets.map((b) => `  ${name(b.token)}: limit ${b.limit} per ${b.period} s, max ${b.maxPerOperation} per operation, available ${b.available}`),
    `recipients    ${s.recipients.join(", ") || "(none)"}`,
    `calls         ${s.callPermissions.map((p) => `${p.target}.${p.selector}`).join(", ") || "(none)"}`,
  ];
}

/** One owner or guardian action on the wallet. */
export type OwnerAction =
  | { kind: "setBudget"; token: Address; limit: bigint; period: bigint; maxPerOperation: bigint }
  | { kind: "removeBudget"; token: Address }
  | { kind: "setRecipient"; recipient: Address; allowed: boolean }
  | { kind: "setCallPermission"; target: Address; selector: Hex; allowed: boolean }
  | { kind: "addSessionKey"; key: Address; validUntil: number }
  | { kind: "revokeSessionKey"; key: Address }
  | { kind: "pause" }
  | { kind: "unpause" };

/**
 * Sends one action from the wallet client's account, after checking that account may take it (owner, or a
 * guardian for pause/revoke), and waits for it to be mined. Returns the transaction hash.
 * @example const hash = await sendOwnerAction(publicClient, walletClient, wallet, { kind: "pause" })
 */
export async function sendOwnerAction(publicClient: PublicClient, walletClient: WalletClient, wallet: Address, action: OwnerAction): Promise<Hex> {
  const account = walletClient.account as Account | undefined;
  if (!account) throw new Error("no account to send from (set DEPLOYER_PRIVATE_KEY for this network)");
  const read = <T>(functionName: string, args: readonly unknown[] = []) => publicClient.readContract({ address: wallet, abi: abi(), functionName, args }) as Promise<T>;
  const owner = await read<Address>("owner");
  const isOwner = owner === getAddress(account.address);
  const guardianMay = action.kind === "pause" || action.kind === "revokeSessionKey";
  if (!isOwner && !(guardianMay && (await read<boolean>("isGuardian", [account.address])))) {
    throw new Error(`${account.address} may not ${action.kind} on ${wallet}: the owner is ${owner}${guardianMay ? " (or a guardian)" : ""}`);
  }
  const data = encodeAction(action);
  // Run it first, so that a refusal reads as the wallet's own error (e.g. TokenPermissionConflict) and costs nothing.
  try {
    await publicClient.call({ account: account.address, to: wallet, data });
  } catch (err) {
    const revert = revertData(err);
    if (revert === undefined) throw err;
    throw new Error(`${action.kind} on ${wallet} would revert: ${describeRevert(revert).text}${HINTS[describeRevert(revert).name] ?? ""}`);
  }
  const hash = await walletClient.sendTransaction({ account, chain: null, to: wallet, data } as never);
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${action.kind}: transaction ${hash} reverted`);
  return hash;
}

/**
 * The calldata of an action.
 * @example encodeAction({ kind: "pause" }) // "0x8456cb59"
 */
export function encodeAction(action: OwnerAction): Hex {
  const a = abi();
  switch (action.kind) {
    case "setBudget":
      return encodeFunctionData({
        abi: a,
        functionName: "setBudget",
        args: [{ token: action.token, limit: action.limit, period: action.period, maxPerOperation: action.maxPerOperation }],
      });
    case "removeBudget":
      return encodeFunctionData({ abi: a, functionName: "removeBudget", args: [action.token] });
    case "setRecipient":
      return encodeFunctionData({ abi: a, functionName: "setRecipient", args: [action.recipient, action.allowed] });
    case "setCallPermission":
      return encodeFunctionData({ abi: a, functionName: "setCallPermission", args: [action.target, action.selector, action.allowed] });
    case "addSessionKey":
      return encodeFunctionData({ abi: a, functionName: "addSessionKey", args: [action.key, action.validUntil] });
    case "revokeSessionKey":
      return encodeFunctionData({ abi: a, functionName: "revokeSessionKey", args: [action.key] });
    case "pause":
      return encodeFunctionData({ abi: a, functionName: "pause" });
    case "unpause":
      return encodeFunctionData({ abi: a, functionName: "unpause" });
  }
}

/**
 * A selector from "0x12345678" or a function signature like "swap(address,address,uint256,uint256)".
 * @example parseSelector("transfer(address,uint256)") // "0xa9059cbb"
 */
export function parseSelector(input: string): Hex {
  if (/^0x[0-9a-fA-F]{8}$/.test(input)) return input.toLowerCase() as Hex;
  if (/^[A-Za-z_][A-Za-z0-9_]*\(.*\)$/.test(input)) return toFunctionSelector(input);
  throw new Error(`bad selector ${input}: give 0x and 8 hex digits, or a signature like transfer(address,uint256)`);
}
