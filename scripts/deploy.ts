/**
 * Deploys the factory and a wallet configured from a policy file to any network in hardhat.config.ts.
 *
 *   POLICY_FILE=my-policy.json npx hardhat run scripts/deploy.ts --network sepolia
 *
 * The RPC URL and the deployer key come from the environment (SEPOLIA_RPC_URL / STANDIN_RPC_URL and
 * DEPLOYER_PRIVATE_KEY); the record goes to deployments/<network>.json (DEPLOYMENTS_DIR to change the folder).
 */
import hre from "hardhat";
import { clientsFromProvider } from "../src/deploy/clients";
import { deployFromPolicy } from "../src/deploy/deploy";
import { formatWalletStatus, readWalletStatus } from "../src/deploy/owner";
import { loadPolicy, policyWarnings } from "../src/deploy/policy";
import { writeRecord } from "../src/deploy/record";

async function main(): Promise<void> {
  const network = hre.network.name;
  const policyFile = process.env.POLICY_FILE ?? "deployments/policy.example.json";
  const policy = loadPolicy(policyFile);
  for (const warning of policyWarnings(policy)) console.warn(`warning: ${warning}`);
  const { publicClient, walletClient, account } = await clientsFromProvider(hre.network.provider);
  if (!account) throw new Error(`network ${network} has no account: set DEPLOYER_PRIVATE_KEY`);
  console.log(`deploying to ${network} (chain ${await publicClient.getChainId()}) from ${account} with policy ${policyFile}`);
  const record = await deployFromPolicy({ publicClient, walletClient, policy, network, log: (line) => console.log(`  ${line}`) });
  const path = writeRecord(record);
  console.log(`factory ${record.factory}`);
  console.log(`wallet  ${record.wallet} (${record.walletOrigin === "created" ? "created" : "already deployed with this policy and salt; verified"})`);
  console.log(formatWalletStatus(await readWalletStatus(publicClient, record.wallet), record.tokens).join("\n"));
  console.log(`recorded ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
