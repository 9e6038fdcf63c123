// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test token whose balanceOf always reverts: nobody can measure what it moved.
contract NoBalanceToken {
    mapping(address => uint256) private _balances;

    event Transfer(address indexed from, address indexed to, uint256 value);

    error Unreadable();

    function mint(address to, uint256 amount) external {
        _balances[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function balanceOf(address) external pure returns (uint256) {
        revert Unreadable();
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _balances[msg.sender] -= amount;
        _balances[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}
