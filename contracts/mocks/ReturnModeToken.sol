// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test token whose transfer and approve succeed but answer in a configurable way: `true`, nothing at all
/// (USDT-style), a 1-byte answer, or the word 2 (neither false nor true). The wallet must accept only the first two.
contract ReturnModeToken {
    enum Mode {
        True,
        Nothing,
        Short,
        Two
    }

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    Mode public mode;

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        _answer();
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        _answer();
    }

    function _answer() private view {
        Mode m = mode;
        if (m == Mode.True) {
            assembly ("memory-safe") {
                mstore(0, 1)
                return(0, 32)
            }
        }
        if (m == Mode.Nothing) {
            assembly ("memory-safe") {
                return(0, 0)
            }
        }
        if (m == Mode.Short) {
            assembly ("memory-safe") {
                mstore8(0, 1)
                return(0, 1)
            }
        }
        assembly ("memory-safe") {
            mstore(0, 2)
            return(0, 32)
        }
    }
}
