// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RateLimiter} from "@openzeppelin/contracts/utils/RateLimiter.sol";

/// @notice Test reference model: OpenZeppelin's RateLimiter.RefillingBucket for one key, driven the way
/// AgentWallet drives its packed budget, so the property test can compare the two step for step.
contract RateLimiterReference {
    using RateLimiter for RateLimiter.RefillingBucket;

    RateLimiter.RefillingBucket private _bucket;
    bool private _set;

    /// @notice AgentWallet.setBudget: sync at the old settings if a budget exists, then the new settings.
    function setBudget(uint208 capacity, uint48 window) external {
        if (_set) _bucket.sync(bytes32(0));
        _bucket.updateSettings(window, capacity);
        _set = true;
    }

    /// @notice AgentWallet.removeBudget: forget the consumption and the settings.
    function removeBudget() external {
        _bucket.reset(bytes32(0));
        _bucket.updateSettings(0, 0);
        _set = false;
    }

    /// @notice Consumes `quantity` if available; reverts (like a failed charge) otherwise.
    function consume(uint256 quantity) external {
        _bucket.consume(bytes32(0), quantity);
    }

    /// @notice Whether `quantity` could be consumed now.
    function tryConsume(uint256 quantity) external returns (bool) {
        return _bucket.tryConsume(bytes32(0), quantity);
    }

    /// @notice What is available now.
    function available() external view returns (uint256) {
        return _bucket.available(bytes32(0));
    }
}
