// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target that reads `n` distinct storage slots of its own: a simulation that makes the fork fetch
/// thousands of slots it does not hold.
contract SlotSweeper {
    function sweep(uint256 n) external view returns (uint256 sum) {
        for (uint256 i; i < n; ++i) {
            assembly ("memory-safe") {
                sum := add(sum, sload(add(i, 0x1000)))
            }
        }
    }
}
