// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target that calls back into whatever address it is given, with whatever data (nested self-call).
contract CallbackTarget {
    uint256 public slot0Value;

    /// @notice Calls `target` with `data`, bubbling a revert.
    function callBack(address target, bytes calldata data) external payable {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// @notice Writes this contract's own slot 0; run with DELEGATECALL it would overwrite the caller's owner.
    function writeSlot0(uint256 value) external {
        slot0Value = value;
    }

    receive() external payable {}
}
