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
    const { op, digest, body } = this.next();
    const execute = encodeExecute({ ...op, agentSignature: body.agentSignature as Hex, cosignerSignature: this.cosignerKey.sign(digest) });
    return { body, execute };
  }

  /** `n` request bodies (one signature each: no `execute` calldata). */
  batch(n: number): OperationRequestBody[] {
    return Array.from({ length: n }, () => this.next().body);
  }

  private next() {
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
    return { op, digest, body };
  }

  /**
   * Bodies for an HTTP load of `seconds`: enough for HTTP_BODIES_PER_SECOND, signed before the clock starts (a
   * load that runs out of them fails: it would measure the bodies, not the service).
   */
  forLoad(seconds: number): string[] {
    return this.json(Math.ceil(seconds * HTTP_BODIES_PER_SECOND));
  }

  /** `n` bodies as the JSON an HTTP client sends. */
  json(n: number): string[] {
    return this.batch(n).map((b) => JSON.stringify(b));
  }
}

/** More decisions a second than a co-signer on this machine class makes (measured: up to 450 over HTTP). */
export const HTTP_BODIES_PER_SECOND = 1_000;

export function randomWord(): bigint {
  return BigInt(`0x${randomBytes(7).toString("hex")}`);
}
