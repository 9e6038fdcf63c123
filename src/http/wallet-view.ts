/**
 * GET /v1/wallets/:address: the wallet's policy as the chain holds it, read on the co-signer's fork with the
 * StateReader's walletState() in one eth_call, in the block the next simulation would run in (head + 1, now).
 */
import { decodeFunctionResult, encodeFunctionData, getAddress, toHex, zeroAddress, type Address, type Hex } from "viem";
import { loadArtifact } from "../chain/artifacts";
import { cloneImplementation } from "../engine";
import { CountersignError } from "../errors";
import { errorData, isRevert } from "../errors/classify";
import type { ServedWallets } from "../authenticate/served-wallets";
import type { Fork } from "../simulation/fork";

interface RawWalletState {
  owner: Address;
  pendingOwner: Address;
  cosigner: Address;
  paused: boolean;
  guardians: readonly Address[];
  sessionKeys: readonly Address[];
  sessionKeyValidUntil: readonly number[];
  budgets: readonly { token: Address; limit: bigint; period: bigint; maxPerOperation: bigint; available: bigint }[];
  recipients: readonly Address[];
  callPermissions: readonly { target: Address; selector: Hex }[];
  codeHash: Hex;
}

/** The JSON answer of GET /v1/wallets/:address (see walletViewSchema). */
export interface WalletView {
  address: Address;
  chainId: number;
  blockNumber: string;
  timestamp: string;
  paused: boolean;
  owner: Address;
  pendingOwner: Address;
  cosigner: Address;
  cosignerIsThisService: boolean;
  guardians: Address[];
  sessionKeys: { key: Address; validUntil: string; active: boolean }[];
  budgets: { token: "native" | Address; limit: string; period: string; maxPerOperation: string; available: string }[];
  recipients: Address[];
  callPermissions: { target: Address; selector: Hex }[];
  codeHash: Hex;
}

/**
 * Reads `wallet`'s policy on the fork.
 * Only a served wallet is read (the check is in memory, before the fork runs anything), and only if its code is
 * an EIP-1167 clone: a contract posing as a wallet never runs on the fork.
 * @throws CountersignError WALLET_NOT_FOUND when `wallet` is not served or not an AgentWallet; BUSY /
 * UPSTREAM_UNAVAILABLE / FORK_STALE.
 * @example const view = await readWalletView(cosigner.fork, wallet, cosigner.key.address, cosigner.served)
 */
export async function readWalletView(fork: Fork, wallet: Address, self: Address, served: ServedWallets): Promise<WalletView> {
  const abi = loadArtifact("StateReader").abi;
  const notFound = () => new CountersignError("WALLET_NOT_FOUND", `${wallet} is not an AgentWallet on chain ${fork.chainId}`, { wallet });
  served.check(wallet, fork.chainId);
  return fork.run(async (rpc, env) => {
    const code = await rpc<Hex>("eth_getCode", [wallet, "latest"]);
    if (!code || !cloneImplementation(code)) throw notFound();
    // Read in the block the next simulation would run in (timestamp now), not in the fork's own latest block: that
    // one is mined locally and may be older than the wallet's last spend, and available() would then underflow.
    const snapshot = await rpc<string>("evm_snapshot");
    let raw: Hex;
    try {
      await rpc("evm_setNextBlockTimestamp", [toHex(env.timestamp)]);
      await rpc("evm_mine");
      raw = await rpc<Hex>("eth_call", [{ to: fork.reader, data: encodeFunctionData({ abi, functionName: "walletState", args: [wallet] }), gas: "0x1c9c380" }, "latest"]);
    } catch (err) {
      if (!isRevert(err)) throw err;
      // No return data (no wallet code answers, an invalid opcode): not an AgentWallet. Return data (a reason, a
      // panic, a custom error): a wallet whose state could not be read.
      const data = errorData(err);
      if (data === undefined || data === "0x") throw notFound();
      const message = String((err as Error)?.message ?? err);
      throw new CountersignError("SIMULATION_FAILED", `reading ${wallet}'s state failed: ${message.split("\n")[0]}`, { wallet });
    } finally {
      await rpc("evm_revert", [snapshot]);
    }
    let s: RawWalletState;
    try {
      s = decodeFunctionResult({ abi, functionName: "walletState", data: raw }) as unknown as RawWalletState;
    } catch {
      throw notFound();
    }
    return {
      address: getAddress(wallet),
      chainId: fork.chainId,
      // The upstream block whose state this is (read at the current time, as the next block would see it).
      blockNumber: (env.number - 1n).toString(),
      timestamp: env.timestamp.toString(),
      paused: s.paused,
      owner: s.owner,
      pendingOwner: s.pendingOwner,
      cosigner: s.cosigner,
      cosignerIsThisService: s.cosigner === self,
      guardians: [...s.guardians],
      sessionKeys: s.sessionKeys.map((key, i) => {
        const validUntil = BigInt(s.sessionKeyValidUntil[i] ?? 0);
        return { key, validUntil: validUntil.toString(), active: validUntil >= env.timestamp };
      }),
      budgets: s.budgets.map((b) => ({
        token: b.token === zeroAddress ? ("native" as const) : b.token,
        limit: b.limit.toString(),
        period: b.period.toString(),
        maxPerOperation: b.maxPerOperation.toString(),
        available: b.available.toString(),
      })),
      recipients: [...s.recipients],
      callPermissions: s.callPermissions.map((p) => ({ target: p.target, selector: p.selector })),
      codeHash: s.codeHash,
    };
  });
}
