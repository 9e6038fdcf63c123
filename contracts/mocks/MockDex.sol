// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Test DEX: swaps at a fixed rate set per pair, pulling the input with transferFrom.
contract MockDex {
    /// @notice Output per input unit, scaled by 1e18.
    mapping(address tokenIn => mapping(address tokenOut => uint256)) public rate;

    error SlippageExceeded(uint256 amountOut, uint256 minAmountOut);

    function setRate(address tokenIn, address tokenOut, uint256 rateE18) external {
        rate[tokenIn][tokenOut] = rateE18;
    }

    function quote(address tokenIn, address tokenOut, uint256 amountIn) public view returns (uint256) {
        return (amountIn * rate[tokenIn][tokenOut]) / 1e18;
    }

    function swap(
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 minAmountOut
    ) external returns (uint256 amountOut) {
        amountOut = quote(tokenIn, tokenOut, amountIn);
        if (amountOut < minAmountOut) revert SlippageExceeded(amountOut, minAmountOut);
        IERC20(tokenIn).transferFrom(msg.sender, address(this), amountIn);
        IERC20(tokenOut).transfer(msg.sender, amountOut);
    }

    /// @notice Pulls `amount` of `token` from `from` with an allowance it was given (a router with a standing approval).
    function pull(address token, address from, uint256 amount) external {
        IERC20(token).transferFrom(from, address(this), amount);
    }
}
