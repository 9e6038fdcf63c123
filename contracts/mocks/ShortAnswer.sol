// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test contract that answers every call with a single byte: a balanceOf nobody can read as a uint256.
contract ShortAnswer {
    fallback() external payable {
        assembly ("memory-safe") {
            mstore8(0, 1)
            return(0, 1)
        }
    }
}
