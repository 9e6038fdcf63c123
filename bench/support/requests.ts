/** The benchmark's operation requests: signed by the session key like the SDK would, with the SDK's nonces. */
import { randomBytes } from "node:crypto";
import { encodeFunctionData, type Hex } from "viem";
import { encodeOperationRequest, type OperationRequestBody } from "../../src/api";
import { loadArtifact } from "../../src/chain/artifacts";
import type { DemoDeployment } from "../../src/deploy/demo";
import { operationDigest, type Call } from "../../src/eip712";
import type { CosignerKey } from "../../src/signing/signer";
import { encodeExecute } from "../../src/simulation/simulate";

/** What every request does and how long it may wait. */
export interface RequestShape {
  /** Base units of USDC each request pays alice. */
  amount: bigint;
  /** Gas every call of the operation gets (the SDK's default). */
  callGasLimit: bigint;
  /** Deadline of each request: this far ahead of signing (the engine allows at most 300 s). */
  ttlSeconds: bigint;
}

/**
 * Pre-signed operation requests: USDC 1 base unit to alice, with the SDK's nonce pattern (src/client/nonces.ts): a
 * random 56-bit bitmap word walked in order, then another random word, so every 256th request reads a new slot.
 */
export class Requests {
  private word = randomWord();
  private index = 0n;
  private readonly call: Call;
  constructor(
    private readonly d: DemoDeployment,
    private readonly sessionKey: CosignerKey,
    private readonly cosignerKey: CosignerKey,
    private readonly P: RequestShape,
  ) {
    const erc20 = loadArtifact("MockERC20").abi;
    this.call = {
      target: d.tokens.USDC!,
      value: 0n,
      data: encodeFunctionData({ abi: erc20, functionName: "transfer", args: [d.recipients.alice!, this.P.amount] }),
    };
  }

  /** One request body (as JSON would carry it) and the calldata of the `execute` the co-signer would simulate. */
  make(): { body: OperationRequestBody; execute: Hex } {
    if (this.index === 256n) [this.word, this.index] = [randomWord(), 0n];
    const nonce = this.word * 256n + this.index++;
    const deadline = BigInt(Math.floor(Date.now() / 1000)) + this.P.ttlSeconds;
    const calls = [this.call];
    // A plain transfer of a budgeted token: no bounds (what the SDK signs for it), the SDK's default callGasLimit.
    const op = { calls, nonce, deadline, callGasLimit: this.P.callGasLimit, bounds: [] };
    const digest = operationDigest(this.d.chainId, this.d.wallet, op);
    const agentSignature = this.sessionKey.sign(digest);
    const intent = { kind: "transfer", asset: this.d.tokens.USDC!, to: this.d.recipients.alice!, amount: this.P.amount } as const;
    const body = encodeOperationRequest({ chainId: this.d.chainId, wallet: this.d.wallet, ...op, agentSignature, intent });
    const execute = encodeExecute({ ...op, agentSignature, cosignerSignature: this.cosignerKey.sign(digest) });
    return { body, execute };
  }

  batch(n: number): OperationRequestBody[] {
    return Array.from({ length: n }, () => this.make().body);
  }

  /** `n` bodies as the JSON an HTTP client sends. */
  json(n: number): string[] {
    return this.batch(n).map((b) => JSON.stringify(b));
  }
}

export function randomWord(): bigint {
  return BigInt(`0x${randomBytes(7).toString("hex")}`);
}
