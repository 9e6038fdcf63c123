/**
 * The agent SDK: `CosignerClient` and what it needs. Import from "src/client".
 * @example
 * import { CosignerClient, CosignerRejectedError } from "./src/client";
 */
export { CosignerClient, DEFAULT_CALL_GAS_LIMIT, revertData, type CallParams, type CosignerClientOptions, type OperationOptions, type OperationResult, type Proposal } from "./client";
export { mockDexAbi, swapCalls, transferCalls, type Asset, type SwapParams, type TransferParams } from "./calls";
export { CosignerClientError, CosignerRejectedError, CosignerRequestError, ExecutionRevertedError } from "./errors";
export { NonceSource } from "./nonces";
export { encodeOperationRequest, parseDecision, type Decision, type DecisionStatus, type OperationRequestBody, type WalletBudget, type WalletInfo } from "../api";
export type { Bound, Call } from "../eip712";
