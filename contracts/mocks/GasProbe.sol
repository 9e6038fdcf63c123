// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target that records the gas it was given: proves a callee sees the same gasleft() whatever gas
/// the relayer sends.
contract GasProbe {
    /// @notice gasleft() at the start of the last probe() (gas).
    uint256 public seen;

    /// @notice Records gasleft().
    function probe() external payable {
        seen = gasleft();
    }
}
