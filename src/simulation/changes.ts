/**
 * What an operation did, read from the receipt's logs and checked against balances before and after.
 * Logs say who moved what; balances say what actually moved (fee-on-transfer and rebasing tokens included).
 */
import { decodeAbiParameters, getAddress, parseAbi, toEventSelector, type Address, type Hex } from "viem";

/** A log as the fork's receipt gives it. */
export interface RawLog {
  address: string;
  topics: string[];
  data: string;
}

/** A net change of one asset for one account: "native", an ERC-20 address, or "<contract>/<id>" for an NFT. */
export interface AssetChange {
  account: Address;
  asset: string;
  delta: bigint;
}

/** An approval the batch granted, seen in a log. */
export interface ApprovalSeen {
  kind: "erc20" | "erc721" | "operator" | "permit2";
  contract: Address;
  owner: Address;
  spender: Address;
  /** Amount for ERC-20/Permit2, token id for ERC-721, 1 for an operator approval, 0 when revoked. */
  amount: bigint;
}

/** A change of control seen in a log of a touched contract. */
export interface ControlEvent {
  contract: Address;
  event: string;
}

export interface ParsedLogs {
  /** ERC-20 transfers: token → accounts that sent or received. */
  erc20Accounts: Map<Address, Set<Address>>;
  /** ERC-20 net changes per token and account, as the logs claim them. */
  erc20LogDeltas: Map<string, bigint>;
  /** NFT changes (ERC-721 and ERC-1155), from logs only. */
  nftChanges: AssetChange[];
  approvals: ApprovalSeen[];
  control: ControlEvent[];
  /** Every contract that emitted a log. */
  emitters: Set<Address>;
}

export const EVENT_ABI = parseAbi([
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Approval(address indexed owner, address indexed spender, uint256 value)",
  "event ApprovalForAll(address indexed owner, address indexed operator, bool approved)",
  "event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value)",
  "event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values)",
  "event Approval(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration)",
  "event Permit(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration, uint48 nonce)",
]);

const T = {
  transfer: toEventSelector("Transfer(address,address,uint256)"),
  approval: toEventSelector("Approval(address,address,uint256)"),
  approvalForAll: toEventSelector("ApprovalForAll(address,address,bool)"),
  transferSingle: toEventSelector("TransferSingle(address,address,address,uint256,uint256)"),
  transferBatch: toEventSelector("TransferBatch(address,address,address,uint256[],uint256[])"),
  permit2Approval: toEventSelector("Approval(address,address,address,uint160,uint48)"),
  permit2Permit: toEventSelector("Permit(address,address,address,uint160,uint48,uint48)"),
};

/** Events that change who controls a contract: any of them on a touched contract is a refusal. */
export const CONTROL_EVENTS: Record<string, string> = Object.fromEntries(
  [
    "OwnershipTransferred(address,address)",
    "OwnershipTransferStarted(address,address)",
    "Upgraded(address)",
    "AdminChanged(address,address)",
    "BeaconUpgraded(address)",
    "RoleGranted(bytes32,address,address)",
    "RoleRevoked(bytes32,address,address)",
    "RoleAdminChanged(bytes32,bytes32,bytes32)",
  ].map((sig) => [toEventSelector(sig), sig.slice(0, sig.indexOf("("))]),
);

/** EIP-1967 implementation, admin and beacon slots. */
export const EIP1967_SLOTS = [
  "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc",
  "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103",
  "0xa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50",
] as const;

const topicAddress = (topic: string): Address => getAddress(`0x${topic.slice(26)}`);
const word = (data: string, index: number): bigint => BigInt(`0x${data.slice(2 + index * 64, 2 + (index + 1) * 64) || "0"}`);

/**
 * Sorts a receipt's logs into transfers, approvals and control changes.
 * @example const parsed = parseLogs(receipt.logs)
 */
export function parseLogs(logs: readonly RawLog[]): ParsedLogs {
  const out: ParsedLogs = {
    erc20Accounts: new Map(),
    erc20LogDeltas: new Map(),
    nftChanges: [],
    approvals: [],
    control: [],
    emitters: new Set(),
  };
  const add = (account: Address, asset: string, delta: bigint) => out.nftChanges.push({ account, asset, delta });
  for (const log of logs) {
    const contract = getAddress(log.address);
    out.emitters.add(contract);
    const [topic0, t1, t2, t3] = log.topics;
    if (!topic0) continue;
    const control = CONTROL_EVENTS[topic0];
    if (control) {
      out.control.push({ contract, event: control });
      continue;
    }
    if (topic0 === T.transfer && t1 && t2) {
      const from = topicAddress(t1);
      const to = topicAddress(t2);
      if (t3 === undefined) {
        const value = word(log.data, 0);
        const accounts = out.erc20Accounts.get(contract) ?? new Set<Address>();
        accounts.add(from).add(to);
        out.erc20Accounts.set(contract, accounts);
        out.erc20LogDeltas.set(`${contract}:${from}`, (out.erc20LogDeltas.get(`${contract}:${from}`) ?? 0n) - value);
        out.erc20LogDeltas.set(`${contract}:${to}`, (out.erc20LogDeltas.get(`${contract}:${to}`) ?? 0n) + value);
      } else {
        const asset = `${contract}/${BigInt(t3)}`;
        add(from, asset, -1n);
        add(to, asset, 1n);
      }
    } else if (topic0 === T.approval && t1 && t2) {
      const amount = t3 === undefined ? word(log.data, 0) : BigInt(t3);
      const kind = t3 === undefined ? "erc20" : "erc721";
      const spender = topicAddress(t2);
      out.approvals.push({ kind, contract, owner: topicAddress(t1), spender, amount: kind === "erc721" && spender === ZERO ? 0n : amount });
    } else if (topic0 === T.approvalForAll && t1 && t2) {
      out.approvals.push({ kind: "operator", contract, owner: topicAddress(t1), spender: topicAddress(t2), amount: word(log.data, 0) });
    } else if ((topic0 === T.permit2Approval || topic0 === T.permit2Permit) && t1 && t3) {
      out.approvals.push({ kind: "permit2", contract, owner: topicAddress(t1), spender: topicAddress(t3), amount: word(log.data, 0) });
    } else if (topic0 === T.transferSingle && t2 && t3) {
      const asset = `${contract}/${word(log.data, 0)}`;
      const value = word(log.data, 1);
      add(topicAddress(t2), asset, -value);
      add(topicAddress(t3), asset, value);
    } else if (topic0 === T.transferBatch && t2 && t3) {
      const [ids, values] = decodeAbiParameters([{ type: "uint256[]" }, { type: "uint256[]" }], log.data as Hex);
      ids.forEach((id, i) => {
        add(topicAddress(t2), `${contract}/${id}`, -values[i]!);
        add(topicAddress(t3), `${contract}/${id}`, values[i]!);
      });
    }
  }
  out.nftChanges = netChanges(out.nftChanges);
  return out;
}

const ZERO = "0x0000000000000000000000000000000000000000" as Address;

/** Sums changes per (account, asset) and drops zeros and the zero address (mints and burns). */
export function netChanges(changes: readonly AssetChange[]): AssetChange[] {
  const sums = new Map<string, AssetChange>();
  for (const c of changes) {
    if (c.account === ZERO) continue;
    const id = `${c.account}:${c.asset}`;
    const prev = sums.get(id);
    sums.set(id, { account: c.account, asset: c.asset, delta: (prev?.delta ?? 0n) + c.delta });
  }
  return [...sums.values()].filter((c) => c.delta !== 0n);
}

/** A list of (asset, account) balance reads without duplicates; asset "native" or a token address. */
export class BalanceWatch {
  private readonly seen = new Set<string>();
  readonly pairs: { asset: string; account: Address }[] = [];

  add(asset: string, account: Address): this {
    if (account === ZERO) return this;
    const id = `${asset}:${account}`;
    if (!this.seen.has(id)) {
      this.seen.add(id);
      this.pairs.push({ asset, account });
    }
    return this;
  }

  /** Whether `account`'s balance of `asset` is watched (the zero address's never needs to be). */
  has(asset: string, account: Address): boolean {
    return account === ZERO || this.seen.has(`${asset}:${account}`);
  }

  /** The pairs watched so far, in order, as one string (the key of what was read for them). */
  get key(): string {
    return this.pairs.map((p) => `${p.asset}/${p.account}`).join(",");
  }
}

const BUDGET_CHARGED = toEventSelector("BudgetCharged(address,uint256)");

/**
 * The wallet's gross outflow per asset ("native" or a token address): what leaves it, never netted against what
 * comes in. For native ETH the sum of the calls' values (the agent path sends ETH in no other way); for a token the
 * sum of its Transfer logs from the wallet; and for every budgeted asset at least what the wallet itself charged
 * (its BudgetCharged events), which is exactly what the chain will charge for this execution.
 * @example grossOutflows(wallet, calls, receipt.logs) // Map { "0xA0b8…" => 5000000000n }
 */
export function grossOutflows(wallet: Address, calls: readonly { value: bigint }[], logs: readonly RawLog[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const add = (asset: string, amount: bigint) => out.set(asset, (out.get(asset) ?? 0n) + amount);
  const atLeast = (asset: string, amount: bigint) => {
    if (amount > (out.get(asset) ?? 0n)) out.set(asset, amount);
  };
  for (const c of calls) if (c.value > 0n) add("native", c.value);
  const charged = new Map<string, bigint>();
  for (const log of logs) {
    const [topic0, t1, t2, t3] = log.topics;
    const contract = getAddress(log.address);
    if (topic0 === T.transfer && t1 && t2 && t3 === undefined && topicAddress(t1) === wallet) add(contract, word(log.data, 0));
    if (topic0 === BUDGET_CHARGED && contract === wallet && t1) {
      const token = topicAddress(t1);
      const asset = token === ZERO ? "native" : token;
      charged.set(asset, (charged.get(asset) ?? 0n) + word(log.data, 0));
    }
  }
  for (const [asset, amount] of charged) atLeast(asset, amount);
  for (const [asset, amount] of [...out]) if (amount === 0n) out.delete(asset);
  return out;
}
