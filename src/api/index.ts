/**
 * The co-signer's API as it goes on the wire, in one module: the request body of POST /v1/operations and its
 * encoder, the decision, error and wallet answers and their schemas, and the signed-read headers. The HTTP layer,
 * the SDK (src/client), the tests, the benchmarks, the approvals page and the tool server all import it from here.
 * It depends only on src/errors.ts, src/eip712.ts and src/intent/schema.ts (never on the engine, store,
 * simulation or HTTP layer).
 * @example import { encodeOperationRequest, parseDecision, type Decision } from "../api";
 */
export {
  decisionSchema,
  executionSchema,
  isDecisionBody,
  operationViewSchema,
  parseDecision,
  reasonSchema,
  tolerantDecisionSchema,
  type Decision,
  type DecisionStatus,
  type ExecutionView,
  type SimulationView,
} from "./decision";
export { errorBodySchema, type ErrorBody } from "./error-body";
export { addressString, checksummedAddress, decimalString, hexString, tolerantDecimal } from "./json";
export {
  encodeIntent,
  encodeOperationRequest,
  operationRequestDocs,
  operationRequestSchema,
  parseOperationRequest,
  type BoundBody,
  type CallBody,
  type IntentBody,
  type OperationRequest,
  type OperationRequestBody,
  type OperationRequestInput,
} from "./operation";
export { READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readMessage } from "./read";
export { walletInfoSchema, walletViewSchema, type WalletBudget, type WalletInfo } from "./wallet";
