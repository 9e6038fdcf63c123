// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Test contract with an owner: stands for a vault or a pool a wallet controls, whose ownership an agent
/// must never be able to give away.
contract OwnedVault is Ownable {
    constructor(address initialOwner) Ownable(initialOwner) {}
}
