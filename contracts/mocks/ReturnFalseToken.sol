// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test token whose transfer and approve return false instead of reverting (old-style ERC-20).
contract ReturnFalseToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    bool public fail;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function setFail(bool fail_) external {
        fail = fail_;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (fail || balanceOf[msg.sender] < amount) return false;
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        if (fail) return false;
        allowance[msg.sender][spender] = amount;
        return true;
    }
}
