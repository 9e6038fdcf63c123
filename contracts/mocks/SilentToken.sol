// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test token with a function that moves the caller's tokens without a Transfer log.
contract SilentToken {
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Looks like bookkeeping; moves `amount` of the caller's tokens to `to` with no event.
    function settle(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }
}
