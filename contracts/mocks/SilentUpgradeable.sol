// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test target: a proxy-like contract whose harmless-looking function rewrites its EIP-1967 slots without
/// emitting Upgraded/AdminChanged; and a Permit2-like contract that records an allowance from its caller.
contract SilentUpgradeable {
    bytes32 private constant _IMPLEMENTATION = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    bytes32 private constant _ADMIN = 0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103;

    /// @notice Looks like bookkeeping; silently points the implementation slot at `implementation`.
    function sync(address implementation) external {
        assembly ("memory-safe") {
            sstore(_IMPLEMENTATION, implementation)
        }
    }

    /// @notice Silently makes `admin` the proxy admin.
    function touch(address admin) external {
        assembly ("memory-safe") {
            sstore(_ADMIN, admin)
        }
    }
}
