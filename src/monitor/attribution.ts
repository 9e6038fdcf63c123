/**
 * What an executed operation actually changed, derived by the code that derives the simulated changes
 * (simulation/changes.ts: parseLogs, netChanges), and whether it matches the decision's simulation.
 *
 * - ERC-20 and NFT changes come from the transaction receipt's logs, restricted to the operation's segment: the
 *   logs after the previous `Executed` event of a served wallet in the receipt up to the operation's own `Executed`
 *   (an `Executed`-shaped log from any other contract is not a boundary: a called contract cannot cut the segment
 *   to hide what moved before it)
 *   (the wallet emits Executed after its calls and BudgetCharged events, and execute is nonReentrant). Exact per
 *   operation, whatever else the block or the transaction holds. Limitation: logs a relaying contract emits before
 *   the first operation of its transaction fall into that operation's segment; a token whose balances differ from
 *   its Transfer logs (fee-on-transfer, rebasing) shows its logs' figures (the co-signer refuses such gaps before
 *   signing: BALANCE_LOG_MISMATCH).
 * - Native ETH comes from balances at block − 1 and at the block, for the wallet, the operation's call targets and
 *   every account the simulation saw receive or send ETH; the relayer's fee is added back when the relayer is one
 *   of them. Limitation: other transactions of the same block that move the same accounts' ETH (including a second
 *   operation of the wallet in that block) show in every one of those operations' figures, so such an operation may
 *   read as not matching its simulation (a false alarm, never a missed one for the accounts measured). An ETH
 *   payment to an account that is neither a call target nor named by the simulation is not measured; the payment
 *   the simulation expected is then missing, which is a mismatch.
 */
import { getAddress, type Address } from "viem";
import { netChanges, parseLogs, type AssetChange, type RawLog } from "../simulation/changes";
import { EXECUTED_TOPIC } from "./wallet-events";

/** A receipt log with its position. */
export type ReceiptLog = RawLog & { logIndex: string };

/**
 * The logs of one operation in its transaction's receipt: after the previous `Executed` log emitted by a wallet
 * (`isWallet`), up to and including the operation's own (at `logIndex`).
 * @example operationSegment(receipt.logs, 7, (a) => served.has(a)) // the logs 3..7 when log 2 was the previous Executed
 */
export function operationSegment(logs: readonly (ReceiptLog & { address?: string })[], logIndex: number, isWallet: (address: string) => boolean): ReceiptLog[] {
  const ordered = [...logs].sort((a, b) => Number(a.logIndex) - Number(b.logIndex));
  let start = -1;
  for (const log of ordered) {
    const i = Number(log.logIndex);
    if (i >= logIndex) break;
    if (log.topics[0]?.toLowerCase() === EXECUTED_TOPIC && log.address !== undefined && isWallet(log.address)) start = i;
  }
  return ordered.filter((l) => Number(l.logIndex) > start && Number(l.logIndex) <= logIndex);
}

/**
 * The ERC-20 and NFT changes a segment's logs show, net per (account, asset).
 * @example tokenChanges(segment) // [{ account: wallet, asset: usdc, delta: -5000000n }, { account: alice, … }]
 */
export function tokenChanges(segment: readonly RawLog[]): AssetChange[] {
  const parsed = parseLogs(segment);
  const erc20: AssetChange[] = [...parsed.erc20LogDeltas].map(([key, delta]) => {
    const [asset, account] = key.split(":") as [Address, Address];
    return { account, asset, delta };
  });
  return netChanges([...erc20, ...parsed.nftChanges]);
}

/**
 * The accounts whose ETH balance is measured for an operation: the wallet, its call targets and every account the
 * simulation recorded a native change for.
 * @example nativeAccounts(wallet, [{ target: alice }], simulated) // [wallet, alice]
 */
export function nativeAccounts(wallet: Address, targets: readonly string[], simulated: readonly AssetChange[] | null): Address[] {
  const out = new Set<Address>([getAddress(wallet)]);
  for (const t of targets) out.add(getAddress(t));
  for (const c of simulated ?? []) if (c.asset === "native") out.add(getAddress(c.account));
  return [...out];
}

/** An asset id in one form: "native", a checksummed token, or "<checksummed contract>/<id>". */
export function normalizeAsset(asset: string): string {
  if (asset === "native") return asset;
  const [contract, id] = asset.split("/");
  return id === undefined ? getAddress(contract!) : `${getAddress(contract!)}/${id}`;
}

/**
 * Whether `actual` equals `simulated` for every (account, asset) either names (a pair one of them omits is a zero).
 * @example matchesSimulation([{ account, asset: "native", delta: -1n }], [{ account, asset: "native", delta: -1n }]) // true
 */
export function matchesSimulation(simulated: readonly AssetChange[], actual: readonly AssetChange[]): boolean {
  const sums = new Map<string, bigint>();
  const key = (c: AssetChange) => `${getAddress(c.account)}:${normalizeAsset(c.asset)}`;
  for (const c of simulated) sums.set(key(c), (sums.get(key(c)) ?? 0n) + c.delta);
  for (const c of actual) sums.set(key(c), (sums.get(key(c)) ?? 0n) - c.delta);
  return [...sums.values()].every((d) => d === 0n);
}

/**
 * The changes an operation actually made: its segment's token and NFT changes and the measured ETH changes.
 * @example actualChanges(segment, new Map([[wallet, -10n], [alice, 10n]]))
 */
export function actualChanges(segment: readonly RawLog[], nativeDeltas: ReadonlyMap<Address, bigint>): AssetChange[] {
  const native = [...nativeDeltas].map(([account, delta]) => ({ account, asset: "native", delta }));
  return netChanges([...native, ...tokenChanges(segment)]);
}
