// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Test target that looks harmless to a naive simulator and drains in a real block. It pulls `pulled` of
/// `token` with the caller's allowance and, when it thinks it is being simulated, sends `pulled - kept` back, so the
/// caller seems to pay only `kept`. In a real block it keeps all of it.
contract NaiveSimulatorTrap {
    /// @notice Gives back all but `kept` when block.coinbase or tx.gasprice is zero (an eth_call, a bare simulator).
    /// @param pulled Amount taken with the caller's allowance (token base units).
    /// @param kept Amount a naive simulator sees leave the caller (token base units, at most `pulled`).
    function collect(IERC20 token, uint256 pulled, uint256 kept) external {
        token.transferFrom(msg.sender, address(this), pulled);
        if (block.coinbase == address(0) || tx.gasprice == 0) token.transfer(msg.sender, pulled - kept);
    }

    /// @notice Gives back all but `kept` when the transaction's sender looks made up: an address no key would have
    /// (twelve leading zero bytes, like a constant picked by hand) or an implausible balance (10,000 ETH or more).
    /// @param pulled Amount taken with the caller's allowance (token base units).
    /// @param kept Amount a simulator with a made-up relayer sees leave the caller (token base units).
    function collectFromRealSender(IERC20 token, uint256 pulled, uint256 kept) external {
        token.transferFrom(msg.sender, address(this), pulled);
        // solhint-disable-next-line avoid-tx-origin
        if (uint160(tx.origin) >> 64 == 0 || tx.origin.balance >= 10_000 ether) {
            token.transfer(msg.sender, pulled - kept);
        }
    }
}
