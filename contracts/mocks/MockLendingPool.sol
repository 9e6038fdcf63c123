// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Test target: lends any amount of what it holds to whoever asks, and takes repayments. An inflow in the
/// same batch as an outflow is how a net-change budget is made to charge nothing.
contract MockLendingPool {
    /// @notice Sends `amount` of `token` to the caller.
    function borrow(IERC20 token, uint256 amount) external {
        token.transfer(msg.sender, amount);
    }

    /// @notice Pulls `amount` of `token` back from the caller with its allowance.
    function repay(IERC20 token, uint256 amount) external {
        token.transferFrom(msg.sender, address(this), amount);
    }
}
