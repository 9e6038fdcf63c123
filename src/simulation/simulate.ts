/**
 * Simulate: run the exact `execute(...)` that would be sent, on the fork, from a relayer, in a block that looks
 * like the real next one; read every change it made; then revert. Nothing here decides anything.
 */
import {
  getAddress,
  toEventSelector,
  toFunctionSelector,
  zeroAddress,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { abiFunction, type AbiFunctionCodec } from "../chain/abi-function";
import { loadArtifact } from "../chain/artifacts";
import type { Bound, Call } from "../eip712";
import { CountersignError } from "../errors";
import { errorData, isRevert, transactionHashOf } from "../errors/classify";
import { heaviestCallBound, isTight, measureCallGas, type CallGasUse, type StructLog } from "./call-gas";
import { BalanceWatch, EIP1967_SLOTS, grossOutflows, netChanges, parseLogs, type ApprovalSeen, type AssetChange, type ControlEvent, type RawLog } from "./changes";
import type { EvmRequest } from "./evm";
import { batchOf, type BlockEnv, type EvmCall } from "./next-block";
import { canMoveEth, traceValueRecipients } from "./value-trace";
import { observeAnswer, observeCalldata, type AllowanceRead, type BalanceRead, type Observation } from "./observe-call";
import { CONTROL_FIELDS, CONTROL_READS, controlOf, controlRequests, type WalletControl } from "./wallet-control";

/**
 * What a simulation needs of the fork it runs on, besides the EVM itself: the process the EVM lives in provides it
 * (evm-host.ts). `stateVersion` changes whenever the EVM's state between runs may have (see Fork.stateVersion).
 */
export interface SimulationHost {
  readonly reader: Address;
  readonly relayer: Address;
  readonly stateVersion: number;
  /** A snapshot of the EVM's state with the next block's environment `env` set: the run reverts to it. */
  snapshot(env: BlockEnv): Promise<string>;
  /**
   * Reverts the EVM to `snapshot`; if that fails the EVM holds a simulation's effects: it is marked dirty (rebuilt
   * before the next run) and this throws SIMULATION_FAILED.
   */
  revert(snapshot: string): Promise<void>;
  /**
   * The requests that revert to `snapshot` (and take the next run's snapshot), to end the batch that makes a run's
   * last reads inside it: the revert then needs no crossing of its own. `reverted` takes their answers, as `revert`
   * does (a failed revert marks the EVM dirty and throws SIMULATION_FAILED). A host without them reverts alone.
   */
  revertRequests?(snapshot: string): EvmRequest[];
  reverted?(snapshot: string, answers: readonly unknown[]): void;
  feeFields(env: BlockEnv): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex };
}

/** The wallet's answers to "may this signer use this nonce now?" read on the fork. */
export interface AuthState {
  validUntil: bigint;
  nonceUsed: boolean;
  paused: boolean;
  cosigner: Address;
  owner: Address;
  selfIsGuardian: boolean;
  selfIsSessionKey: boolean;
  budgetedTokens: readonly Address[];
}

/** The exact call the simulation sends, and what else to watch. */
export interface SimulationInput {
  wallet: Address;
  calls: readonly Call[];
  nonce: bigint;
  deadline: bigint;
  /** Gas every call gets, exactly (gas). */
  callGasLimit: bigint;
  /** Outcome bounds the wallet checks after the batch. */
  bounds: readonly Bound[];
  agentSignature: Hex;
  cosignerSignature: Hex;
  /** Extra (asset, account) balances to read, e.g. the intent's recipient. */
  watch?: { asset: string; account: Address }[];
}

/** Everything the fork showed. */
export interface SimulationResult {
  blockNumber: bigint;
  timestamp: bigint;
  success: boolean;
  revertData?: Hex;
  gasUsed: bigint;
  /**
   * Net balance changes of every watched account, from balances before and after (non-zero only). Native balances
   * are watched for the wallet, the call targets and, when a target's code could move ETH, every account the
   * transaction's trace shows receiving ETH.
   */
  changes: AssetChange[];
  /**
   * The wallet's gross outflow per asset ("native" or a token), never netted against inflows: for budgeted assets
   * at least what the wallet charged (BudgetCharged), for tokens the sum of Transfer logs from the wallet, for
   * native the calls' values. Empty when the simulation reverted.
   */
  grossOutflow: Map<string, bigint>;
  /** The heaviest call's gas against callGasLimit (exact from a trace when the receipt bound is not enough). */
  callGas: CallGasUse;
  /** Where the ERC-20 logs and the balances disagree (fee-on-transfer, rebasing): "token:account" → balance − logs. */
  logBalanceGaps: Map<string, bigint>;
  /** Balances that could not be read before or after (balanceOf reverted or answered badly). */
  unreadable: { asset: string; account: Address }[];
  approvals: (ApprovalSeen & { remaining: bigint })[];
  control: ControlEvent[];
  /** Fields of the wallet's own control state that changed, e.g. "owner", "sessionKeys". */
  walletStateChanges: string[];
}

let walletAbi: Abi | undefined;
let readerAbi: Abi | undefined;
const abis = () => {
  walletAbi ??= loadArtifact("AgentWallet").abi;
  readerAbi ??= loadArtifact("StateReader").abi;
  return { walletAbi, readerAbi };
};

let executeCodec: AbiFunctionCodec | undefined;
const readerCodecs = new Map<string, AbiFunctionCodec>();
/** The codec of StateReader's function `name`. */
function readerFunction(name: string): AbiFunctionCodec {
  let codec = readerCodecs.get(name);
  if (!codec) readerCodecs.set(name, (codec = abiFunction(abis().readerAbi, name)));
  return codec;
}

/** The calldata of `execute(...)`. */
export function encodeExecute(input: Omit<SimulationInput, "wallet" | "watch">): Hex {
  executeCodec ??= abiFunction(abis().walletAbi, "execute");
  return executeCodec.encode([
    input.calls,
    input.nonce,
    input.deadline,
    input.callGasLimit,
    input.bounds.map((b) => ({ ...b })),
    input.agentSignature,
    input.cosignerSignature,
  ]);
}

/** Events the wallet emits on the agent path; any other event of the wallet is a change of its own state. */
const AGENT_PATH_EVENT_NAMES = ["Executed", "BudgetCharged"];
let walletEvents: Map<Hex, string> | undefined;
/** The name of the wallet's event with topic `topic0`, if it has one. */
function walletEventName(topic0: Hex): string | undefined {
  walletEvents ??= new Map(
    (abis().walletAbi as { type: string; name?: string; inputs?: { type: string }[] }[])
      .filter((e) => e.type === "event")
      .map((e) => [toEventSelector(`${e.name}(${(e.inputs ?? []).map((i) => i.type).join(",")})`), e.name ?? ""]),
  );
  return walletEvents.get(topic0);
}

/** prepare()'s Query of `pairs`' balances. */
function query(pairs: readonly BalanceRead[]) {
  return {
    assets: pairs.map((p) => (p.asset === "native" ? zeroAddress : (p.asset as Address))),
    accounts: pairs.map((p) => p.account),
    allowanceTokens: [],
    allowanceOwners: [],
    allowanceSpenders: [],
  };
}

/** Gas of one StateReader call: bounds what a contract posing as a wallet can make the fork do. */
const READER_GAS = "0x1c9c380"; // 30,000,000

/** The `eth_call` of StateReader.`functionName`(...`args`) at the latest block. */
function readerRequest(reader: Address, functionName: string, args: readonly unknown[]): EvmRequest {
  return readerCallOf(reader, readerFunction(functionName).encode(args));
}

/** The `eth_call` of the StateReader with calldata `data` at the latest block. */
function readerCallOf(reader: Address, data: Hex): EvmRequest {
  return { method: "eth_call", params: [{ to: reader, data, gas: READER_GAS }, "latest"] };
}

/** A StateReader answer, decoded. */
function readerAnswer<T>(functionName: string, raw: unknown): T {
  return readerFunction(functionName).decode<T>(raw as Hex);
}

/**
 * Observe's calldata by watch list, and its answers decoded by their bytes: every decision of a wallet
 * reads the same pairs after its transaction, and at one state the same transfer leaves the same balances. Decoded
 * answers are shared, never changed. Emptied when full.
 */
const OBSERVE_MEMO_LIMIT = 1024;
const observeCalls = new Map<string, Hex>();
const observeAnswers = new Map<string, Observation>();
function remember<K, V>(memo: Map<K, V>, key: K, value: V): V {
  if (memo.size >= OBSERVE_MEMO_LIMIT) memo.clear();
  memo.set(key, value);
  return value;
}

async function readerCall<T>(rpc: EvmCall, reader: Address, functionName: string, args: readonly unknown[]): Promise<T> {
  const { method, params } = readerRequest(reader, functionName, args);
  return readerAnswer<T>(functionName, await rpc(method, params));
}

/** StateReader.observe() of `pairs` and `allowances`, now. */
async function observeNow(rpc: EvmCall, reader: Address, pairs: readonly BalanceRead[], allowances: readonly AllowanceRead[] = []): Promise<Observation> {
  const { method, params } = readerCallOf(reader, observeCalldata(pairs, allowances));
  return observeAnswer(await rpc<Hex>(method, params), pairs.length, allowances.length);
}

/** The reads of `contracts`' EIP-1967 slots at the latest block, contract by contract. */
function slotRequests(contracts: readonly Address[]): EvmRequest[] {
  return contracts.flatMap((c) => EIP1967_SLOTS.map((slot) => ({ method: "eth_getStorageAt", params: [c, slot, "latest"] })));
}

async function readSlots(rpc: EvmCall, contracts: Address[]): Promise<string[]> {
  return Promise.all(slotRequests(contracts).map((r) => rpc<string>(r.method, r.params)));
}

/** The EIP-1967 slot values of the `index`-th contract in a readSlots answer. */
function slotsOf(values: readonly string[], index: number): string[] {
  return values.slice(index * EIP1967_SLOTS.length, (index + 1) * EIP1967_SLOTS.length);
}

/** Like Promise.all, but throws only once every request has settled: none is left running on the fork. */
async function settled<T extends readonly unknown[]>(promises: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** What prepare read at one state version of a fork: a run at the same version reads it from here. */
interface Memo {
  version: number;
  /** StateReader.prepare answers by wallet, signer, co-signer and watched pairs (their nonceUsed is another nonce's). */
  prepared: Map<string, readonly [AuthState, Observation]>;
  /** The control state of a wallet. */
  control: Map<Address, WalletControl>;
  /** EIP-1967 slot values of a target. */
  slots: Map<Address, string[]>;
  /** Code of a target. */
  code: Map<Address, Hex>;
}
const MEMO_LIMIT = 4096;
const memos = new WeakMap<SimulationHost, Memo>();
function memoOf(fork: SimulationHost): Memo {
  let memo = memos.get(fork);
  const sized = memo && memo.prepared.size + memo.control.size + memo.slots.size + memo.code.size < MEMO_LIMIT;
  if (!memo || memo.version !== fork.stateVersion || !sized) {
    memo = { version: fork.stateVersion, prepared: new Map(), control: new Map(), slots: new Map(), code: new Map() };
    memos.set(fork, memo);
  }
  return memo;
}

/** `keys`' values from `cache`, reading (and remembering) only the missing ones with `read`. */
async function remembered<V>(cache: Map<Address, V>, keys: readonly Address[], read: (missing: Address[]) => Promise<V[]>): Promise<V[]> {
  const missing = keys.filter((k) => !cache.has(k));
  if (missing.length > 0) {
    const values = await read(missing);
    missing.forEach((k, i) => cache.set(k, values[i]!));
  }
  return keys.map((k) => cache.get(k)!);
}

const NONCE_ALREADY_USED = toFunctionSelector("NonceAlreadyUsed(uint256)");

/**
 * The refusal of an operation whose nonce the wallet already used (executed or invalidated).
 * @example throw nonceUsedError(7n) // NONCE_USED: "nonce 7 was already used on chain"
 */
export function nonceUsedError(nonce: bigint): CountersignError {
  return new CountersignError("NONCE_USED", `nonce ${nonce} was already used on chain`);
}

/** Whether `revertData` is the wallet's NonceAlreadyUsed(nonce) for this `nonce`. */
function isNonceAlreadyUsed(revertData: Hex | undefined, nonce: bigint): boolean {
  return revertData?.length === 74 && revertData.slice(0, 10) === NONCE_ALREADY_USED && BigInt(`0x${revertData.slice(10)}`) === nonce;
}

/** Budgeted tokens per wallet, as last read: their balances are read before the simulation in the same call. */
const knownBudgetedTokens = new WeakMap<SimulationHost, Map<Address, readonly Address[]>>();
function budgetedTokensOf(fork: SimulationHost): Map<Address, readonly Address[]> {
  let known = knownBudgetedTokens.get(fork);
  if (!known) knownBudgetedTokens.set(fork, (known = new Map()));
  return known;
}

/**
 * Reads the wallet's auth state (refused by `checkAuth` if it must be), runs the operation on the fork (inside
 * `fork.run`), and reports what it changed. Two calls to the fork's StateReader in the common case: prepare
 * (auth and balances before; the wallet's control state and the call targets' EIP-1967 slots are read from storage
 * beside it), observe (balances after, inside the snapshot, beside the same storage reads after), and nothing after
 * the revert unless the logs named accounts or contracts whose balances or slots were not read before. The targets'
 * code is read beside prepare: when any of it could move ETH (value-trace.ts), the transaction is traced and every
 * account it sent ETH to is watched too.
 * @example const result = await fork.run((rpc, env) => simulateOperation(fork, rpc, env, input, self, check))
 */
export async function simulateOperation(
  fork: SimulationHost,
  rpc: EvmCall,
  env: BlockEnv,
  input: SimulationInput & { signer: Address },
  self: Address,
  checkAuth: (auth: AuthState) => void,
): Promise<SimulationResult> {
  const prepared = await prepare(fork, rpc, env, input, self, checkAuth);
  // The revert rides in the transaction's batch unless the transaction is to be traced (it could pay ETH); when what
  // the transaction showed needs another look inside the snapshot (the logs named more, the calls' gas needs the
  // trace), the same transaction runs again in the next run's snapshot, at the same state, and that run is observed.
  let after = await executeAndObserve(fork, rpc, env, input, prepared, !prepared.mayMoveEth && fork.revertRequests !== undefined);
  // (Without a riding revert the observation is always made: never undefined.)
  after ??= (await executeAndObserve(fork, rpc, env, input, { ...prepared, snapshot: await fork.snapshot(env) }, false))!;
  const lateBefore = await observeLateBefore(fork, rpc, input, prepared, after);
  return diff(env, input, prepared, after, lateBefore);
}

/**
 * Sends the transaction in `prepared`'s snapshot and observes it, then reverts to the snapshot: in the transaction's
 * batch when `rideRevert` (then undefined when the observation needed more inside the snapshot), or after.
 */
async function executeAndObserve(
  fork: SimulationHost,
  rpc: EvmCall,
  env: BlockEnv,
  input: SimulationInput,
  prepared: Prepared,
  rideRevert: boolean,
): Promise<AfterState | undefined> {
  let execution: Execution | undefined;
  try {
    execution = await execute(fork, rpc, env, input, prepared, rideRevert);
    // The same refusal as prepare's, when the wallet's state came from another nonce's read at this state version.
    if (isNonceAlreadyUsed(execution.revertData, input.nonce)) throw nonceUsedError(input.nonce);
    return await observe(fork, rpc, input, prepared, execution);
  } finally {
    if (!execution?.reverted) await fork.revert(prepared.snapshot);
  }
}

/** What prepare read and built before the transaction: everything the later stages need. */
interface Prepared {
  /** Every (asset, account) balance to read; the stages append to it, so indices up to a count stay stable. */
  watch: BalanceWatch;
  /** How many watched pairs had their balances read before the transaction, in prepare. */
  knownCount: number;
  /** How many watched pairs observe reads in its first round trip (knownCount plus the wallet's budgeted tokens). */
  observedCount: number;
  /** The distinct call targets other than the wallet. */
  targets: Address[];
  snapshot: string;
  /** The calldata of `execute(...)`. */
  data: Hex;
  auth: AuthState;
  stateBefore: WalletControl;
  before: Observation;
  /** The targets' EIP-1967 slot values before; observeLateBefore adds the contracts only the logs named. */
  slotsBeforeOf: Map<Address, string[]>;
  /** Whether a target's code could move ETH (then the transaction is traced for ETH recipients). */
  mayMoveEth: boolean;
}

/** The fields of a transaction's receipt a simulation reads. */
interface Receipt {
  gasUsed: string;
  logs: RawLog[];
  status: string;
}

/**
 * What sending the transaction answered: its hash, its receipt's fields and the firstReads answers after it, or the
 * revert data when it failed.
 */
interface Execution {
  hash?: Hex;
  receipt?: Receipt | null;
  after?: unknown[];
  revertData?: Hex;
  /** The revert rode in the transaction's batch: nothing more can be read inside the snapshot. */
  reverted?: boolean;
}

/** What the fork showed after the transaction, read inside the snapshot. */
interface AfterState {
  success: boolean;
  revertData?: Hex;
  gasUsed: bigint;
  callGas: CallGasUse;
  logs: RawLog[];
  parsed: ReturnType<typeof parseLogs>;
  stateAfter: WalletControl;
  /** Balances of every watched pair (in watch order) and the allowances of allowanceReads. */
  after: Observation;
  allowanceReads: AllowanceRead[];
  /** Contracts whose EIP-1967 slots are compared: the targets and every contract that emitted a log. */
  touched: Address[];
  slotsAfter: string[];
}

/** The values before the transaction of what only the transaction named, read after the revert. */
interface LateBefore {
  /** Balances before of watch.pairs from knownCount on. */
  extra: Observation;
  /** EIP-1967 slot values before of every touched contract, in touched order. */
  slotsBefore: string[];
}

const NO_OBSERVATION: Observation = { balances: [], balanceOk: [], allowances: [] };

/**
 * Prepare: reads auth, the wallet's control state, balances and the targets' slots and code before, sets the next
 * block, takes the snapshot and encodes the call; refuses (dropping the snapshot) if `checkAuth` or the gas limit
 * says so.
 */
async function prepare(
  fork: SimulationHost,
  rpc: EvmCall,
  env: BlockEnv,
  input: SimulationInput & { signer: Address },
  self: Address,
  checkAuth: (auth: AuthState) => void,
): Promise<Prepared> {
  const watch = new BalanceWatch();
  watch.add("native", input.wallet);
  for (const call of input.calls) watch.add("native", call.target);
  for (const token of budgetedTokensOf(fork).get(input.wallet) ?? []) watch.add(token, input.wallet);
  for (const w of input.watch ?? []) watch.add(w.asset, w.account);
  const knownCount = watch.pairs.length;

  // One round trip before the transaction: prepare (auth and balances before), the wallet's control state and the
  // call targets' EIP-1967 slots before, and the snapshot (after the next block's environment, when that must be set
  // again).
  // Reads at "latest" see neither the next block's settings nor the snapshot (and nothing else runs on the fork
  // meanwhile), so their order does not matter.
  // What was read at this state version before is still true (see Fork.stateVersion); the nonce read was another
  // nonce's, and this one is checked by the transaction itself (a used nonce reverts NonceAlreadyUsed).
  const targets = [...new Set(input.calls.map((c) => c.target))].filter((c) => c !== input.wallet);
  const memo = memoOf(fork);
  const preparedKey = `${input.wallet}:${input.signer}:${self}:${watch.key}`;
  const known = memo.prepared.get(preparedKey);
  const firstTrip = Promise.allSettled([
    known
      ? Promise.resolve([{ ...known[0], nonceUsed: false }, known[1]] as const)
      : readerCall<readonly [AuthState, Observation]>(rpc, fork.reader, "prepare", [input.wallet, input.signer, input.nonce, self, query(watch.pairs)]).then(
          (read) => (memo.prepared.set(preparedKey, read), read),
        ),
    remembered(memo.slots, targets, (missing) => readSlots(rpc, missing).then((values) => missing.map((_, i) => slotsOf(values, i)))).then((perTarget) =>
      perTarget.flat(),
    ),
    fork.snapshot(env),
    remembered(memo.code, targets, (missing) => settled<Hex[]>(missing.map((t) => rpc<Hex>("eth_getCode", [t, "latest"])))),
    remembered(memo.control, [input.wallet], async ([wallet]) => [controlOf(await batchOf(rpc)(controlRequests(wallet!)))]),
  ]);
  // Encoded while the fork works; a failure is thrown below, once the snapshot can be dropped.
  const encoded = (() => {
    try {
      return { data: encodeExecute(input) };
    } catch (error) {
      return { error };
    }
  })();
  const [preparedRead, targetSlotsRead, snapshotTaken, targetCodeRead, controlRead] = await firstTrip;
  if (snapshotTaken.status === "rejected") throw snapshotTaken.reason;
  const snapshot = snapshotTaken.value;
  try {
    if (preparedRead.status === "rejected") {
      if (isRevert(preparedRead.reason)) {
        throw new CountersignError("WALLET_NOT_FOUND", `${input.wallet} is not an AgentWallet on this chain`, { wallet: input.wallet });
      }
      throw preparedRead.reason;
    }
    if (targetSlotsRead.status === "rejected") throw targetSlotsRead.reason;
    if (targetCodeRead.status === "rejected") throw targetCodeRead.reason;
    if (controlRead.status === "rejected") throw controlRead.reason;
    // Code that could pay ETH to an account no one watches: then the transaction is traced (fails closed if it cannot be).
    const mayMoveEth = targetCodeRead.value.some(canMoveEth);
    if ("error" in encoded) throw encoded.error;
    const slotsBeforeOf = new Map(targets.map((c, i) => [c, slotsOf(targetSlotsRead.value, i)]));
    const [rawAuth, before] = preparedRead.value;
    const stateBefore = controlRead.value[0]!;
    // viem decodes uint48 as a number: make validUntil the bigint AuthState promises, or `validUntil === 0n` never holds.
    const auth: AuthState = { ...rawAuth, validUntil: BigInt(rawAuth.validUntil) };
    budgetedTokensOf(fork).set(input.wallet, auth.budgetedTokens);
    checkAuth(auth);
    if (input.callGasLimit > env.gasLimit) {
      throw new CountersignError(
        "INSUFFICIENT_GAS",
        `callGasLimit ${input.callGasLimit} is above the block gas limit ${env.gasLimit}: no relayer could ever give a call that much`,
        { callGasLimit: input.callGasLimit.toString(), blockGasLimit: env.gasLimit.toString() },
      );
    }
    for (const token of auth.budgetedTokens) watch.add(token, input.wallet);
    const observedCount = watch.pairs.length;
    return { watch, knownCount, observedCount, targets, snapshot, data: encoded.data, auth, stateBefore, before, slotsBeforeOf, mayMoveEth };
  } catch (err) {
    // Nothing ran: drop the snapshot (the refusal stands whatever happens to it).
    await fork.revert(snapshot).catch(() => undefined);
    throw err;
  }
}

/**
 * The reads right after the transaction, in the batch that sends it: observe (balances), the targets' slots and the
 * wallet's control state after; afterReads splits their answers.
 */
function firstReads(fork: SimulationHost, input: SimulationInput, prepared: Prepared): EvmRequest[] {
  const { watch } = prepared;
  const key = watch.key;
  const data = observeCalls.get(key) ?? remember(observeCalls, key, observeCalldata(watch.pairs));
  return [readerCallOf(fork.reader, data), ...slotRequests(prepared.targets), ...controlRequests(input.wallet)];
}

/** The answers of firstReads: observe's (decoded), the targets' slot values, the wallet's control state. */
function afterReads(answers: readonly unknown[], { targets, observedCount }: Prepared): { observed: Observation; targetSlots: string[]; control: WalletControl } {
  const raw = answers[0] as Hex;
  const slotCount = targets.length * EIP1967_SLOTS.length;
  return {
    observed: observeAnswers.get(raw) ?? remember(observeAnswers, raw, observeAnswer(raw, observedCount, 0)),
    targetSlots: answers.slice(1, 1 + slotCount) as string[],
    control: controlOf(answers.slice(1 + slotCount, 1 + slotCount + CONTROL_READS)),
  };
}

/**
 * Execute: sends the exact `execute(...)` from the fork's relayer, and in the same batch reads its block, the block's
 * logs and the state after (firstReads); a transaction that failed once mined is a revert.
 */
async function execute(fork: SimulationHost, rpc: EvmCall, env: BlockEnv, input: SimulationInput, prepared: Prepared, rideRevert: boolean): Promise<Execution> {
  const tx = { from: fork.relayer, to: input.wallet, data: prepared.data, gas: `0x${env.gasLimit.toString(16)}`, ...fork.feeFields(env) };
  const revert = rideRevert ? fork.revertRequests!(prepared.snapshot) : [];
  let answers: unknown[];
  try {
    answers = await batchOf(rpc)([
      { method: "eth_sendTransaction", params: [tx] },
      // Automined: the latest block is the one that holds the transaction (checked below).
      { method: "eth_getBlockByNumber", params: ["latest", false] },
      { method: "eth_getLogs", params: [{ fromBlock: "latest", toBlock: "latest" }] },
      ...firstReads(fork, input, prepared),
      // Last: a failure before them (the transaction's own, a read's) stops the batch before the revert.
      ...revert,
    ]);
  } catch (err) {
    // Only the transaction's own failure names its hash (EDR mined it, and it failed): its revert data, when it has
    // some. Any other failure (a transaction refused before it ran, a read after it) is thrown as it came.
    if (transactionHashOf(err) === undefined) throw err;
    const revertData = revertDataOf(err);
    if (revertData === undefined) throw err;
    return { revertData };
  }
  const reverted = revert.length > 0;
  if (reverted) fork.reverted!(prepared.snapshot, answers.splice(answers.length - revert.length));
  const [hash, block, blockLogs, ...after] = answers as [Hex, { gasUsed: string; transactions: Hex[] } | null, (RawLog & { transactionHash: Hex })[], ...unknown[]];
  // EDR throws for a transaction that failed (throwOnTransactionFailures): this one succeeded. Its block's gas and
  // logs are its own when it is the block's only transaction; otherwise the receipt says (read inside the snapshot).
  const alone = block?.transactions.length === 1 && block.transactions[0] === hash;
  if (alone) return { hash, receipt: { gasUsed: block.gasUsed, logs: blockLogs.filter((l) => l.transactionHash === hash), status: "0x1" }, after, reverted };
  if (reverted) return { hash, after, reverted };
  return { hash, receipt: await rpc<Receipt | null>("eth_getTransactionReceipt", [hash]), after };
}

/**
 * Observe, inside the snapshot: the receipt, the state, balances and slots after, the trace (for ETH recipients and
 * the calls' gas, only when needed), then the balances, allowances and slots after of what only the logs named.
 */
async function observe(fork: SimulationHost, rpc: EvmCall, input: SimulationInput, prepared: Prepared, execution: Execution): Promise<AfterState | undefined> {
  const { watch, targets, slotsBeforeOf, observedCount } = prepared;
  const { hash, receipt } = execution;
  let success = hash !== undefined;
  let gasUsed = 0n;
  let callGas: CallGasUse = { used: 0n, exact: false };
  let logs: RawLog[] = [];
  // The state after for everything known before the logs came with the transaction (or, when it failed, is read
  // now); what only the logs name (more balances, allowances, emitting contracts) is read in a second round trip,
  // still inside the snapshot.
  if (execution.reverted && !receipt) return undefined;
  const answers = execution.after ?? (await batchOf(rpc)(firstReads(fork, input, prepared)));
  const { observed, targetSlots: targetSlotsAfter, control: stateAfter } = afterReads(answers, prepared);
  if (hash !== undefined && !receipt) throw new CountersignError("SIMULATION_FAILED", "the fork returned no receipt for the simulated transaction");
  if (receipt) {
    gasUsed = BigInt(receipt.gasUsed);
    logs = receipt.logs;
    success = receipt.status === "0x1";
  }
  const parsed = parseLogs(logs);
  // Reverted already: what the batch read must be all the observation needs, or it is made again (see simulateOperation).
  if (execution.reverted && !(success && readInBatch(input, prepared, parsed, gasUsed))) return undefined;
  if (receipt && success) {
    // Traced for ETH payments only if a target's code could make one, and for the calls' gas only if the receipt's
    // bound cannot clear them (reusing the value trace), and only while the transaction is on the fork.
    let steps: StructLog[] | undefined;
    if (prepared.mayMoveEth) {
      const traced = await traceValueRecipients(rpc, hash!);
      steps = traced.steps;
      for (const account of traced.recipients) watch.add("native", account);
    }
    callGas = await measureCallGas(rpc, hash!, input.callGasLimit, gasUsed, steps);
  }
  for (const [token, accounts] of parsed.erc20Accounts) for (const a of accounts) watch.add(token, a);
  const allowanceReads = parsed.approvals
    .filter((a) => a.kind === "erc20" && a.owner === input.wallet)
    .map((a) => ({ token: a.contract, owner: a.owner, spender: a.spender }));
  const touched = [...new Set([...targets, ...parsed.emitters])].filter((c) => c !== input.wallet);
  const lateTouched = touched.filter((c) => !slotsBeforeOf.has(c));
  const lateAfter = watch.pairs.slice(observedCount);
  const [lateObserved, lateSlotsAfter] = await settled([
    lateAfter.length > 0 || allowanceReads.length > 0
      ? observeNow(rpc, fork.reader, lateAfter, allowanceReads)
      : Promise.resolve<Observation>(NO_OBSERVATION),
    readSlots(rpc, lateTouched),
  ]);
  const slotsAfterOf = new Map(targets.map((c, i) => [c, slotsOf(targetSlotsAfter, i)]));
  lateTouched.forEach((c, i) => slotsAfterOf.set(c, slotsOf(lateSlotsAfter, i)));
  return {
    success,
    revertData: execution.revertData,
    gasUsed,
    callGas,
    logs,
    parsed,
    stateAfter,
    after: {
      balances: [...observed.balances, ...lateObserved.balances],
      balanceOk: [...observed.balanceOk, ...lateObserved.balanceOk],
      allowances: lateObserved.allowances,
    },
    allowanceReads,
    touched,
    slotsAfter: touched.flatMap((c) => slotsAfterOf.get(c)!),
  };
}

/**
 * Whether the reads in the transaction's batch are all an observation of it needs: the logs name no balance,
 * allowance or contract not read there, and the calls' gas needs no trace (the receipt's bound clears it).
 */
function readInBatch(input: SimulationInput, prepared: Prepared, parsed: ReturnType<typeof parseLogs>, gasUsed: bigint): boolean {
  if (isTight(heaviestCallBound(gasUsed), input.callGasLimit)) return false;
  for (const [token, accounts] of parsed.erc20Accounts) for (const a of accounts) if (!prepared.watch.has(token, a)) return false;
  if (parsed.approvals.some((a) => a.kind === "erc20" && a.owner === input.wallet)) return false;
  return [...parsed.emitters].every((c) => c === input.wallet || prepared.slotsBeforeOf.has(c));
}

/** Observe, after the revert: the balances and slots before of what only the transaction named. */
async function observeLateBefore(fork: SimulationHost, rpc: EvmCall, input: SimulationInput, prepared: Prepared, after: AfterState): Promise<LateBefore> {
  const { watch, knownCount, slotsBeforeOf } = prepared;
  const extra = watch.pairs.slice(knownCount);
  const lateTouched = after.touched.filter((c) => !slotsBeforeOf.has(c));
  const [extraBefore, lateSlots] = await settled([
    extra.length > 0
      ? observeNow(rpc, fork.reader, extra)
      : Promise.resolve<Observation>(NO_OBSERVATION),
    readSlots(rpc, lateTouched),
  ]);
  lateTouched.forEach((c, i) => slotsBeforeOf.set(c, slotsOf(lateSlots, i)));
  return { extra: extraBefore, slotsBefore: after.touched.flatMap((c) => slotsBeforeOf.get(c)!) };
}

/** Diff: the changes before → after (balances, log gaps, allowances left, control and the wallet's own state). */
function diff(env: BlockEnv, input: SimulationInput, prepared: Prepared, observed: AfterState, lateBefore: LateBefore): SimulationResult {
  const { watch, before, stateBefore } = prepared;
  const { after, parsed, logs, success } = observed;
  const beforeBalances = [...before.balances, ...lateBefore.extra.balances];
  const beforeOk = [...before.balanceOk, ...lateBefore.extra.balanceOk];

  const balanceChanges: AssetChange[] = watch.pairs.map((p, i) => ({
    account: p.account,
    asset: p.asset,
    delta: after.balances[i]! - beforeBalances[i]!,
  }));
  const unreadable = watch.pairs.filter((_, i) => !beforeOk[i] || !after.balanceOk[i]);
  const logBalanceGaps = new Map<string, bigint>();
  watch.pairs.forEach((p, i) => {
    if (p.asset === "native") return;
    const claimed = parsed.erc20LogDeltas.get(`${p.asset}:${p.account}`) ?? 0n;
    const gap = balanceChanges[i]!.delta - claimed;
    if (gap !== 0n && beforeOk[i] && after.balanceOk[i]) logBalanceGaps.set(`${p.asset}:${p.account}`, gap);
  });
  const remaining = new Map(observed.allowanceReads.map((a, i) => [`${a.token}:${a.spender}`, after.allowances[i]!]));
  const control = [...parsed.control];
  observed.touched.forEach((contract, c) => {
    EIP1967_SLOTS.forEach((slot, s) => {
      const i = c * EIP1967_SLOTS.length + s;
      if (observed.slotsAfter[i] !== lateBefore.slotsBefore[i]) control.push({ contract, event: `EIP-1967 slot ${slot.slice(0, 10)} changed` });
    });
  });
  return {
    blockNumber: env.number,
    timestamp: env.timestamp,
    success,
    revertData: observed.revertData,
    gasUsed: observed.gasUsed,
    changes: netChanges([...balanceChanges, ...parsed.nftChanges]),
    grossOutflow: success ? grossOutflows(input.wallet, input.calls, logs) : new Map(),
    callGas: observed.callGas,
    logBalanceGaps,
    unreadable,
    approvals: parsed.approvals.map((a) => ({
      ...a,
      remaining: a.kind === "erc20" ? (remaining.get(`${a.contract}:${a.spender}`) ?? a.amount) : a.amount,
    })),
    control,
    walletStateChanges: [
      ...CONTROL_FIELDS.filter((_, i) => stateBefore[i] !== observed.stateAfter[i]),
      ...logs
        .filter((l) => getAddress(l.address) === input.wallet)
        .map((l) => (l.topics[0] ? (walletEventName(l.topics[0] as Hex) ?? l.topics[0]) : "anonymous"))
        .filter((name) => !AGENT_PATH_EVENT_NAMES.includes(name))
        .map((name) => `event ${name}`),
    ],
  };
}

/**
 * The revert data of a failed simulated transaction ("0x" for a revert without data), or undefined if the error is
 * not a revert.
 * @example const data = revertDataOf(err) // "0x3b4c7a5f…"
 */
export function revertDataOf(err: unknown): Hex | undefined {
  return errorData(err) ?? (isRevert(err) ? "0x" : undefined);
}

