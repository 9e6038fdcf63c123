// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Test target: a "swap" that takes the caller's ETH and pays `amountOut` of `token` only when it believes it
/// is being watched. Each function is one way a contract tells a simulation from the real chain (or the moment of
/// simulation from the moment of inclusion). No fork can be made indistinguishable from the chain; the wallet's
/// bounds make the difference harmless.
contract FickleSwap {
    /// @notice A value recorded on chain for swapUnlessBlockhash.
    bytes32 public recordedHash;

    /// @notice Pays only while gasleft() is above `minGas`: a simulator that gives the call the block's gas pays.
    function swapIfGasAbove(IERC20 token, uint256 amountOut, uint256 minGas) external payable {
        if (gasleft() > minGas) token.transfer(msg.sender, amountOut);
    }

    /// @notice Pays until `until` (unix seconds), nothing after: a time bomb, an oracle update, a sandwiched pool.
    function swapUntil(IERC20 token, uint256 amountOut, uint256 until) external payable {
        if (block.timestamp <= until) token.transfer(msg.sender, amountOut);
    }

    /// @notice Pays unless tx.origin is `relayer`, the account that really relays.
    function swapUnlessOrigin(IERC20 token, uint256 amountOut, address relayer) external payable {
        // solhint-disable-next-line avoid-tx-origin
        if (tx.origin != relayer) token.transfer(msg.sender, amountOut);
    }

    /// @notice Records blockhash(n) as seen on this chain.
    function record(uint256 n) external {
        recordedHash = blockhash(n);
    }

    /// @notice Pays unless blockhash(n) equals the recorded value (a fork's own block hashes differ).
    function swapUnlessBlockhash(IERC20 token, uint256 amountOut, uint256 n) external payable {
        if (blockhash(n) != recordedHash || recordedHash == bytes32(0)) token.transfer(msg.sender, amountOut);
    }
}
