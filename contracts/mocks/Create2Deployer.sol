// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target: deploys `initCode` with CREATE2, so an address can get code in the middle of a batch.
contract Create2Deployer {
    error DeployFailed();

    /// @notice Deploys `initCode` at the CREATE2 address of (this, salt, keccak256(initCode)).
    function deploy(bytes32 salt, bytes calldata initCode) external returns (address deployed) {
        bytes memory code = initCode;
        assembly ("memory-safe") {
            deployed := create2(0, add(code, 0x20), mload(code), salt)
        }
        if (deployed == address(0)) revert DeployFailed();
    }
}
