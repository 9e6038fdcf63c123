// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgentWallet} from "../AgentWallet.sol";

/// @dev The view of OpenZeppelin's Ownable the reader calls by selector (it is public, not external).
interface IOwnable {
    function owner() external view returns (address);
}

/// @title StateReader
/// @notice Batch reads for the co-signer's fork: installed with hardhat_setCode on the in-process fork only, never
/// deployed to a real chain. One eth_call returns what would otherwise take dozens.
contract StateReader {
    /// @notice What the co-signer checks before it simulates (the wallet's Rules 1 and 2, read on the fork).
    struct AuthState {
        /// @notice Last second the signer may sign (unix seconds, inclusive); 0 when not a session key.
        uint48 validUntil;
        /// @notice Whether the nonce was executed or invalidated.
        bool nonceUsed;
        /// @notice Whether the agent path is paused.
        bool paused;
        /// @notice The wallet's co-signer.
        address cosigner;
        /// @notice The wallet's owner.
        address owner;
        /// @notice Whether the co-signer asking is also a guardian (a role conflict).
        bool selfIsGuardian;
        /// @notice Whether the co-signer asking is also a session key (a role conflict).
        bool selfIsSessionKey;
        /// @notice The budgeted ERC-20 tokens, whose balances the co-signer watches.
        address[] budgetedTokens;
    }

    /// @notice What prepare() reads: (asset, account) balances (its allowance arrays are not read).
    struct Query {
        /// @notice Asset of each balance (address(0) = native).
        address[] assets;
        /// @notice Account of each balance.
        address[] accounts;
        /// @notice Token of each allowance.
        address[] allowanceTokens;
        /// @notice Owner of each allowance.
        address[] allowanceOwners;
        /// @notice Spender of each allowance.
        address[] allowanceSpenders;
    }

    /// @notice Balances read by prepare() (observe() answers the same values, packed).
    struct Observation {
        /// @notice Balances in Query order (token base units or wei).
        uint256[] balances;
        /// @notice Whether each balance could be read.
        bool[] balanceOk;
        /// @notice Allowances in Query order (token base units; max uint when unreadable).
        uint256[] allowances;
    }

    /// @notice A budget as the wallet reports it (token base units; seconds).
    struct BudgetState {
        /// @notice The asset (address(0) = native).
        address token;
        /// @notice Bucket capacity (token base units).
        uint256 limit;
        /// @notice Refill period (seconds).
        uint256 period;
        /// @notice Per-operation cap (token base units).
        uint256 maxPerOperation;
        /// @notice Available now (token base units).
        uint256 available;
    }

    /// @notice The wallet's control state: anything here changing on the agent path is a refusal.
    struct WalletState {
        /// @notice The wallet's owner.
        address owner;
        /// @notice The pending owner of an ownership transfer.
        address pendingOwner;
        /// @notice The co-signer.
        address cosigner;
        /// @notice Whether the agent path is paused.
        bool paused;
        /// @notice Guardians.
        address[] guardians;
        /// @notice Session keys.
        address[] sessionKeys;
        /// @notice Last valid second of each session key (unix seconds).
        uint48[] sessionKeyValidUntil;
        /// @notice Budgets, native first.
        BudgetState[] budgets;
        /// @notice Allowlisted recipients.
        address[] recipients;
        /// @notice Call permissions.
        AgentWallet.CallPermission[] callPermissions;
        /// @notice The wallet's code hash.
        bytes32 codeHash;
    }

    /// @notice Reads the authentication state of `signer` and `nonce` on `wallet`.
    function auth(
        address payable wallet,
        address signer,
        uint256 nonce,
        address self
    ) external view returns (AuthState memory s) {
        return _auth(wallet, signer, nonce, self);
    }

    /// @notice Gas each balanceOf or allowance read gets (gas): a token answers in a few thousand; a contract
    /// named as an asset that burns what it is given reads as unreadable instead of holding the fork.
    uint256 public constant READ_GAS = 100_000;

    /// @notice Before a simulation: the auth state and the known balances, in one call.
    /// @dev Internal calls only (no calls to this contract): every call frame costs the fork's EVM time on each
    /// decision. The wallet's control state is not read here: the co-signer reads it from the wallet's storage
    /// (src/simulation/wallet-control.ts), which costs the fork a fraction of four calls through the wallet's clone.
    function prepare(
        address payable wallet,
        address signer,
        uint256 nonce,
        address self,
        Query calldata q
    ) external view returns (AuthState memory authState, Observation memory o) {
        authState = _auth(wallet, signer, nonce, self);
        (o.balances, o.balanceOk) = _balances(q.assets, q.accounts);
    }

    /// @notice After a simulation: balances and allowances, in one call, packed (no ABI decoder or encoder: the fork's
    /// EVM traces every step, and decoding a Query and encoding an Observation took it about 1,500 steps a decision).
    /// Calldata after the selector, in 32-byte words: n, m, then n pairs (asset, account) (asset address(0) = native),
    /// then m triples (token, owner, spender). Returns n balances, n ok flags (1 or 0), then m allowances: the same
    /// values as prepare()'s balances and allowances(), from the same calldata (a balance that cannot be read is 0 and
    /// not ok; an allowance that cannot be read is max uint). Reverts on calldata of any other length.
    // solhint-disable-next-line function-max-lines
    function observe() external view {
        assembly ("memory-safe") {
            let n := calldataload(0x04)
            let m := calldataload(0x24)
            if or(
                or(gt(n, 0xffff), gt(m, 0xffff)),
                iszero(eq(calldatasize(), add(0x44, add(shl(6, n), mul(m, 0x60)))))
            ) {
                revert(0x00, 0x00)
            }
            let out := mload(0x40)
            let oks := add(out, shl(5, n))
            let allowancesOut := add(oks, shl(5, n))
            // The allowance call's input, after the output (it needs 0x44 bytes: more than the scratch space).
            let input := add(allowancesOut, shl(5, m))
            let src := 0x44
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let asset := calldataload(src)
                let account := calldataload(add(src, 0x20))
                src := add(src, 0x40)
                switch asset
                case 0 {
                    mstore(add(out, shl(5, i)), balance(account))
                    mstore(add(oks, shl(5, i)), 1)
                }
                default {
                    mstore(input, shl(224, 0x70a08231)) // balanceOf(address)
                    mstore(add(input, 0x04), account)
                    let ok := staticcall(READ_GAS, asset, input, 0x24, 0x00, 0x20)
                    ok := and(ok, gt(returndatasize(), 0x1f))
                    mstore(add(out, shl(5, i)), mul(mload(0x00), ok))
                    mstore(add(oks, shl(5, i)), ok)
                }
            }
            for {
                let i := 0
            } lt(i, m) {
                i := add(i, 1)
            } {
                mstore(input, shl(224, 0xdd62ed3e)) // allowance(address,address)
                mstore(add(input, 0x04), calldataload(add(src, 0x20)))
                mstore(add(input, 0x24), calldataload(add(src, 0x40)))
                let ok := staticcall(READ_GAS, calldataload(src), input, 0x44, 0x00, 0x20)
                src := add(src, 0x60)
                let amount := not(0)
                if and(ok, gt(returndatasize(), 0x1f)) {
                    amount := mload(0x00)
                }
                mstore(add(allowancesOut, shl(5, i)), amount)
            }
            return(out, shl(5, add(shl(1, n), m)))
        }
    }

    /// @notice Reads the whole control state of `wallet`.
    function walletState(address payable wallet) external view returns (WalletState memory s) {
        AgentWallet w = AgentWallet(wallet);
        s.owner = w.owner();
        s.pendingOwner = w.pendingOwner();
        s.cosigner = w.cosigner();
        s.paused = w.paused();
        s.guardians = w.guardians();
        s.sessionKeys = w.sessionKeys();
        s.sessionKeyValidUntil = new uint48[](s.sessionKeys.length);
        for (uint256 i; i < s.sessionKeys.length; ++i)
            s.sessionKeyValidUntil[i] = w.sessionKeyValidUntil(s.sessionKeys[i]);
        address[] memory tokens = w.budgetedTokens();
        s.budgets = new BudgetState[](tokens.length + 1);
        for (uint256 i; i <= tokens.length; ++i) {
            address token = i == 0 ? address(0) : tokens[i - 1];
            (uint256 limit, uint256 period, uint256 maxPerOperation) = w.budget(token);
            s.budgets[i] = BudgetState(token, limit, period, maxPerOperation, w.available(token));
        }
        s.recipients = w.recipients();
        s.callPermissions = w.callPermissions();
        s.codeHash = wallet.codehash;
    }

    /// @notice Balances of (asset, account) pairs; address(0) is native ETH. `ok` is false where balanceOf failed
    /// (or needed more than READ_GAS).
    function balances(
        address[] calldata assets,
        address[] calldata accounts
    ) external view returns (uint256[] memory amounts, bool[] memory ok) {
        return _balances(assets, accounts);
    }

    /// @notice ERC-20 allowances of (token, owner, spender) triples; a failing call reads as max uint.
    function allowances(
        address[] calldata tokens,
        address[] calldata owners,
        address[] calldata spenders
    ) external view returns (uint256[] memory amounts) {
        return _allowances(tokens, owners, spenders);
    }

    /// @dev Every read of the co-signer's hot path is a raw staticcall (no extcodesize check, no ABI decoder): the
    /// fork's EVM traces every step it runs, so each step saved is time saved on every decision.
    function _auth(
        address payable wallet,
        address signer,
        uint256 nonce,
        address self
    ) internal view returns (AuthState memory s) {
        s.validUntil = uint48(_walletWord(wallet, AgentWallet.sessionKeyValidUntil.selector, uint160(signer)));
        s.nonceUsed = _walletWord(wallet, AgentWallet.isNonceUsed.selector, nonce) != 0;
        s.paused = _walletWord(wallet, AgentWallet.paused.selector, 0) != 0;
        s.cosigner = address(uint160(_walletWord(wallet, AgentWallet.cosigner.selector, 0)));
        s.owner = address(uint160(_walletWord(wallet, IOwnable.owner.selector, 0)));
        s.selfIsGuardian = _walletWord(wallet, AgentWallet.isGuardian.selector, uint160(self)) != 0;
        s.selfIsSessionKey = _walletWord(wallet, AgentWallet.sessionKeyValidUntil.selector, uint160(self)) != 0;
        s.budgetedTokens = AgentWallet(wallet).budgetedTokens();
    }

    /// @dev The one-word answer of a wallet view `selector(arg)` (an argument-less view ignores `arg`). Reverts when
    /// the call fails or answers less than a word, as a high-level call would: `wallet` is not an AgentWallet.
    function _walletWord(address wallet, bytes4 selector, uint256 arg) private view returns (uint256 value) {
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, arg)
            // Yul evaluates arguments right to left: the call must come before returndatasize() is read.
            let ok := staticcall(gas(), wallet, 0x00, 0x24, 0x00, 0x20)
            if iszero(and(ok, gt(returndatasize(), 0x1f))) {
                revert(0x00, 0x00)
            }
            value := mload(0x00)
        }
    }

    /// @dev The one-word answer of `token.selector(a, b)` with READ_GAS, and whether there was one: an ERC-20
    /// allowance(a, b) with `size` 0x44, or balanceOf(a) with `size` 0x24 (`b` not sent: the calldata the wallet's own
    /// balance reads send, and observe()'s, so that a token answering by calldata size reads the same everywhere).
    function _tokenWord(
        address token,
        bytes4 selector,
        address a,
        address b,
        uint256 size
    ) private view returns (uint256 value, bool ok) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), a)
            mstore(add(ptr, 0x24), b)
            ok := staticcall(READ_GAS, token, ptr, size, 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            value := mul(mload(0x00), ok)
        }
    }

    function _balances(
        address[] calldata assets,
        address[] calldata accounts
    ) internal view returns (uint256[] memory amounts, bool[] memory ok) {
        amounts = new uint256[](assets.length);
        ok = new bool[](assets.length);
        for (uint256 i; i < assets.length; ++i) {
            if (assets[i] == address(0)) {
                (amounts[i], ok[i]) = (accounts[i].balance, true);
                continue;
            }
            (amounts[i], ok[i]) = _tokenWord(assets[i], IERC20.balanceOf.selector, accounts[i], address(0), 0x24);
        }
    }

    function _allowances(
        address[] calldata tokens,
        address[] calldata owners,
        address[] calldata spenders
    ) internal view returns (uint256[] memory amounts) {
        amounts = new uint256[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            (uint256 amount, bool ok) = _tokenWord(tokens[i], IERC20.allowance.selector, owners[i], spenders[i], 0x44);
            amounts[i] = ok ? amount : type(uint256).max;
        }
    }
}
