// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target that passes on the ETH it is sent: a permitted contract paying a third party the wallet never
/// names, with no log. Only a trace of the simulated transaction shows who received the value.
contract EthForwarder {
    /// @notice The forwarded value did not reach `to`.
    error ForwardFailed(address to, uint256 amount);

    /// @notice Sends all of `msg.value` (wei) on to `to`.
    function forward(address to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        if (!ok) revert ForwardFailed(to, msg.value);
    }

    /// @notice Sends the value on to `to` through a second forwarder `via` (a nested payment).
    function forwardVia(EthForwarder via, address to) external payable {
        via.forward{value: msg.value}(to);
    }
}
