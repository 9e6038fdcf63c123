// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {AgentWallet} from "./AgentWallet.sol";

/// @title AgentWalletFactory
/// @notice Deploys AgentWallet clones (EIP-1167) at deterministic CREATE2 addresses, initialised in one transaction.
contract AgentWalletFactory {
    /// @notice The AgentWallet every clone delegates to.
    AgentWallet public immutable implementation;

    /// @notice A wallet was deployed and initialised.
    event WalletCreated(address indexed wallet, address indexed owner, bytes32 salt);

    constructor() {
        implementation = new AgentWallet();
    }

    /// @notice Deploys and initialises a wallet, or returns the one this configuration and salt already deployed.
    /// @dev The CREATE2 salt commits to the whole configuration, so nobody can take the address with another owner;
    /// and since an existing wallet is returned rather than reverting, nobody can fail the owner's deployment by
    /// deploying the same configuration first.
    /// @param config Owner, co-signer, guardians, session keys, budgets and allowlists.
    /// @param salt Caller-chosen salt for a fresh address.
    function createWallet(AgentWallet.InitConfig calldata config, bytes32 salt) external returns (AgentWallet wallet) {
        bytes32 fullSalt = _salt(config, salt);
        address predicted = Clones.predictDeterministicAddress(address(implementation), fullSalt);
        if (predicted.code.length != 0) return AgentWallet(payable(predicted));
        wallet = AgentWallet(payable(Clones.cloneDeterministic(address(implementation), fullSalt)));
        wallet.initialize(config);
        emit WalletCreated(address(wallet), config.owner, salt);
    }

    /// @notice The address createWallet(config, salt) deploys to.
    function predictWallet(AgentWallet.InitConfig calldata config, bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(address(implementation), _salt(config, salt));
    }

    function _salt(AgentWallet.InitConfig calldata config, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(config)), salt));
    }
}
