/** Hardhat's well-known development accounts and the roles Countersign gives them on a local chain. */
import { mnemonicToAccount, type HDAccount } from "viem/accounts";

/** Hardhat's default mnemonic: these keys are public. Never use them on a real network. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/**
 * Hardhat development account `index` (0-19), as a viem local account.
 * @example devAccount(2).address // the local co-signer
 */
export function devAccount(index: number): HDAccount {
  return mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index });
}

/** Account index of each role on the local chain (issue: 0 owner, 1 agent, 2 co-signer, 3 guardian, 5/6 recipients, 7 outsider). */
export const LOCAL_ROLES = {
  owner: 0,
  sessionKey: 1,
  cosigner: 2,
  guardian: 3,
  relayer: 4,
  alice: 5,
  bob: 6,
  mallory: 7,
} as const;

/**
 * The private key of Hardhat development account `index` (public knowledge; for the local chain only).
 * @example devPrivateKey(2) // the local co-signer's key
 */
export function devPrivateKey(index: number): `0x${string}` {
  const key = devAccount(index).getHdKey().privateKey;
  if (!key) throw new Error(`no private key for account ${index}`);
  return `0x${Buffer.from(key).toString("hex")}`;
}
