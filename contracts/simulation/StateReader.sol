// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgentWallet} from "../AgentWallet.sol";

/// @dev The two views of OpenZeppelin's Ownable2Step the reader calls by selector (they are public, not external).
interface IOwnable2Step {
    function owner() external view returns (address);
    function pendingOwner() external view returns (address);
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

    /// @notice What observe() reads: (asset, account) balances and (token, owner, spender) allowances.
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

    /// @notice Balances and allowances read by prepare() and observe().
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

    /// @notice Names of the fields controlState() returns, in order.
    string public constant CONTROL_FIELDS = "owner,pendingOwner,cosigner,paused,codeHash";

    /// @notice Before a simulation: the auth state, the control-state hashes and the known balances, in one call.
    /// @dev Internal calls only (no calls to this contract), and the owner, co-signer and pause flag are read once
    /// for both the auth and the control state: every call frame costs the fork's EVM time on each decision.
    function prepare(
        address payable wallet,
        address signer,
        uint256 nonce,
        address self,
        Query calldata q
    ) external view returns (AuthState memory authState, bytes32[5] memory control, Observation memory o) {
        authState = _auth(wallet, signer, nonce, self);
        control = _controlState(wallet, authState.owner, authState.cosigner, authState.paused);
        (o.balances, o.balanceOk) = _balances(q.assets, q.accounts);
    }

    /// @notice After a simulation: the control-state hashes, balances and allowances, in one call.
    function observe(
        address payable wallet,
        Query calldata q
    ) external view returns (bytes32[5] memory control, Observation memory o) {
        control = _controlState(wallet);
        (o.balances, o.balanceOk) = _balances(q.assets, q.accounts);
        o.allowances = _allowances(q.allowanceTokens, q.allowanceOwners, q.allowanceSpenders);
    }

    /// @notice The wallet's scalar control state (see CONTROL_FIELDS). Its sets change only through functions that
    /// emit events, which the co-signer checks in the receipt.
    function controlState(address payable wallet) external view returns (bytes32[5] memory c) {
        return _controlState(wallet);
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
        s.owner = address(uint160(_walletWord(wallet, IOwnable2Step.owner.selector, 0)));
        s.selfIsGuardian = _walletWord(wallet, AgentWallet.isGuardian.selector, uint160(self)) != 0;
        s.selfIsSessionKey = _walletWord(wallet, AgentWallet.sessionKeyValidUntil.selector, uint160(self)) != 0;
        s.budgetedTokens = AgentWallet(wallet).budgetedTokens();
    }

    function _controlState(address payable wallet) internal view returns (bytes32[5] memory c) {
        return
            _controlState(
                wallet,
                address(uint160(_walletWord(wallet, IOwnable2Step.owner.selector, 0))),
                address(uint160(_walletWord(wallet, AgentWallet.cosigner.selector, 0))),
                _walletWord(wallet, AgentWallet.paused.selector, 0) != 0
            );
    }

    /// @dev The control state with the owner, co-signer and pause flag already read (in the same call).
    function _controlState(
        address payable wallet,
        address owner,
        address cosigner,
        bool paused
    ) internal view returns (bytes32[5] memory c) {
        c[0] = bytes32(uint256(uint160(owner)));
        c[1] = bytes32(_walletWord(wallet, IOwnable2Step.pendingOwner.selector, 0));
        c[2] = bytes32(uint256(uint160(cosigner)));
        c[3] = paused ? bytes32(uint256(1)) : bytes32(0);
        c[4] = wallet.codehash;
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

    /// @dev The one-word answer of `token.selector(a, b)` with READ_GAS (an ERC-20 balanceOf or allowance), and
    /// whether there was one.
    function _tokenWord(
        address token,
        bytes4 selector,
        address a,
        address b
    ) private view returns (uint256 value, bool ok) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), a)
            mstore(add(ptr, 0x24), b)
            ok := staticcall(READ_GAS, token, ptr, 0x44, 0x00, 0x20)
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
            (amounts[i], ok[i]) = _tokenWord(assets[i], IERC20.balanceOf.selector, accounts[i], address(0));
        }
    }

    function _allowances(
        address[] calldata tokens,
        address[] calldata owners,
        address[] calldata spenders
    ) internal view returns (uint256[] memory amounts) {
        amounts = new uint256[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            (uint256 amount, bool ok) = _tokenWord(tokens[i], IERC20.allowance.selector, owners[i], spenders[i]);
            amounts[i] = ok ? amount : type(uint256).max;
        }
    }
}
