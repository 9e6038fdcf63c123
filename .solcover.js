// Coverage of the on-chain contracts. mocks/ are test doubles; simulation/StateReader.sol is installed only on
// the co-signer's in-process fork and is exercised by the engine tests (test/engine), which run against a
// separate Hardhat node that solidity-coverage does not instrument.
module.exports = {
  skipFiles: ["mocks/", "simulation/"],
  configureYulOptimizer: true,
};
