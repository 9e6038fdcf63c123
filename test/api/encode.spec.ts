import { expect } from "chai";
import { isDeepStrictEqual } from "node:util";
import { encodeFunctionData, getAddress, parseAbi, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { encodeIntent, encodeOperationRequest, parseOperationRequest, type OperationRequest, type OperationRequestBody } from "../../src/api";
import { swapCalls, transferCalls } from "../../src/client/calls";
import { operationDigest, operationTypedData, type Call } from "../../src/eip712";
import { deriveBounds } from "../../src/intent/bounds";
import type { Intent } from "../../src/intent/schema";

const CHAIN_ID = 31337;
const wallet = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const usdc = getAddress("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512");
const weth = getAddress("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0");
const dex = getAddress("0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9");
const alice = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const sessionKey = privateKeyToAccount(generatePrivateKey());

/** A request as the SDK builds it: the bounds derived from the intent, signed by a session key. */
async function signed(calls: Call[], intent: Intent, idempotencyKey: string): Promise<OperationRequest> {
  const op = { calls, nonce: 2n ** 200n + 7n, deadline: 1_900_000_000n, callGasLimit: 1_000_000n, bounds: deriveBounds(intent, wallet) };
  const agentSignature = await sessionKey.signTypedData(operationTypedData(CHAIN_ID, wallet, op));
  return { chainId: CHAIN_ID, wallet, ...op, agentSignature, intent, idempotencyKey };
}

const cases: Record<string, () => Promise<OperationRequest>> = {
  transfer: () =>
    signed(transferCalls({ asset: usdc, to: alice, amount: 120_000_000n }), { kind: "transfer", asset: usdc, to: alice, amount: 120_000_000n, memo: "invoice 17" }, "inv-17"),
  swap: () =>
    signed(
      swapCalls({ sell: { asset: usdc, maxAmount: 400_000_000n }, buy: { asset: weth, minAmount: 10n ** 17n }, via: { dex } }),
      { kind: "swap", sell: { asset: usdc, maxAmount: 400_000_000n }, buy: { asset: weth, minAmount: 10n ** 17n }, memo: "rebalance" },
      "swap-1",
    ),
  call: () =>
    signed(
      [
        { target: alice, value: 5n * 10n ** 15n, data: "0x" },
        { target: dex, value: 0n, data: encodeFunctionData({ abi: parseAbi(["function deposit(uint256 amount)"]), functionName: "deposit", args: [42n] }) },
      ],
      { kind: "call", expect: [{ asset: "native", delta: -(5n * 10n ** 15n) }, { asset: usdc, delta: -42n }], memo: "deposit" },
      "call-1",
    ),
};

/** The body through JSON and the service's parser, as the HTTP layer receives it. */
function roundTrip(body: unknown): OperationRequest {
  return parseOperationRequest(JSON.parse(JSON.stringify(body)));
}

/** Whether `body` reaches the service as exactly `req`: it parses, to the same digest and the same request. */
function arrivesAs(body: unknown, req: OperationRequest): boolean {
  let parsed: OperationRequest;
  try {
    parsed = roundTrip(body);
  } catch {
    return false;
  }
  return operationDigest(parsed.chainId, parsed.wallet, parsed) === operationDigest(req.chainId, req.wallet, req) && isDeepStrictEqual(parsed, req);
}

/** Every path to a field or element of a JSON value (objects' keys and arrays' indexes, at every depth). */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

/** A copy of `body` without the field or element at `path`. */
function without(body: OperationRequestBody, path: (string | number)[]): unknown {
  const copy = structuredClone(body) as unknown as Record<string | number, unknown>;
  const parent = path.slice(0, -1).reduce<any>((node, key) => node[key], copy);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
  return copy;
}

describe("src/api encodeOperationRequest", function () {
  for (const [kind, make] of Object.entries(cases)) {
    describe(`a ${kind} intent`, function () {
      it("parses back, through JSON and parseOperationRequest, to the request and the digest the session key signed", async function () {
        const req = await make();
        const body = encodeOperationRequest(req);
        const parsed = roundTrip(body);
        expect(operationDigest(parsed.chainId, parsed.wallet, parsed)).to.equal(operationDigest(CHAIN_ID, wallet, req));
        expect(parsed).to.deep.equal(req);
        expect(arrivesAs(body, req)).to.equal(true);
      });

      it("is caught by the round trip when any field or element of the body is dropped", async function () {
        const req = await make();
        const body = encodeOperationRequest(req);
        const all = paths(body);
        // Every top-level field of the body is among them (idempotencyKey included).
        expect(all.filter((p) => p.length === 1).map((p) => p[0])).to.have.members([
          "chainId",
          "wallet",
          "calls",
          "nonce",
          "deadline",
          "callGasLimit",
          "bounds",
          "agentSignature",
          "intent",
          "idempotencyKey",
        ]);
        const undetected = all.filter((p) => arrivesAs(without(body, p), req)).map((p) => p.join("."));
        expect(undetected).to.deep.equal([]);
      });
    });
  }

  it("writes amounts as decimal strings and sends a JSON intent as given", async function () {
    const req = await cases.transfer!();
    const body = encodeOperationRequest({ ...req, idempotencyKey: undefined });
    expect(body).to.not.have.property("idempotencyKey");
    expect(body.nonce).to.equal((2n ** 200n + 7n).toString());
    expect(body.bounds.map((b) => b.minDelta)).to.deep.equal(["-120000000", "120000000"]);
    expect(body.intent).to.deep.equal({ kind: "transfer", asset: usdc, to: alice, amount: "120000000", memo: "invoice 17" });
    const json = { kind: "transfer", asset: usdc, to: alice, amount: "007" } as const;
    expect(encodeIntent(json)).to.equal(json);
  });
});
