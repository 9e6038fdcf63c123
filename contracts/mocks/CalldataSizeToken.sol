// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test only: a "token" whose balanceOf and allowance answer the size of the calldata they were sent, so
/// that two reads of one balance agree only if they send the same bytes.
contract CalldataSizeToken {
    function balanceOf(address) external pure returns (uint256) {
        return msg.data.length;
    }

    function allowance(address, address) external pure returns (uint256) {
        return msg.data.length;
    }
}
