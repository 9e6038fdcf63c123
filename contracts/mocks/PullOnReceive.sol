// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IPuller {
    function pull(address token, address from, uint256 amount) external;
}

/// @notice Test recipient: a contract that, when paid ETH, has a spender pull `amount` of `token` from the payer
/// with whatever allowance the payer gave that spender (an allowlisted recipient that runs code).
contract PullOnReceive {
    IPuller public immutable puller;
    address public immutable token;
    uint256 public immutable amount;

    constructor(IPuller puller_, address token_, uint256 amount_) {
        puller = puller_;
        token = token_;
        amount = amount_;
    }

    receive() external payable {
        puller.pull(token, msg.sender, amount);
    }
}
