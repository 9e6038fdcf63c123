/** Compiled contract artifacts (from `hardhat compile`), loaded by name for deployment and ABI decoding. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Abi, Hex } from "viem";

export interface Artifact {
  contractName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
}

const SOURCES: Record<string, string> = {
  AgentWallet: "contracts/AgentWallet.sol",
  AgentWalletFactory: "contracts/AgentWalletFactory.sol",
  MockERC20: "contracts/mocks/MockERC20.sol",
  MockDex: "contracts/mocks/MockDex.sol",
  FeeOnTransferToken: "contracts/mocks/FeeOnTransferToken.sol",
  ReturnFalseToken: "contracts/mocks/ReturnFalseToken.sol",
  MockERC721: "contracts/mocks/MockERC721.sol",
  CallbackTarget: "contracts/mocks/CallbackTarget.sol",
  FickleSwap: "contracts/mocks/FickleSwap.sol",
  StateReader: "contracts/simulation/StateReader.sol",
};

const cache = new Map<string, Artifact>();

/**
 * Loads the Hardhat artifact of `name` from `artifacts/`.
 * @example const { abi, bytecode } = loadArtifact("AgentWallet")
 */
export function loadArtifact(name: string, root = join(__dirname, "..", "..")): Artifact {
  const cached = cache.get(name);
  if (cached) return cached;
  const source = SOURCES[name];
  if (!source) throw new Error(`unknown artifact ${name}`);
  const artifact = JSON.parse(readFileSync(join(root, "artifacts", source, `${name}.json`), "utf8")) as Artifact;
  cache.set(name, artifact);
  return artifact;
}
