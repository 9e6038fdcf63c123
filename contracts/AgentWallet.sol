// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {LowLevelCall} from "@openzeppelin/contracts/utils/LowLevelCall.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title AgentWallet
/// @notice A smart wallet an AI agent can use only through a session key plus a co-signature, within per-token
/// budgets that refill over time, per-operation caps and recipient/call allowlists set by the owner. Version 2:
/// every operation also carries the gas each call gets and the outcome the co-signer accepted (bounds), and the
/// wallet enforces both, so what the co-signer simulated is what the chain allows.
/// @dev Deployed as EIP-1167 clones by AgentWalletFactory and initialised in the same transaction.
/// The agent path (execute) reverts unless all five rules hold; they are numbered as in DESIGN.md, and every
/// "Rule n" below points here:
/// - Rule 1: not paused; block.timestamp <= deadline; the nonce unused (unordered nonces, each used once).
/// - Rule 2: the agent signature recovers to a registered, unexpired session key; the co-signature to the co-signer.
/// - Rule 3: per call: never delegatecall, never the wallet itself; empty data is a native transfer to an allowlisted
///   recipient; a budgeted token's transfer(to, amount) needs `to` allowlisted, its approve(spender, amount) a spender
///   with a call permission; anything else an explicit (target, selector) permission, never a transfer-like selector
///   on a budgeted token; each call gets exactly callGasLimit gas, or InsufficientGas.
/// - Rule 4: budgets charge gross outflow (a budgeted transfer its calldata amount, a call its value, every other
///   call each budgeted asset's measured decrease; no credit for inflow); per asset the sum is <= maxPerOperation and
///   <= the available budget; every allowance the batch granted is back to 0.
/// - Rule 5: after the batch, every bound holds: balance(asset, account) after minus before >= minDelta.
/// Beyond the five: 1 to MAX_CALLS calls and at most MAX_BOUNDS bounds.
contract AgentWallet is
    Initializable,
    Ownable2Step,
    EIP712,
    ReentrancyGuardTransient,
    ERC721Holder,
    ERC1155Holder,
    IERC1271
{
    using BitMaps for BitMaps.BitMap;
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    // ───────────────────────────── types ─────────────────────────────

    /// @notice One call of an operation. There is no operation type: the wallet never delegatecalls.
    struct Call {
        /// @notice The contract or account called.
        address target;
        /// @notice Native value sent with the call (wei).
        uint256 value;
        /// @notice Calldata; empty means a plain native transfer.
        bytes data;
    }

    /// @notice The least an account's balance of an asset may change by across the whole operation.
    struct Bound {
        /// @notice The ERC-20 token, or NATIVE (address(0)) for ETH.
        address asset;
        /// @notice The account whose balance is measured before and after the batch.
        address account;
        /// @notice Smallest allowed change, after minus before (token base units or wei; negative = outflow).
        int256 minDelta;
    }

    /// @notice A session key and the last second it may sign.
    struct SessionKeyConfig {
        /// @notice The agent's signing address.
        address key;
        /// @notice Last second the key is valid (unix seconds, inclusive).
        uint48 validUntil;
    }

    /// @notice A refilling budget for one asset.
    struct BudgetConfig {
        /// @notice The ERC-20 token, or NATIVE (address(0)) for ETH.
        address token;
        /// @notice Bucket capacity and amount refilled per period (token base units, 1 to type(uint112).max).
        uint256 limit;
        /// @notice Seconds for an empty bucket to refill completely (seconds, 1 to MAX_BUDGET_PERIOD).
        uint256 period;
        /// @notice Largest gross outflow one operation may have (token base units, 1 to limit).
        uint256 maxPerOperation;
    }

    /// @notice A (target, selector) pair the agent path may call.
    struct CallPermission {
        /// @notice The contract called.
        address target;
        /// @notice The function selector permitted on it.
        bytes4 selector;
    }

    /// @notice Everything a new wallet starts with; set atomically by the factory.
    struct InitConfig {
        /// @notice The human (EOA or multisig) with full control.
        address owner;
        /// @notice The co-signer service's signing address.
        address cosigner;
        /// @notice Accounts that may pause, revoke session keys and invalidate nonces.
        address[] guardians;
        /// @notice The agent's session keys.
        SessionKeyConfig[] sessionKeys;
        /// @notice Budgets per asset.
        BudgetConfig[] budgets;
        /// @notice Recipients of native transfers and budgeted-token transfers.
        address[] recipients;
        /// @notice Calls the agent path may make beyond transfers and approvals of budgeted tokens.
        CallPermission[] callPermissions;
    }

    /// @dev A budget's settings in one slot, read-only on the agent path; maxPerOperation != 0 iff budgeted.
    struct Budget {
        uint112 maxPerOperation;
        uint112 limit;
        uint32 period;
    }

    /// @dev A budget's consumption in one slot, with the meaning of OpenZeppelin RateLimiter's bucket item.
    struct Bucket {
        uint208 lastUsed;
        uint48 lastTimepoint;
    }

    // ───────────────────────────── constants ─────────────────────────────

    /// @notice The asset key of native ETH in budgets, bounds and events.
    address public constant NATIVE = address(0);
    /// @notice Longest refill period a budget may have (seconds).
    uint256 public constant MAX_BUDGET_PERIOD = 365 days;
    /// @notice Most calls in one operation.
    uint256 public constant MAX_CALLS = 16;
    /// @notice Most bounds in one operation.
    uint256 public constant MAX_BOUNDS = 32;
    /// @notice Gas kept back, beyond EIP-150's 1/64, for the CALL itself (cold account, value, new account) (gas).
    uint256 public constant CALL_RESERVE = 40_000;

    /// @notice EIP-712 type hash of Call.
    bytes32 public constant CALL_TYPEHASH = keccak256("Call(address target,uint256 value,bytes data)");
    /// @notice EIP-712 type hash of Bound.
    bytes32 public constant BOUND_TYPEHASH = keccak256("Bound(address asset,address account,int256 minDelta)");
    /// @notice EIP-712 type hash of Operation (referenced types sorted by name, as EIP-712 requires).
    bytes32 public constant OPERATION_TYPEHASH = keccak256(
        "Operation(Call[] calls,uint256 nonce,uint256 deadline,uint256 callGasLimit,Bound[] bounds)"
        "Bound(address asset,address account,int256 minDelta)"
        "Call(address target,uint256 value,bytes data)"
    );
    /// @notice EIP-712 type hash wrapping an ERC-1271 hash so an owner signature is bound to this wallet.
    bytes32 public constant WALLET_MESSAGE_TYPEHASH = keccak256("WalletMessage(bytes32 hash)");

    bytes32 private constant _DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant _HASHED_NAME = keccak256("AgentWallet");
    bytes32 private constant _HASHED_VERSION = keccak256("2");

    bytes4 private constant _TRANSFER = IERC20.transfer.selector;
    bytes4 private constant _APPROVE = IERC20.approve.selector;
    bytes4 private constant _TRANSFER_FROM = IERC20.transferFrom.selector;
    bytes4 private constant _PERMIT = IERC20Permit.permit.selector;
    bytes4 private constant _INCREASE_ALLOWANCE = bytes4(keccak256("increaseAllowance(address,uint256)"));
    bytes4 private constant _INCREASE_APPROVAL = bytes4(keccak256("increaseApproval(address,uint256)"));
    bytes4 private constant _APPROVE_AND_CALL = bytes4(keccak256("approveAndCall(address,uint256,bytes)"));
    bytes4 private constant _AUTHORIZE_OPERATOR = bytes4(keccak256("authorizeOperator(address)"));

    // Kinds of call in an execution plan (low 2 bits of a call's 16; the asset's index in the charge list above).
    uint256 private constant _NATIVE_TRANSFER = 0;
    uint256 private constant _TOKEN_TRANSFER = 1;
    uint256 private constant _TOKEN_APPROVE = 2;
    uint256 private constant _PERMITTED_CALL = 3;

    // ───────────────────────────── storage ─────────────────────────────

    // The co-signer and the pause flag share one slot: the agent path reads both with one cold SLOAD.
    // (This is why the wallet does not inherit OpenZeppelin's Pausable, whose flag would sit in its own slot.)
    address private _cosigner;
    bool private _paused;

    mapping(address key => uint48 validUntil) private _sessionKeyValidUntil;
    EnumerableSet.AddressSet private _sessionKeys;
    EnumerableSet.AddressSet private _guardians;
    BitMaps.BitMap private _usedNonces;

    // A budget is two slots, settings and consumption: RateLimiter keeps three per budget here (its settings, its
    // item and our cap), and each is a cold read on every operation. The property test checks this bucket step for
    // step against RateLimiter itself.
    mapping(address token => Budget) private _budgets;
    mapping(address token => Bucket) private _buckets;
    EnumerableSet.AddressSet private _budgetedTokens; // ERC-20s only; NATIVE is always measured

    EnumerableSet.AddressSet private _recipients;
    EnumerableSet.Bytes32Set private _callPermissions; // keys from _permissionKey(target, selector)
    mapping(address target => uint256) private _permissionCount;

    // ───────────────────────────── events ─────────────────────────────

    /// @notice An operation passed every check and ran: emitted after its calls, charges and bound checks.
    /// `digest` joins it to the co-signer's audit record.
    event Executed(bytes32 indexed digest, address indexed sessionKey, uint256 indexed nonce);
    /// @notice The operation whose Executed event follows this one in the same transaction had its gross outflow of
    /// `token` charged to its budget (token base units; wei for NATIVE).
    /// @dev No digest: it would cost every operation 375 gas, and execute is nonReentrant, so a wallet's
    /// BudgetCharged events always come between the previous operation's Executed event and their own.
    event BudgetCharged(address indexed token, uint256 amount);
    /// @notice The owner ran one call without limits (`selector` is zero for a plain native transfer).
    event OwnerExecuted(address indexed target, uint256 value, bytes4 selector);
    /// @notice The agent path was paused by `account` (owner or guardian).
    event Paused(address account);
    /// @notice The agent path was resumed by the owner.
    event Unpaused(address account);
    /// @notice A session key was added or its expiry changed (unix seconds, inclusive).
    event SessionKeyAdded(address indexed key, uint48 validUntil);
    /// @notice A session key was revoked by `by` (owner or guardian).
    event SessionKeyRevoked(address indexed key, address indexed by);
    /// @notice The co-signer changed.
    event CosignerChanged(address indexed previousCosigner, address indexed newCosigner);
    /// @notice A guardian was added.
    event GuardianAdded(address indexed guardian);
    /// @notice A guardian was removed.
    event GuardianRemoved(address indexed guardian);
    /// @notice A nonce was burnt without executing, by `by` (owner or guardian).
    event NonceInvalidated(uint256 indexed nonce, address indexed by);
    /// @notice A budget was set (token base units; seconds).
    event BudgetSet(address indexed token, uint256 limit, uint256 period, uint256 maxPerOperation);
    /// @notice A budget was removed; the token is no longer budgeted.
    event BudgetRemoved(address indexed token);
    /// @notice A recipient was allowed or disallowed.
    event RecipientSet(address indexed recipient, bool allowed);
    /// @notice A (target, selector) call permission was granted or withdrawn.
    event CallPermissionSet(address indexed target, bytes4 indexed selector, bool allowed);

    // ───────────────────────────── errors ─────────────────────────────

    /// @notice The agent path is paused.
    error WalletPaused();
    /// @notice The operation's deadline passed (unix seconds).
    error DeadlineExpired(uint256 deadline, uint256 timestamp);
    /// @notice The nonce was already executed or invalidated.
    error NonceAlreadyUsed(uint256 nonce);
    /// @notice The operation has no calls or more than MAX_CALLS.
    error InvalidCallCount(uint256 count);
    /// @notice The operation has more than MAX_BOUNDS bounds.
    error InvalidBoundCount(uint256 count);
    /// @notice The agent signature is malformed (wrong length, high s, or unrecoverable).
    error InvalidAgentSignature();
    /// @notice The agent signature recovered to an address that is not a registered session key.
    error UnknownSessionKey(address signer);
    /// @notice The session key is past its last valid second (unix seconds).
    error SessionKeyExpired(address key, uint48 validUntil);
    /// @notice No co-signer is configured, so nothing can run on the agent path.
    error CosignerNotSet();
    /// @notice The co-signature is malformed or recovered to `signer`, not the co-signer.
    error InvalidCosignerSignature(address signer);
    /// @notice A call targets the wallet itself.
    error SelfCallNotAllowed(uint256 index);
    /// @notice A native or token transfer goes to a recipient that is not allowlisted.
    error RecipientNotAllowed(address recipient);
    /// @notice An approval names a spender that has no call permission.
    error SpenderNotPermitted(address token, address spender);
    /// @notice The (target, selector) pair is not permitted on the agent path.
    error CallNotPermitted(address target, bytes4 selector);
    /// @notice Calldata too short for its selector, or an address argument with dirty upper bits.
    error MalformedCall(uint256 index);
    /// @notice A call reverted; `reason` is its revert data.
    error CallReverted(uint256 index, bytes reason);
    /// @notice A token transfer or approve returned false.
    error TokenCallFailed(uint256 index, address token);
    /// @notice Too little gas is left to give call `index` exactly `callGasLimit` (gas).
    error InsufficientGas(uint256 index, uint256 callGasLimit, uint256 gasLeft);
    /// @notice The operation's gross outflow of `token` is above its per-operation cap (token base units).
    error PerOperationCapExceeded(address token, uint256 outflow, uint256 cap);
    /// @notice The operation's gross outflow of `token` is above what its budget has available now (token base units).
    error BudgetExceeded(address token, uint256 outflow, uint256 available);
    /// @notice An allowance granted in the batch was not back to zero at its end.
    error StandingApproval(address token, address spender, uint256 allowance);
    /// @notice After the batch, `account`'s balance of `asset` changed by `actualDelta`, less than `minDelta`.
    error BoundViolated(address asset, address account, int256 minDelta, int256 actualDelta);
    /// @notice The balance of `account` in `asset` cannot be read (balanceOf reverted or answered badly).
    error BalanceUnreadable(address asset, address account);
    /// @notice The caller is neither the owner nor a guardian.
    error NotOwnerOrGuardian(address caller);
    /// @notice A budget configuration is out of range.
    error InvalidBudget(address token, uint256 limit, uint256 period, uint256 maxPerOperation);
    /// @notice A transfer-like call permission and a budget on the same token would bypass the budget.
    error TokenPermissionConflict(address token, bytes4 selector);
    /// @notice A session key configuration is invalid (zero key, or validUntil not in the future).
    error InvalidSessionKey(address key, uint48 validUntil);
    /// @notice The account already holds another role; owner, co-signer, guardians and session keys must differ.
    error RoleConflict(address account);
    /// @notice renounceOwnership is disabled.
    error RenounceOwnershipDisabled();
    /// @notice The address is zero or the wallet itself where an account is needed.
    error InvalidAddress(address account);

    // ───────────────────────────── modifiers ─────────────────────────────

    modifier onlyOwnerOrGuardian() {
        _checkOwnerOrGuardian();
        _;
    }

    // ───────────────────────────── constructor / initializer ─────────────────────────────

    /// @dev The implementation is owned by its deployer (the factory) and can never be initialised.
    constructor() EIP712("AgentWallet", "2") Ownable(msg.sender) {
        // _hashTypedDataV4 below hashes the same name and version (eip712Domain() reports them).
        _disableInitializers();
    }

    /// @notice Sets the owner, co-signer, guardians, session keys, budgets and allowlists of a new clone.
    /// @dev Called by the factory in the deploying transaction, so nobody can front-run it.
    function initialize(InitConfig calldata config) external initializer {
        if (config.owner == address(0) || config.owner == address(this)) revert InvalidAddress(config.owner);
        _transferOwnership(config.owner);
        _setCosigner(config.cosigner);
        for (uint256 i; i < config.guardians.length; ++i) _addGuardian(config.guardians[i]);
        for (uint256 i; i < config.sessionKeys.length; ++i) {
            _addSessionKey(config.sessionKeys[i].key, config.sessionKeys[i].validUntil);
        }
        for (uint256 i; i < config.budgets.length; ++i) _setBudget(config.budgets[i]);
        for (uint256 i; i < config.recipients.length; ++i) _setRecipient(config.recipients[i], true);
        for (uint256 i; i < config.callPermissions.length; ++i) {
            _setCallPermission(config.callPermissions[i].target, config.callPermissions[i].selector, true);
        }
    }

    /// @notice Accepts native ETH.
    receive() external payable {}

    // ───────────────────────────── external: agent path ─────────────────────────────

    /// @notice Runs `calls` signed by a session key and co-signed by the co-signer. Anyone may relay it.
    /// @dev Trust boundary: everything here is attacker-controlled except what the two signatures bind.
    /// @param calls The calls, run in order with CALL (never DELEGATECALL).
    /// @param nonce Unordered nonce; each value runs at most once.
    /// @param deadline Last second the operation may run (unix seconds, inclusive).
    /// @param callGasLimit Gas every call gets, exactly (gas); the relayer must leave enough to forward it.
    /// @param bounds Least change of each (asset, account) balance across the batch; checked after it.
    /// @param agentSignature 65-byte ECDSA signature of the session key over operationDigest.
    /// @param cosignerSignature 65-byte ECDSA signature of the co-signer over operationDigest.
    function execute(
        Call[] calldata calls,
        uint256 nonce,
        uint256 deadline,
        uint256 callGasLimit,
        Bound[] calldata bounds,
        bytes calldata agentSignature,
        bytes calldata cosignerSignature
    ) external nonReentrant {
        bytes32 digest = _checkOperation(calls, nonce, deadline, callGasLimit, bounds);
        address sessionKey = _authorize(digest, nonce, agentSignature, cosignerSignature);
        _run(calls, callGasLimit, bounds);
        emit Executed(digest, sessionKey, nonce);
    }

    // ───────────────────────────── external: owner path ─────────────────────────────

    /// @notice Runs `calls` with no limits; works while paused so the owner can rescue funds.
    function ownerExecute(Call[] calldata calls) external onlyOwner nonReentrant {
        for (uint256 i; i < calls.length; ++i) {
            Call calldata c = calls[i];
            if (!LowLevelCall.callNoReturn(c.target, c.value, c.data)) {
                revert CallReverted(i, LowLevelCall.returnData());
            }
            emit OwnerExecuted(c.target, c.value, c.data.length < 4 ? bytes4(0) : bytes4(c.data));
        }
    }

    /// @notice Stops the agent path (circuit breaker). Owner or guardian.
    function pause() external onlyOwnerOrGuardian {
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Resumes the agent path. Owner only: guardians stop things, never start them.
    function unpause() external onlyOwner {
        _paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Adds a session key, or changes its expiry.
    /// @param validUntil Last second the key may sign (unix seconds, inclusive; must be in the future).
    function addSessionKey(address key, uint48 validUntil) external onlyOwner {
        _addSessionKey(key, validUntil);
    }

    /// @notice Revokes a session key at once. Owner or guardian.
    function revokeSessionKey(address key) external onlyOwnerOrGuardian {
        if (!_sessionKeys.remove(key)) return;
        delete _sessionKeyValidUntil[key];
        emit SessionKeyRevoked(key, msg.sender);
    }

    /// @notice Burns a nonce so an operation signed with it can never run. Owner or guardian.
    function invalidateNonce(uint256 nonce) external onlyOwnerOrGuardian {
        if (_usedNonces.get(nonce)) revert NonceAlreadyUsed(nonce);
        _usedNonces.set(nonce);
        emit NonceInvalidated(nonce, msg.sender);
    }

    /// @notice Replaces the co-signer.
    function setCosigner(address newCosigner) external onlyOwner {
        _setCosigner(newCosigner);
    }

    /// @notice Adds a guardian.
    function addGuardian(address guardian) external onlyOwner {
        _addGuardian(guardian);
    }

    /// @notice Removes a guardian.
    function removeGuardian(address guardian) external onlyOwner {
        if (_guardians.remove(guardian)) emit GuardianRemoved(guardian);
    }

    /// @notice Sets (or replaces) the budget of one asset. Consumption so far is kept, refilled to now first.
    function setBudget(BudgetConfig calldata config) external onlyOwner {
        _setBudget(config);
    }

    /// @notice Removes the budget of one asset; transfers of a removed token need an explicit call permission.
    function removeBudget(address token) external onlyOwner {
        if (_budgets[token].maxPerOperation == 0) return;
        _checkNoTokenPermission(token);
        delete _budgets[token];
        delete _buckets[token];
        _budgetedTokens.remove(token);
        emit BudgetRemoved(token);
    }

    /// @notice Allows or disallows a recipient of native and budgeted-token transfers.
    function setRecipient(address recipient, bool allowed) external onlyOwner {
        _setRecipient(recipient, allowed);
    }

    /// @notice Grants or withdraws a (target, selector) call permission.
    function setCallPermission(address target, bytes4 selector, bool allowed) external onlyOwner {
        _setCallPermission(target, selector, allowed);
    }

    // ───────────────────────────── external views ─────────────────────────────

    /// @notice ERC-1271: valid only for the owner's signature over replaySafeHash(hash), never a session key's.
    /// @dev An agent must not be able to sign a Permit, Permit2 or an order on the wallet's behalf.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return
            SignatureChecker.isValidSignatureNow(owner(), replaySafeHash(hash), signature)
                ? IERC1271.isValidSignature.selector
                : bytes4(0xffffffff);
    }

    /// @notice The co-signer (zero when unset: then nothing runs on the agent path).
    function cosigner() external view returns (address) {
        return _cosigner;
    }

    /// @notice Whether the agent path is paused.
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @notice Whether `account` is a guardian.
    function isGuardian(address account) external view returns (bool) {
        return _guardians.contains(account);
    }

    /// @notice All guardians.
    function guardians() external view returns (address[] memory) {
        return _guardians.values();
    }

    /// @notice Last second `key` may sign (unix seconds, inclusive); 0 when not a session key.
    function sessionKeyValidUntil(address key) external view returns (uint48) {
        return _sessionKeyValidUntil[key];
    }

    /// @notice Whether `key` may sign now.
    function isSessionKeyActive(address key) external view returns (bool) {
        return block.timestamp <= _sessionKeyValidUntil[key];
    }

    /// @notice All registered session keys (active or expired, not revoked).
    function sessionKeys() external view returns (address[] memory) {
        return _sessionKeys.values();
    }

    /// @notice Whether `nonce` was executed or invalidated.
    function isNonceUsed(uint256 nonce) external view returns (bool) {
        return _usedNonces.get(nonce);
    }

    /// @notice The budget of `token` (token base units; seconds); all zero when not budgeted.
    function budget(address token) external view returns (uint256 limit, uint256 period, uint256 maxPerOperation) {
        Budget memory b = _budgets[token];
        return (b.limit, b.period, b.maxPerOperation);
    }

    /// @notice What `token` can still flow out now (token base units), refilled to this second.
    function available(address token) external view returns (uint256 available_) {
        (, available_) = _bucketState(_budgets[token], _buckets[token]);
    }

    /// @notice The budgeted ERC-20 tokens (NATIVE is not listed; see budget(NATIVE)).
    function budgetedTokens() external view returns (address[] memory) {
        return _budgetedTokens.values();
    }

    /// @notice Whether `recipient` may receive native and budgeted-token transfers.
    function isRecipientAllowed(address recipient) external view returns (bool) {
        return _recipients.contains(recipient);
    }

    /// @notice All allowlisted recipients.
    function recipients() external view returns (address[] memory) {
        return _recipients.values();
    }

    /// @notice Whether the agent path may call `selector` on `target`.
    function isCallPermitted(address target, bytes4 selector) external view returns (bool) {
        return _callPermissions.contains(_permissionKey(target, selector));
    }

    /// @notice All call permissions.
    function callPermissions() external view returns (CallPermission[] memory permissions) {
        uint256 count = _callPermissions.length();
        permissions = new CallPermission[](count);
        for (uint256 i; i < count; ++i) {
            bytes32 key = _callPermissions.at(i);
            permissions[i] = CallPermission(address(uint160(uint256(key) >> 96)), bytes4(uint32(uint256(key))));
        }
    }

    // ───────────────────────────── public ─────────────────────────────

    /// @notice The EIP-712 digest both signatures of an operation sign.
    /// @dev Domain {name: "AgentWallet", version: "2", chainId, verifyingContract: this wallet}.
    function operationDigest(
        Call[] calldata calls,
        uint256 nonce,
        uint256 deadline,
        uint256 callGasLimit,
        Bound[] calldata bounds
    ) public view returns (bytes32) {
        bytes32 typeHash = OPERATION_TYPEHASH;
        bytes32 callsHash = _hashCalls(calls);
        bytes32 boundsHash = _hashBounds(bounds);
        bytes32 structHash;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), callsHash)
            mstore(add(m, 0x40), nonce)
            mstore(add(m, 0x60), deadline)
            mstore(add(m, 0x80), callGasLimit)
            mstore(add(m, 0xa0), boundsHash)
            structHash := keccak256(m, 0xc0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @notice The hash the owner signs for ERC-1271: `hash` wrapped in this wallet's EIP-712 domain.
    /// @dev Stops one owner signature being replayed on another wallet of the same owner.
    function replaySafeHash(bytes32 hash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(WALLET_MESSAGE_TYPEHASH, hash)));
    }

    /// @notice Disabled: a wallet without an owner could never be unpaused, reconfigured or rescued.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceOwnershipDisabled();
    }

    /// @notice Starts an ownership transfer; the new owner must not hold another role nor be the wallet itself.
    /// @dev The wallet as its own owner could accept through ownerExecute and lock itself for ever.
    function transferOwnership(address newOwner) public override onlyOwner {
        if (newOwner == address(this)) revert InvalidAddress(newOwner);
        _checkNoOtherRole(newOwner);
        super.transferOwnership(newOwner);
    }

    // ───────────────────────────── internal ─────────────────────────────

    /// @dev Rule 1 (not paused, in time, fresh nonce) and the sizes in range; returns the operation's digest.
    function _checkOperation(
        Call[] calldata calls,
        uint256 nonce,
        uint256 deadline,
        uint256 callGasLimit,
        Bound[] calldata bounds
    ) internal view returns (bytes32) {
        if (_paused) revert WalletPaused();
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
        if (calls.length == 0 || calls.length > MAX_CALLS) revert InvalidCallCount(calls.length);
        if (bounds.length > MAX_BOUNDS) revert InvalidBoundCount(bounds.length);
        if (_usedNonces.get(nonce)) revert NonceAlreadyUsed(nonce);
        return operationDigest(calls, nonce, deadline, callGasLimit, bounds);
    }

    /// @dev Rule 2: both signatures; then burns the nonce. Returns the session key that signed.
    function _authorize(
        bytes32 digest,
        uint256 nonce,
        bytes calldata agentSignature,
        bytes calldata cosignerSignature
    ) internal returns (address sessionKey) {
        sessionKey = _checkAgentSignature(digest, agentSignature);
        _checkCosignerSignature(digest, cosignerSignature, _cosigner);
        _usedNonces.set(nonce);
    }

    /// @dev OpenZeppelin's EIP712 rebuilds the domain separator with abi.encode on every call in a clone (its cache
    /// holds the implementation's address); this builds the same separator and digest in scratch memory, about 150
    /// gas less per operation. The digest parity tests compare it with viem's hashTypedData.
    function _hashTypedDataV4(bytes32 structHash) internal view override returns (bytes32 digest) {
        (bytes32 typeHash, bytes32 name, bytes32 version) = (_DOMAIN_TYPEHASH, _HASHED_NAME, _HASHED_VERSION);
        assembly ("memory-safe") {
            let m := mload(0x40) // temporary memory past the free pointer, never kept
            mstore(m, typeHash)
            mstore(add(m, 0x20), name)
            mstore(add(m, 0x40), version)
            mstore(add(m, 0x60), chainid())
            mstore(add(m, 0x80), address())
            let separator := keccak256(m, 0xa0)
            mstore(m, hex"1901")
            mstore(add(m, 0x02), separator)
            mstore(add(m, 0x22), structHash)
            digest := keccak256(m, 0x42)
        }
    }

    /// @dev Recovers the session key; expired, revoked and unknown keys are refused with the recovered address.
    function _checkAgentSignature(bytes32 digest, bytes calldata signature) internal view returns (address key) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidAgentSignature();
        uint48 validUntil = _sessionKeyValidUntil[signer];
        if (validUntil == 0) revert UnknownSessionKey(signer);
        if (block.timestamp > validUntil) revert SessionKeyExpired(signer, validUntil);
        return signer;
    }

    /// @dev An unset co-signer (zero) can never match: tryRecover never returns zero without an error.
    function _checkCosignerSignature(bytes32 digest, bytes calldata signature, address cosigner_) internal pure {
        if (cosigner_ == address(0)) revert CosignerNotSet();
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != cosigner_) revert InvalidCosignerSignature(signer);
    }

    /// @dev Rules 3 to 5 for an authorized operation: check every call, run them, charge, check the bounds. Returns
    /// only once all of them held (execute emits Executed then).
    function _run(Call[] calldata calls, uint256 callGasLimit, Bound[] calldata bounds) internal {
        if (calls.length == 1 && bounds.length == 0 && _runPlainTransfer(calls, callGasLimit)) return;
        (address[] memory assets, uint256 plan) = _plan(calls);
        uint256[] memory boundsBefore = _boundBalances(bounds);
        uint256[] memory charged = _runCalls(calls, plan, assets, callGasLimit);
        _checkNoStandingApprovals(calls, plan);
        for (uint256 i; i < assets.length; ++i) {
            if (charged[i] != 0) _charge(assets[i], charged[i], _budgets[assets[i]]);
        }
        _checkBounds(bounds, boundsBefore);
    }

    /// @dev The common case, one plain transfer with no bounds, without the general path's lists: a native
    /// transfer, or a budgeted token's transfer(to, amount), to an allowlisted recipient, charged its value and
    /// calldata amount. Rules 3 and 4 as _plan, _runCalls and _charge apply them (the tests run both paths);
    /// returns false, having done nothing, for any other call.
    function _runPlainTransfer(Call[] calldata calls, uint256 callGasLimit) internal returns (bool) {
        (address target, uint256 value, bytes calldata data) = _callAt(calls, 0);
        if (data.length == 0) {
            if (target.code.length != 0) return false; // a recipient with code: measured on the general path
            if (!_recipients.contains(target)) revert RecipientNotAllowed(target);
            _callExact(0, target, value, data, callGasLimit);
        } else {
            if (data.length != 68 || bytes4(data) != _TRANSFER || target == NATIVE) return false;
            Budget memory b = _budgets[target];
            if (b.maxPerOperation == 0) return false;
            uint256 word = uint256(bytes32(data[4:36]));
            if (word > type(uint160).max) revert MalformedCall(0);
            if (!_recipients.contains(address(uint160(word)))) revert RecipientNotAllowed(address(uint160(word)));
            bytes32 ret = _callExact(0, target, value, data, callGasLimit);
            uint256 size = LowLevelCall.returnDataSize();
            if (size == 0 ? target.code.length == 0 : (size < 32 || uint256(ret) != 1))
                revert TokenCallFailed(0, target);
            uint256 amount = uint256(bytes32(data[36:68]));
            if (amount != 0) _charge(target, amount, b); // like RateLimiter.tryConsume(0): nothing written
        }
        if (value != 0) _charge(NATIVE, value, _budgets[NATIVE]);
        return true;
    }

    /// @dev Applies Rule 3 to every call before any runs. Returns the assets whose outflow is charged (NATIVE
    /// first; every budgeted token when a permitted call is in the batch, else only the tokens transferred or
    /// approved) and the plan: 16 bits per call (call i at bit 16*i), its kind in the low 2 bits and the index of its
    /// token in `assets` above them.
    function _plan(Call[] calldata calls) internal view returns (address[] memory assets, uint256 plan) {
        assets = new address[](calls.length + 1); // assets[0] = NATIVE
        uint256 assetCount = 1;
        bool permitted;
        for (uint256 i; i < calls.length; ++i) {
            (address target, , bytes calldata data) = _callAt(calls, i);
            if (target == address(this)) revert SelfCallNotAllowed(i);
            if (data.length == 0) {
                if (!_recipients.contains(target)) revert RecipientNotAllowed(target);
                // A recipient with code runs it (with callGasLimit gas) and could have a permitted spender pull a
                // budgeted token: measure around it like a permitted call.
                if (target.code.length != 0) {
                    plan |= _PERMITTED_CALL << (16 * i);
                    permitted = true;
                }
                continue; // kind _NATIVE_TRANSFER
            }
            if (data.length < 4) revert MalformedCall(i);
            bytes4 selector = bytes4(data);
            if ((selector == _TRANSFER || selector == _APPROVE) && target != NATIVE && _isBudgeted(target)) {
                if (data.length != 68) revert MalformedCall(i);
                uint256 word = uint256(bytes32(data[4:36]));
                if (word > type(uint160).max) revert MalformedCall(i);
                address account = address(uint160(word));
                if (selector == _TRANSFER) {
                    if (!_recipients.contains(account)) revert RecipientNotAllowed(account);
                } else if (_permissionCount[account] == 0) revert SpenderNotPermitted(target, account);
                uint256 index;
                (index, assetCount) = _include(assets, assetCount, target);
                plan |= ((index << 2) | (selector == _TRANSFER ? _TOKEN_TRANSFER : _TOKEN_APPROVE)) << (16 * i);
            } else {
                if (!_callPermissions.contains(_permissionKey(target, selector))) {
                    revert CallNotPermitted(target, selector);
                }
                plan |= _PERMITTED_CALL << (16 * i);
                permitted = true;
            }
        }
        _truncate(assets, assetCount);
        // A permitted call may move any budgeted token (e.g. through an allowance the owner granted), so the batch
        // then measures them all around each permitted call.
        if (permitted) (assets, plan) = _allBudgetedAssets(calls.length, assets, plan);
    }

    /// @dev [NATIVE, every budgeted token], with the plan's token calls re-indexed from `assets` into it.
    function _allBudgetedAssets(
        uint256 callCount,
        address[] memory assets,
        uint256 plan
    ) internal view returns (address[] memory all, uint256) {
        address[] memory tokens = _budgetedTokens.values();
        all = new address[](tokens.length + 1);
        for (uint256 j; j < tokens.length; ++j) all[j + 1] = tokens[j];
        for (uint256 i; i < callCount; ++i) {
            uint256 step = (plan >> (16 * i)) & 0xffff;
            uint256 kind = step & 3;
            if (kind == _TOKEN_TRANSFER || kind == _TOKEN_APPROVE) {
                (uint256 index, ) = _include(all, all.length, assets[step >> 2]);
                plan = (plan & ~(uint256(0xffff) << (16 * i))) | (((index << 2) | kind) << (16 * i));
            }
        }
        return (all, plan);
    }

    /// @dev Runs the calls, each with exactly `callGasLimit` gas (Rule 3), and returns the gross outflow per asset
    /// (Rule 4): a transfer's calldata amount, every call's value, and each decrease measured around a permitted call.
    function _runCalls(
        Call[] calldata calls,
        uint256 plan,
        address[] memory assets,
        uint256 callGasLimit
    ) internal returns (uint256[] memory charged) {
        charged = new uint256[](assets.length);
        for (uint256 i; i < calls.length; ++i) {
            (address target, uint256 value, bytes calldata data) = _callAt(calls, i);
            uint256 step = plan >> (16 * i);
            uint256 kind = step & 3;
            // A native transfer to code that appeared after _plan (created by an earlier permitted call, which made
            // `assets` list every budgeted token) is measured like a permitted call too.
            if (kind == _PERMITTED_CALL || (kind == _NATIVE_TRANSFER && target.code.length != 0)) {
                uint256[] memory before = _ownBalances(assets);
                _callExact(i, target, value, data, callGasLimit);
                uint256[] memory afterCall = _ownBalances(assets);
                for (uint256 j; j < assets.length; ++j) {
                    if (afterCall[j] < before[j]) charged[j] += before[j] - afterCall[j];
                }
                continue;
            }
            charged[0] += value;
            bytes32 ret = _callExact(i, target, value, data, callGasLimit);
            if (kind == _NATIVE_TRANSFER) continue;
            uint256 size = LowLevelCall.returnDataSize();
            if (size == 0 ? target.code.length == 0 : (size < 32 || uint256(ret) != 1)) {
                revert TokenCallFailed(i, target);
            }
            if (kind == _TOKEN_TRANSFER) charged[(step & 0xffff) >> 2] += uint256(bytes32(data[36:68]));
        }
    }

    /// @dev Rule 3, last part: calls `target` with exactly `callGasLimit` gas, or reverts InsufficientGas if the
    /// relayer left too little to forward it (EIP-150 keeps 1/64 back; CALL_RESERVE covers the CALL's own cost).
    /// Bubbles a revert as CallReverted. Returns the first word of the return data.
    function _callExact(
        uint256 index,
        address target,
        uint256 value,
        bytes calldata data,
        uint256 callGasLimit
    ) private returns (bytes32 ret) {
        uint256 left;
        assembly ("memory-safe") {
            // The calldata goes to temporary memory past the free pointer; gas is measured after the copy has paid
            // for its memory, so only the CALL's own cost lies between the check and the call.
            calldatacopy(mload(0x40), data.offset, data.length)
            left := gas()
        }
        if (left < CALL_RESERVE || (left - CALL_RESERVE) - (left - CALL_RESERVE) / 64 < callGasLimit) {
            revert InsufficientGas(index, callGasLimit, left);
        }
        bool ok;
        assembly ("memory-safe") {
            ok := call(callGasLimit, target, value, mload(0x40), data.length, 0x00, 0x20)
            ret := mload(0x00)
        }
        if (!ok) revert CallReverted(index, LowLevelCall.returnData());
    }

    /// @dev Rule 4, last part: no allowance granted by the batch may outlive it.
    function _checkNoStandingApprovals(Call[] calldata calls, uint256 plan) internal view {
        for (uint256 i; i < calls.length; ++i) {
            if ((plan >> (16 * i)) & 3 != _TOKEN_APPROVE) continue;
            (address token, , bytes calldata data) = _callAt(calls, i);
            address spender = address(uint160(uint256(bytes32(data[4:36]))));
            uint256 allowance = IERC20(token).allowance(address(this), spender);
            if (allowance != 0) revert StandingApproval(token, spender, allowance);
        }
    }

    /// @dev Rule 4: the gross outflow of `token` (whose budget `b` the caller read) must fit its per-operation cap
    /// and its available budget.
    function _charge(address token, uint256 outflow, Budget memory b) internal {
        if (outflow > b.maxPerOperation) revert PerOperationCapExceeded(token, outflow, b.maxPerOperation);
        Bucket storage bucket = _buckets[token];
        (uint256 used, uint256 available_) = _bucketState(b, bucket);
        if (outflow > available_) revert BudgetExceeded(token, outflow, available_);
        // used + outflow <= limit <= type(uint112).max: the casts cannot truncate.
        bucket.lastUsed = uint208(used + outflow);
        bucket.lastTimepoint = uint48(block.timestamp);
        emit BudgetCharged(token, outflow);
    }

    /// @dev Rule 5, first half: every bound's balance before the batch.
    function _boundBalances(Bound[] calldata bounds) internal view returns (uint256[] memory balances) {
        balances = new uint256[](bounds.length);
        for (uint256 i; i < bounds.length; ++i) balances[i] = _balanceOf(bounds[i].asset, bounds[i].account);
    }

    /// @dev Rule 5: after the batch, each bound's balance change (after - before) is at least its minDelta.
    function _checkBounds(Bound[] calldata bounds, uint256[] memory before) internal view {
        for (uint256 i; i < bounds.length; ++i) {
            Bound calldata b = bounds[i];
            uint256 afterBatch = _balanceOf(b.asset, b.account);
            int256 delta = _delta(before[i], afterBatch);
            if (delta < b.minDelta) revert BoundViolated(b.asset, b.account, b.minDelta, delta);
        }
    }

    /// @dev The wallet's balances of `assets` (NATIVE first).
    function _ownBalances(address[] memory assets) internal view returns (uint256[] memory balances) {
        balances = new uint256[](assets.length);
        balances[0] = address(this).balance;
        for (uint256 i = 1; i < assets.length; ++i) balances[i] = _balanceOf(assets[i], address(this));
    }

    /// @dev `account`'s balance of `asset` (wei for NATIVE); reverts BalanceUnreadable rather than guess.
    function _balanceOf(address asset, address account) internal view returns (uint256 balance) {
        if (asset == NATIVE) return account.balance;
        (bool ok, bytes32 word, ) = LowLevelCall.staticcallReturn64Bytes(
            asset,
            abi.encodeCall(IERC20.balanceOf, (account))
        );
        if (!ok || LowLevelCall.returnDataSize() < 32) revert BalanceUnreadable(asset, account);
        return uint256(word);
    }

    /// @dev A budget's (used, available) now, exactly as RateLimiter.state computes them (period 0 counts as 1).
    function _bucketState(
        Budget memory b,
        Bucket storage bucket
    ) internal view returns (uint256 used, uint256 available_) {
        uint256 lastUsed = bucket.lastUsed;
        // elapsed < 2^48 and limit < 2^112: the product cannot overflow, and floor division is RateLimiter's mulDiv.
        uint256 refill = ((block.timestamp - bucket.lastTimepoint) * b.limit) / (b.period == 0 ? 1 : b.period);
        used = lastUsed > refill ? lastUsed - refill : 0;
        available_ = b.limit > used ? b.limit - used : 0;
    }

    function _setBudget(BudgetConfig calldata config) internal {
        address token = config.token;
        if (
            config.limit == 0 ||
            config.limit > type(uint112).max ||
            config.period == 0 ||
            config.period > MAX_BUDGET_PERIOD ||
            config.maxPerOperation == 0 ||
            config.maxPerOperation > config.limit ||
            token == address(this)
        ) revert InvalidBudget(token, config.limit, config.period, config.maxPerOperation);
        _checkNoTokenPermission(token);
        Budget memory old = _budgets[token];
        if (old.maxPerOperation != 0) {
            // Settle consumption at the old rate before the new settings apply (RateLimiter's sync).
            Bucket storage bucket = _buckets[token];
            (uint256 used, ) = _bucketState(old, bucket);
            bucket.lastUsed = uint208(used);
            bucket.lastTimepoint = uint48(block.timestamp);
        }
        _budgets[token] = Budget(uint112(config.maxPerOperation), uint112(config.limit), uint32(config.period));
        if (token != NATIVE) _budgetedTokens.add(token);
        emit BudgetSet(token, config.limit, config.period, config.maxPerOperation);
    }

    function _setCosigner(address newCosigner) internal {
        if (newCosigner == address(0) || newCosigner == address(this)) revert InvalidAddress(newCosigner);
        _checkNoOtherRole(newCosigner);
        emit CosignerChanged(_cosigner, newCosigner);
        _cosigner = newCosigner;
    }

    function _addGuardian(address guardian) internal {
        if (guardian == address(0) || guardian == address(this)) revert InvalidAddress(guardian);
        _checkNoOtherRole(guardian);
        if (_guardians.add(guardian)) emit GuardianAdded(guardian);
    }

    function _addSessionKey(address key, uint48 validUntil) internal {
        if (key == address(0) || key == address(this) || validUntil <= block.timestamp) {
            revert InvalidSessionKey(key, validUntil);
        }
        if (!_sessionKeys.contains(key)) _checkNoOtherRole(key);
        _sessionKeyValidUntil[key] = validUntil;
        _sessionKeys.add(key);
        emit SessionKeyAdded(key, validUntil);
    }

    function _setRecipient(address recipient, bool allowed) internal {
        if (recipient == address(this)) revert InvalidAddress(recipient);
        if (allowed ? _recipients.add(recipient) : _recipients.remove(recipient)) emit RecipientSet(recipient, allowed);
    }

    function _setCallPermission(address target, bytes4 selector, bool allowed) internal {
        if (target == address(this) || target == address(0)) revert InvalidAddress(target);
        if (allowed && _isTransferLike(selector) && _isBudgeted(target))
            revert TokenPermissionConflict(target, selector);
        bytes32 key = _permissionKey(target, selector);
        if (allowed ? _callPermissions.add(key) : _callPermissions.remove(key)) {
            if (allowed) ++_permissionCount[target];
            else --_permissionCount[target];
            emit CallPermissionSet(target, selector, allowed);
        }
    }

    /// @dev A budget must never sit beside a permission that moves the token outside it: such a permission is
    /// ignored while the budget exists and would become unlimited once it is removed.
    function _checkNoTokenPermission(address token) internal view {
        if (_permissionCount[token] == 0) return;
        bytes4[8] memory selectors = [
            _TRANSFER,
            _TRANSFER_FROM,
            _APPROVE,
            _INCREASE_ALLOWANCE,
            _PERMIT,
            _INCREASE_APPROVAL,
            _APPROVE_AND_CALL,
            _AUTHORIZE_OPERATOR
        ];
        for (uint256 i; i < selectors.length; ++i) {
            if (_callPermissions.contains(_permissionKey(token, selectors[i]))) {
                revert TokenPermissionConflict(token, selectors[i]);
            }
        }
    }

    /// @dev Owner, co-signer, guardians and session keys must be distinct accounts.
    function _checkNoOtherRole(address account) internal view {
        if (
            account == owner() ||
            account == _cosigner ||
            _guardians.contains(account) ||
            _sessionKeyValidUntil[account] != 0 ||
            account == pendingOwner()
        ) revert RoleConflict(account);
    }

    function _checkOwnerOrGuardian() internal view {
        if (msg.sender != owner() && !_guardians.contains(msg.sender)) revert NotOwnerOrGuardian(msg.sender);
    }

    function _isBudgeted(address token) internal view returns (bool) {
        return _budgets[token].maxPerOperation != 0;
    }

    // ───────────────────────────── private ─────────────────────────────

    /// @dev Call `i` of `calls`, read where Solidity's calldata accessors read it and where _hashCalls hashes it
    /// (one reading for the digest and the execution); a target with dirty upper bits is malformed.
    function _callAt(
        Call[] calldata calls,
        uint256 i
    ) private pure returns (address target, uint256 value, bytes calldata data) {
        uint256 word;
        assembly ("memory-safe") {
            let p := add(calls.offset, calldataload(add(calls.offset, shl(5, i))))
            word := calldataload(p)
            value := calldataload(add(p, 0x20))
            let d := add(p, calldataload(add(p, 0x40)))
            data.length := calldataload(d)
            data.offset := add(d, 0x20)
        }
        // (A length past the calldata cannot get here: _hashCalls copied it first and ran out of gas.)
        if (word > type(uint160).max) revert MalformedCall(i);
        target = address(uint160(word));
    }

    /// @dev EIP-712 hash of Call[]: keccak256 of the concatenated hashStruct(Call). Written in assembly because
    /// abi.encode in a loop costs about 3k gas more per operation; it reads the calldata exactly where Solidity's
    /// accessors do (a malformed encoding makes those revert later), masks addresses, and the parity test
    /// (test/eip712.spec.ts) checks it against viem's hashTypedData for random operations.
    function _hashCalls(Call[] calldata calls) private pure returns (bytes32 hash) {
        bytes32 typeHash = CALL_TYPEHASH;
        assembly ("memory-safe") {
            let hashes := mload(0x40) // temporary memory past the free pointer, never kept
            let n := calls.length
            let buf := add(hashes, shl(5, n))
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let p := add(calls.offset, calldataload(add(calls.offset, shl(5, i))))
                let data := add(p, calldataload(add(p, 0x40)))
                let len := calldataload(data)
                calldatacopy(add(buf, 0x80), add(data, 0x20), len)
                mstore(buf, typeHash)
                mstore(add(buf, 0x20), and(calldataload(p), 0xffffffffffffffffffffffffffffffffffffffff))
                mstore(add(buf, 0x40), calldataload(add(p, 0x20)))
                mstore(add(buf, 0x60), keccak256(add(buf, 0x80), len))
                mstore(add(hashes, shl(5, i)), keccak256(buf, 0x80))
            }
            hash := keccak256(hashes, shl(5, n))
        }
    }

    /// @dev EIP-712 hash of Bound[] (static structs, 3 words each), as _hashCalls does for Call[].
    function _hashBounds(Bound[] calldata bounds) private pure returns (bytes32 hash) {
        bytes32 typeHash = BOUND_TYPEHASH;
        assembly ("memory-safe") {
            let hashes := mload(0x40)
            let n := bounds.length
            let buf := add(hashes, shl(5, n))
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let p := add(bounds.offset, mul(i, 0x60))
                mstore(buf, typeHash)
                mstore(add(buf, 0x20), and(calldataload(p), 0xffffffffffffffffffffffffffffffffffffffff))
                mstore(add(buf, 0x40), and(calldataload(add(p, 0x20)), 0xffffffffffffffffffffffffffffffffffffffff))
                mstore(add(buf, 0x60), calldataload(add(p, 0x40)))
                mstore(add(hashes, shl(5, i)), keccak256(buf, 0x80))
            }
            hash := keccak256(hashes, shl(5, n))
        }
    }

    /// @dev Selectors that move a token or grant an allowance or operator outside the wallet's measurement.
    function _isTransferLike(bytes4 selector) private pure returns (bool) {
        return
            selector == _TRANSFER ||
            selector == _TRANSFER_FROM ||
            selector == _APPROVE ||
            selector == _INCREASE_ALLOWANCE ||
            selector == _PERMIT ||
            selector == _INCREASE_APPROVAL ||
            selector == _APPROVE_AND_CALL ||
            selector == _AUTHORIZE_OPERATOR;
    }

    function _permissionKey(address target, bytes4 selector) private pure returns (bytes32) {
        return bytes32((uint256(uint160(target)) << 96) | uint256(uint32(selector)));
    }

    /// @dev Index of `item` in list[0:count], appending it when absent; returns the index and the new count.
    function _include(address[] memory list, uint256 count, address item) private pure returns (uint256, uint256) {
        for (uint256 i = 1; i < count; ++i) if (list[i] == item) return (i, count);
        list[count] = item;
        return (count, count + 1);
    }

    /// @dev after - before as a signed number, saturating at the int256 range.
    function _delta(uint256 before, uint256 afterBatch) private pure returns (int256) {
        uint256 maxInt = uint256(type(int256).max);
        if (afterBatch >= before) {
            uint256 up = afterBatch - before;
            return up > maxInt ? type(int256).max : int256(up);
        }
        uint256 down = before - afterBatch;
        return down > maxInt ? type(int256).min : -int256(down);
    }

    function _truncate(address[] memory list, uint256 length) private pure {
        assembly ("memory-safe") {
            mstore(list, length)
        }
    }
}
