// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @notice Test NFT with free minting.
contract MockERC721 is ERC721 {
    constructor() ERC721("Mock NFT", "NFT") {}

    function mint(address to, uint256 id) external {
        _mint(to, id);
    }
}
