// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title GasBurner
/// @notice Test mock: a contract posing as a token or a wallet whose every function reads fresh storage slots until
/// the gas runs out. On a fork every cold slot is an upstream read: what an attacker names to occupy the fork.
contract GasBurner {
    /// @notice Reads slot after slot while more than 30,000 gas is left; answers the XOR of what it read.
    fallback(bytes calldata) external payable returns (bytes memory) {
        uint256 x;
        for (uint256 i; gasleft() > 30_000; ++i) {
            uint256 v;
            assembly {
                v := sload(i)
            }
            x ^= v;
        }
        return abi.encode(x);
    }
}
