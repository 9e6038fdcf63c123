/**
 * The wallet's own answer, read on the fork, to "may this session key use this nonce now?": the rule every
 * simulation applies before it runs the operation (in the EVM's process, see simulation/evm-host.ts).
 */
import type { Address } from "viem";
import { CountersignError } from "../errors";
import { unboundedTransferProblem } from "../intent/bounds";
import type { OperationRequest } from "../intent/schema";
import { nonceUsedError, type AuthState } from "../simulation/simulate";

/** What a simulation checks the wallet's auth state against: the request and the session key that signed it. */
export interface AuthRule {
  req: OperationRequest;
  sessionKey: Address;
}

/**
 * Why the wallet, read on the fork, does not let this session key use this nonce now (or refuses the plain-transfer
 * exemption from bounds for a token it does not budget); undefined when it does.
 * @example const refusal = authRefusal(auth, req, sessionKey, env.timestamp, cosigner.address)
 */
export function authRefusal(auth: AuthState, req: OperationRequest, sessionKey: Address, timestamp: bigint, self: Address): CountersignError | undefined {
  if (auth.validUntil === 0n) return new CountersignError("UNKNOWN_SESSION_KEY", `${sessionKey} is not a session key of the wallet`);
  if (auth.validUntil < timestamp) {
    return new CountersignError("SESSION_KEY_EXPIRED", `session key ${sessionKey} expired at ${auth.validUntil} (now ${timestamp})`);
  }
  if (auth.cosigner !== self) {
    return new CountersignError("COSIGNER_MISMATCH", `the wallet's co-signer is ${auth.cosigner}, not this co-signer (${self})`);
  }
  if (auth.owner === self || auth.selfIsGuardian || auth.selfIsSessionKey) {
    return new CountersignError("COSIGNER_MISMATCH", `this co-signer (${self}) also holds another role on the wallet; it will not sign`);
  }
  if (auth.nonceUsed) return nonceUsedError(req.nonce);
  if (auth.paused) return new CountersignError("WALLET_PAUSED", "the wallet is paused");
  const unbounded = unboundedTransferProblem(req.bounds, req.intent, req.wallet, req.calls, auth.budgetedTokens);
  return unbounded ? new CountersignError("BOUNDS_MISMATCH", unbounded) : undefined;
}
