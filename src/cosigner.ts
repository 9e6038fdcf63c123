/**
 * Wires the co-signer together: the warm fork of the upstream, the decision store, the key and the engine.
 * Refuses to start if the co-signer key holds another role on a wallet it is told to serve.
 */
import type { Logger } from "pino";
import { encodeFunctionData, decodeFunctionResult, type Address, type Hex } from "viem";
import { ServedWallets } from "./authenticate/served-wallets";
import { loadArtifact } from "./chain/artifacts";
import type { Config } from "./config";
import { parseThresholds } from "./config";
import { cloneImplementation, CosignerEngine } from "./engine";
import type { ReviewPolicy } from "./policy/decide";
import { loadApprovalPolicy } from "./approvals/policy";
import { readWalletView } from "./http/wallet-view";
import { CosignerKey } from "./signing/signer";
import { Fork } from "./simulation/fork";
import { openStore, type Store } from "./store";

export interface CosignerOptions {
  upstreamUrl: string;
  key: CosignerKey;
  /** The store: a SQLite path, or a postgres:// URL (DATABASE_URL) shared by replicas. */
  dbPath: string;
  review: ReviewPolicy;
  maxTtlSeconds?: number;
  maxHeadLag?: number;
  pollMs?: number;
  hardfork?: string;
  logger?: Logger;
  /**
   * The wallets served: checked at start-up (the co-signer must be their co-signer and nothing else) and the only
   * ones the engine decides for (none given: none served).
   */
  wallets?: Address[];
  /** Wall-clock budget of one simulation (ms, default 2000). */
  simulationBudgetMs?: number;
  /** Most simulations waiting for or holding the fork before BUSY (default 64). */
  maxQueuedRuns?: number;
  /** Simulations after which the fork's EVM is replaced by a fresh one, off the request path (default 5000; 0 never). */
  forkRecycleEvery?: number;
  /** MiB the fork EVM's process may grow by since it began serving before it is replaced the same way (default 160; 0 never, and then every replacement by count starts a new process). */
  forkRecycleGrowthMiB?: number;
  /** How long a pending decision waits for people (seconds, default 900). */
  pendingTtlSeconds?: number;
}

export interface Cosigner {
  engine: CosignerEngine;
  fork: Fork;
  store: Store;
  key: CosignerKey;
  /** The wallets served. */
  served: ServedWallets;
  stop(): Promise<void>;
}

/**
 * Starts the co-signer engine against `upstreamUrl`.
 * @example const cosigner = await createCosigner({ upstreamUrl, key, dbPath: "data/cs.sqlite", review })
 */
export async function createCosigner(options: CosignerOptions): Promise<Cosigner> {
  const store = await openStore(options.dbPath);
  const implementations = new Set<Address>();
  let fork: Fork;
  try {
    fork = await Fork.create({
      upstreamUrl: options.upstreamUrl,
      maxHeadLag: options.maxHeadLag,
      pollMs: options.pollMs,
      hardfork: options.hardfork,
      runBudgetMs: options.simulationBudgetMs,
      maxQueuedRuns: options.maxQueuedRuns,
      recycleEvery: options.forkRecycleEvery,
      recycleGrowthMiB: options.forkRecycleGrowthMiB,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    for (const wallet of options.wallets ?? []) {
      await checkRoles(fork, wallet, options.key.address);
      const code = await fork.run((rpc) => rpc<Hex>("eth_getCode", [wallet, "latest"]));
      const implementation = cloneImplementation(code);
      if (!implementation) throw new Error(`refusing to start: ${wallet} is not an EIP-1167 clone of an AgentWallet`);
      implementations.add(implementation);
    }
  } catch (err) {
    await fork.stop();
    await store.close();
    throw err;
  }
  const served = new ServedWallets(options.wallets ?? []);
  const engine = new CosignerEngine({
    fork,
    store,
    key: options.key,
    // The wallet's owner, allowlist and budgets, read on the fork only when a rule of the policy needs them.
    review: {
      ...options.review,
      walletFacts:
        options.review.walletFacts ??
        (async (wallet: Address) => {
          const view = await readWalletView(fork, wallet, options.key.address, served);
          return {
            owner: view.owner,
            recipients: view.recipients,
            available: new Map(view.budgets.map((b) => [b.token, BigInt(b.available)])),
          };
        }),
    },
    maxTtlSeconds: options.maxTtlSeconds,
    pendingTtlSeconds: options.pendingTtlSeconds,
    logger: options.logger,
    served,
    implementations,
  });
  return {
    engine,
    fork,
    store,
    key: options.key,
    served,
    async stop() {
      await fork.stop();
      await store.close();
    },
  };
}

/** Throws unless `self` is the wallet's co-signer and neither its owner, a guardian nor a session key. */
export async function checkRoles(fork: Fork, wallet: Address, self: Address): Promise<void> {
  const abi = loadArtifact("StateReader").abi;
  const data = encodeFunctionData({ abi, functionName: "auth", args: [wallet, self, 0n, self] });
  const raw = await fork.run((rpc) => rpc<Hex>("eth_call", [{ to: fork.reader, data }, "latest"]));
  const auth = decodeFunctionResult({ abi, functionName: "auth", data: raw }) as unknown as {
    owner: Address;
    cosigner: Address;
    selfIsGuardian: boolean;
    selfIsSessionKey: boolean;
  };
  if (auth.owner === self || auth.selfIsGuardian || auth.selfIsSessionKey) {
    throw new Error(`refusing to start: the co-signer key ${self} is also the owner, a guardian or a session key of ${wallet}`);
  }
  if (auth.cosigner !== self) {
    throw new Error(`refusing to start: ${wallet}'s co-signer is ${auth.cosigner}, not this key (${self})`);
  }
}

/** The co-signer key from the configuration: a keystore, or a raw key outside production. */
export async function loadKey(config: Config): Promise<CosignerKey> {
  if (config.COSIGNER_KEYSTORE_PATH) {
    return CosignerKey.fromKeystore(config.COSIGNER_KEYSTORE_PATH, config.COSIGNER_KEYSTORE_PASSWORD ?? "");
  }
  if (config.COSIGNER_PRIVATE_KEY) return CosignerKey.fromPrivateKey(config.COSIGNER_PRIVATE_KEY as Hex);
  throw new Error("no co-signer key: set COSIGNER_KEYSTORE_PATH and COSIGNER_KEYSTORE_PASSWORD (or COSIGNER_PRIVATE_KEY in development)");
}

/**
 * The review policy from the configuration: the approval policy file (APPROVAL_POLICY_FILE), or REVIEW_THRESHOLDS and
 * REVIEW_NEW_RECIPIENTS as its rules. A file and REVIEW_THRESHOLDS together are refused: which would win is unclear.
 * @example const review = reviewPolicy(loadConfig())
 */
export function reviewPolicy(config: Config): ReviewPolicy {
  const thresholds = parseThresholds(config.REVIEW_THRESHOLDS);
  if (config.APPROVAL_POLICY_FILE && thresholds.size > 0) {
    throw new Error("REVIEW_THRESHOLDS and APPROVAL_POLICY_FILE are both set: put the thresholds in the policy file as rules (docs/approvals.md)");
  }
  const rules = config.APPROVAL_POLICY_FILE ? loadApprovalPolicy(config.APPROVAL_POLICY_FILE) : undefined;
  return { thresholds, reviewNewRecipients: config.REVIEW_NEW_RECIPIENTS, pendingTtlSeconds: config.PENDING_TTL_SECONDS, ...(rules ? { rules } : {}) };
}
