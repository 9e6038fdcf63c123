/**
 * Authenticate before simulating: one cheap read of the served wallet (`sessionKeyValidUntil(signer)`, gas capped)
 * tells whether the recovered signer is an active session key, before the fork reads anything the request names.
 * Positive answers are kept for the block they were read at; a stranger's key costs one small eth_call.
 */
import { decodeFunctionResult, encodeFunctionData, getAddress, parseAbi, toHex, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";
import { isOutOfGas, isRevert } from "../errors/classify";
import type { BlockEnv, Fork } from "../simulation/fork";

const abi = parseAbi(["function sessionKeyValidUntil(address key) view returns (uint48)"]);
/** Gas of the read: a served wallet answers in a few thousand; nothing a caller names runs in it. */
const READ_GAS = 100_000n;
/** Above this many remembered answers the cache starts afresh. */
const MAX_CACHED = 10_000;

/**
 * Checks session keys on the fork, inside `fork.run` (so on the head the request must be decided at).
 * @example await sessionKeys.check(rpc, env, wallet, signer)
 */
export class SessionKeys {
  private readonly active = new Map<string, { block: bigint; validUntil: bigint }>();

  /** Refuses UNKNOWN_SESSION_KEY or SESSION_KEY_EXPIRED (401) unless `signer` may sign for `wallet` in `env`'s block. */
  async check(rpc: Fork["rpc"], env: BlockEnv, wallet: Address, signer: Address): Promise<void> {
    const id = `${getAddress(wallet)}:${getAddress(signer)}`;
    const cached = this.active.get(id);
    let validUntil: bigint;
    if (cached && cached.block === env.number) {
      validUntil = cached.validUntil;
    } else {
      const data = encodeFunctionData({ abi, functionName: "sessionKeyValidUntil", args: [signer] });
      let raw: Hex;
      try {
        raw = await rpc<Hex>("eth_call", [{ to: wallet, data, gas: toHex(READ_GAS) }, "latest"]);
      } catch (err) {
        // A wallet that is not an AgentWallet reverts (or burns the read's gas) instead of answering.
        if (isRevert(err) || isOutOfGas(err)) {
          throw new CountersignError("WALLET_NOT_FOUND", `${wallet} is not an AgentWallet on this chain`, { wallet });
        }
        throw err;
      }
      try {
        validUntil = BigInt(decodeFunctionResult({ abi, functionName: "sessionKeyValidUntil", data: raw }));
      } catch {
        throw new CountersignError("WALLET_NOT_FOUND", `${wallet} is not an AgentWallet on this chain`, { wallet });
      }
    }
    if (validUntil === 0n) throw new CountersignError("UNKNOWN_SESSION_KEY", `${signer} is not a session key of the wallet`);
    if (validUntil < env.timestamp) {
      throw new CountersignError("SESSION_KEY_EXPIRED", `session key ${signer} expired at ${validUntil} (now ${env.timestamp})`);
    }
    if (this.active.size >= MAX_CACHED) this.active.clear();
    this.active.set(id, { block: env.number, validUntil });
  }
}
