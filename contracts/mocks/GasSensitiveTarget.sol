// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target that swallows the failure of an expensive inner step (try/catch), like a multicall with
/// allowFailure or a keeper that "tries" an action. With too little gas the inner step fails and the call still
/// succeeds, so the relayer's gas limit decides what the operation does.
contract GasSensitiveTarget {
    uint256 public done;
    uint256[] private _sink;

    error OnlySelf();

    /// @notice Tries the heavy step; on failure does nothing and returns normally.
    function work() external {
        try this.heavy() {
            done += 1;
        } catch {}
    }

    /// @notice Writes 100 fresh storage slots (about 2.2M gas).
    function heavy() external {
        if (msg.sender != address(this)) revert OnlySelf();
        for (uint256 i; i < 100; ++i) _sink.push(i + 1);
    }
}
