// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target: forwards the ETH it is sent to `honest` before block `fromBlock` and to `other` from it on.
/// The sender loses the same amount either way, so outcome bounds on the sender hold; only who is paid differs
/// between a simulation at an earlier block and the block the operation is mined in (a time bomb keyed on the block).
contract TimeBombPayee {
    /// @notice Paid before `fromBlock`.
    address public immutable honest;
    /// @notice Paid from `fromBlock` on.
    address public immutable other;
    /// @notice First block (inclusive) in which `other` is paid.
    uint256 public immutable fromBlock;

    /// @notice The forward to `to` failed.
    error ForwardFailed(address to);

    constructor(address honest_, address other_, uint256 fromBlock_) {
        honest = honest_;
        other = other_;
        fromBlock = fromBlock_;
    }

    /// @notice Forwards msg.value (wei) to `honest`, or to `other` from block `fromBlock` on.
    function forward() external payable {
        address to = block.number >= fromBlock ? other : honest;
        (bool ok, ) = to.call{value: msg.value}("");
        if (!ok) revert ForwardFailed(to);
    }
}
