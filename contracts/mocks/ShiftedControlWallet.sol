// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test only: AgentWallet's control getters over another storage layout (one slot further on), as an
/// implementation that moved its variables would be: the co-signer must refuse to serve it.
contract ShiftedControlWallet {
    uint256 private _gap;
    address private _owner;
    address private _pendingOwner;
    address private _cosigner;
    bool private _paused;

    constructor(address owner_, address cosigner_) {
        _owner = owner_;
        _cosigner = cosigner_;
    }

    function owner() external view returns (address) {
        return _owner;
    }

    function pendingOwner() external view returns (address) {
        return _pendingOwner;
    }

    function cosigner() external view returns (address) {
        return _cosigner;
    }

    function paused() external view returns (bool) {
        return _paused;
    }
}
