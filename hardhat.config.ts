import { subtask, task, type HardhatUserConfig } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";
import "./tasks/wallet";

const SOLC_VERSION = "0.8.28";

// Compile with the solc-js build pinned in package.json: Hardhat would otherwise download a compiler,
// and this project must build with no network beyond the package registry.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPackage = require("solc/package.json") as { version: string };
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`solc package is ${solcPackage.version}, hardhat.config.ts expects ${SOLC_VERSION}`);
  }
  const solc = require("solc") as { version(): string };
  return {
    version: SOLC_VERSION,
    longVersion: solc.version(),
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
  };
});

const sepoliaUrl = process.env.SEPOLIA_RPC_URL;
const deployerKey = process.env.DEPLOYER_PRIVATE_KEY;
// A node standing in for a testnet (tests, rehearsals): same recipe as sepolia, URL from STANDIN_RPC_URL.
const standinUrl = process.env.STANDIN_RPC_URL;

// solidity-coverage instruments the contracts; keep its artifacts apart so that the co-signer, which loads
// artifacts/ at run time, never picks up instrumented bytecode.
const coverage = process.argv.includes("coverage");

// The storage layout of every contract, in the build info beside Hardhat's own outputs (which it adds): the co-signer
// reads the wallet's control state from its slots, and a test pins them to the compiler's layout. No bytecode changes.
const storageLayout = () => ({ "*": { "*": ["storageLayout"] } });

const config: HardhatUserConfig = {
  paths: coverage ? { artifacts: "coverage-artifacts", cache: "coverage-cache" } : {},
  solidity: {
    compilers: [{ version: SOLC_VERSION, settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun", outputSelection: storageLayout() } }],
    // The wallet's hot path is compiled through the IR pipeline (about 1.5k gas less per operation). Coverage
    // instruments without the optimizer, where the IR pipeline runs out of stack, so it keeps the legacy one.
    overrides: coverage
      ? {}
      : Object.fromEntries(
          // The factory embeds the wallet's creation code, so it is compiled the same way.
          ["contracts/AgentWallet.sol", "contracts/AgentWalletFactory.sol"].map((file) => [
            file,
            { version: SOLC_VERSION, settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun", viaIR: true, outputSelection: storageLayout() } },
          ]),
        ),
  },
  networks: {
    hardhat: { hardfork: "prague" },
    localhost: { url: process.env.LOCALHOST_RPC_URL ?? "http://127.0.0.1:8545" },
    ...(sepoliaUrl
      ? { sepolia: { url: sepoliaUrl, chainId: 11155111, accounts: deployerKey ? [deployerKey] : [] } }
      : {}),
    ...(standinUrl ? { standin: { url: standinUrl, accounts: deployerKey ? [deployerKey] : "remote" } } : {}),
  },
  mocha: { timeout: 120_000 },
  gasReporter: { enabled: process.env.REPORT_GAS === "1" },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
};

export default config;
void task;
