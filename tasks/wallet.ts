/**
 * Owner tasks on a deployed wallet. The wallet defaults to deployments/<network>.json's; the sender is the
 * network's first account (DEPLOYER_PRIVATE_KEY), which must be the owner (or a guardian for pause).
 *
 *   npx hardhat wallet:status --network sepolia
 *   npx hardhat wallet:budget --token USDC --limit 1000000000 --period 1d --max 500000000 --network sepolia
 *   npx hardhat wallet:allow --recipient 0x… [--allowed false] --network sepolia
 *   npx hardhat wallet:allow --target 0x… --selector "swap(address,address,uint256,uint256)" --network sepolia
 *   npx hardhat wallet:session-key --key 0x… --valid-until +30d | --revoke --network sepolia
 *   npx hardhat wallet:pause | wallet:unpause --network sepolia
 */
import { task as hardhatTask, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Address } from "viem";

/** Declares a task whose errors print as one line and set a failing exit code, instead of a stack trace. */
function task(name: string, description: string) {
  const definition = hardhatTask(name, description);
  const setAction = definition.setAction.bind(definition);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  definition.setAction = (action: any) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    setAction(async (args: any, hre: HardhatRuntimeEnvironment, runSuper: any) => {
      try {
        return await action(args, hre, runSuper);
      } catch (err) {
        console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    });
  return definition;
}

interface WalletArgs {
  wallet?: string;
}

/** The wallet address, the token symbols and viem clients of the selected network. */
async function context(hre: HardhatRuntimeEnvironment, args: WalletArgs) {
  const { getAddress, isAddress } = await import("viem");
  const { readRecord } = await import("../src/deploy/record");
  const { clientsFromProvider } = await import("../src/deploy/clients");
  const record = readRecord(hre.network.name);
  const raw = args.wallet ?? record?.wallet;
  if (!raw) throw new Error(`no --wallet and no deployments/${hre.network.name}.json with a wallet`);
  if (!isAddress(raw)) throw new Error(`--wallet ${raw} is not an address`);
  const clients = await clientsFromProvider(hre.network.provider);
  return { wallet: getAddress(raw), tokens: record?.tokens ?? {}, ...clients };
}

/** "native", a symbol of the deployment's tokens, or an address → the wallet's asset key. */
async function resolveToken(ref: string, tokens: Record<string, Address>): Promise<Address> {
  const { resolveAsset } = await import("../src/deploy/policy");
  return resolveAsset(ref, tokens);
}

/**
 * Seconds from "86400", "90s", "30m", "12h" or "1d".
 * @example parseDuration("12h") // 43200n
 */
export function parseDuration(input: string): bigint {
  const m = /^([0-9]+)([smhd]?)$/.exec(input.trim());
  if (!m) throw new Error(`bad duration ${input}: give seconds or a number with s, m, h or d`);
  const unit = { "": 1n, s: 1n, m: 60n, h: 3600n, d: 86_400n }[m[2] as "" | "s" | "m" | "h" | "d"];
  return BigInt(m[1]!) * unit;
}

/** A base-unit amount: a decimal integer string. */
function parseAmount(name: string, input: string): bigint {
  if (!/^[0-9]+$/.test(input)) throw new Error(`--${name} must be a whole number of base units, got ${input}`);
  return BigInt(input);
}

async function act(hre: HardhatRuntimeEnvironment, args: WalletArgs, action: import("../src/deploy/owner").OwnerAction): Promise<void> {
  const { sendOwnerAction } = await import("../src/deploy/owner");
  const { wallet, publicClient, walletClient } = await context(hre, args);
  const hash = await sendOwnerAction(publicClient, walletClient, wallet, action);
  console.log(`${action.kind} on ${wallet}: ${hash}`);
}

task("wallet:status", "Prints the wallet's roles, budgets (available now), allowlists and pause flag")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .addFlag("json", "print JSON instead of text")
  .setAction(async (args: WalletArgs & { json: boolean }, hre) => {
    const { readWalletStatus, formatWalletStatus } = await import("../src/deploy/owner");
    const { wallet, tokens, publicClient } = await context(hre, args);
    const status = await readWalletStatus(publicClient, wallet);
    if (args.json) console.log(JSON.stringify(status, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
    else console.log(formatWalletStatus(status, tokens).join("\n"));
  });

task("wallet:budget", "Sets (or with --remove, removes) the budget of one asset")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .addParam("token", `"native", a token symbol of the deployment, or a token address`)
  .addOptionalParam("limit", "bucket capacity and refill per period (token base units)")
  .addOptionalParam("period", "refill period: seconds, or with s/m/h/d (e.g. 1d)")
  .addOptionalParam("max", "largest net outflow of one operation (token base units)")
  .addFlag("remove", "remove the budget instead")
  .setAction(async (args: WalletArgs & { token: string; limit?: string; period?: string; max?: string; remove: boolean }, hre) => {
    const { tokens } = await context(hre, args);
    const token = await resolveToken(args.token, tokens);
    if (args.remove) return act(hre, args, { kind: "removeBudget", token });
    if (!args.limit || !args.period || !args.max) throw new Error("--limit, --period and --max are required (or --remove)");
    await act(hre, args, {
      kind: "setBudget",
      token,
      limit: parseAmount("limit", args.limit),
      period: parseDuration(args.period),
      maxPerOperation: parseAmount("max", args.max),
    });
  });

task("wallet:allow", "Allows or disallows a recipient (--recipient) or a call (--target with --selector)")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .addOptionalParam("recipient", "recipient of native and budgeted-token transfers")
  .addOptionalParam("target", "contract (address or token symbol) of a call permission")
  .addOptionalParam("selector", "0x selector or signature like swap(address,address,uint256,uint256)")
  .addOptionalParam("allowed", "true to allow, false to disallow", true, types.boolean)
  .setAction(async (args: WalletArgs & { recipient?: string; target?: string; selector?: string; allowed: boolean }, hre) => {
    const { getAddress } = await import("viem");
    if (args.recipient && !args.target) {
      return act(hre, args, { kind: "setRecipient", recipient: getAddress(args.recipient), allowed: args.allowed });
    }
    if (args.target && args.selector && !args.recipient) {
      const { parseSelector } = await import("../src/deploy/owner");
      const { tokens } = await context(hre, args);
      const target = await resolveToken(args.target, tokens);
      return act(hre, args, { kind: "setCallPermission", target, selector: parseSelector(args.selector), allowed: args.allowed });
    }
    throw new Error("give either --recipient, or --target with --selector");
  });

task("wallet:session-key", "Adds a session key (or changes its expiry), or revokes it with --revoke")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .addParam("key", "the session key's address")
  .addOptionalParam("validUntil", "last valid second: unix seconds, or +duration from now (e.g. +30d)")
  .addFlag("revoke", "revoke the key instead")
  .setAction(async (args: WalletArgs & { key: string; validUntil?: string; revoke: boolean }, hre) => {
    const { getAddress } = await import("viem");
    const key = getAddress(args.key);
    if (args.revoke) return act(hre, args, { kind: "revokeSessionKey", key });
    if (!args.validUntil) throw new Error("--valid-until is required (or --revoke)");
    let validUntil: bigint;
    if (args.validUntil.startsWith("+")) {
      const { publicClient } = await context(hre, args);
      validUntil = (await publicClient.getBlock()).timestamp + parseDuration(args.validUntil.slice(1));
    } else {
      validUntil = parseDuration(args.validUntil);
    }
    await act(hre, args, { kind: "addSessionKey", key, validUntil: Number(validUntil) });
  });

task("wallet:pause", "Pauses the agent path (owner or guardian)")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .setAction(async (args: WalletArgs, hre) => act(hre, args, { kind: "pause" }));

task("wallet:unpause", "Resumes the agent path (owner only)")
  .addOptionalParam("wallet", "wallet address (default: deployments/<network>.json)")
  .setAction(async (args: WalletArgs, hre) => act(hre, args, { kind: "unpause" }));
