// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test stand-in for Permit2's allowance transfer: approve() records an allowance of the caller's tokens
/// for a spender, with the same event Permit2 emits.
contract MockPermit2 {
    mapping(address owner => mapping(address token => mapping(address spender => uint160))) public allowance;

    event Approval(
        address indexed owner,
        address indexed token,
        address indexed spender,
        uint160 amount,
        uint48 expiration
    );

    function approve(address token, address spender, uint160 amount, uint48 expiration) external {
        allowance[msg.sender][token][spender] = amount;
        emit Approval(msg.sender, token, spender, amount, expiration);
    }
}
