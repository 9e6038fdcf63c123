import { expect } from "chai";
import fc from "fast-check";
import { decodeFunctionResult, encodeAbiParameters, encodeFunctionData, getAddress, parseAbi, toHex, type Address, type Hex } from "viem";
import { abiFunction } from "../../src/chain/abi-function";
import { loadArtifact } from "../../src/chain/artifacts";

const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(toHex(b)) as Address);
const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => toHex(b));
const uint = (bits: number) => fc.bigInt({ min: 0n, max: 2n ** BigInt(bits) - 1n });
const call = fc.record({ target: address, value: uint(256), data: bytes });
const bound = fc.record({ asset: address, account: address, minDelta: fc.bigInt({ min: -(2n ** 255n), max: 2n ** 255n - 1n }) });
const signature = fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => toHex(b));

describe("abiFunction (a function of an ABI, found once)", function () {
  it("encodes AgentWallet.execute exactly as viem's encodeFunctionData, for random operations", function () {
    const abi = loadArtifact("AgentWallet").abi;
    const execute = abiFunction(abi, "execute");
    fc.assert(
      fc.property(fc.array(call, { maxLength: 4 }), uint(256), uint(256), uint(256), fc.array(bound, { maxLength: 4 }), signature, signature, (...args) => {
        expect(execute.encode(args)).to.equal(encodeFunctionData({ abi, functionName: "execute", args }));
      }),
      { numRuns: 200 },
    );
  });

  it("encodes StateReader.prepare and decodes its answers exactly as viem does", function () {
    const abi = loadArtifact("StateReader").abi;
    const prepare = abiFunction(abi, "prepare");
    const item = abi.find((i) => i.type === "function" && i.name === "prepare") as { outputs: readonly { type: string }[] };
    fc.assert(
      fc.property(address, fc.array(address, { maxLength: 5 }), fc.array(fc.tuple(uint(256), fc.boolean()), { maxLength: 5 }), uint(48), (wallet, accounts, balances, validUntil) => {
        const query = { assets: accounts, accounts, allowanceTokens: [], allowanceOwners: [], allowanceSpenders: [] };
        const args = [wallet, wallet, 7n, wallet, query];
        expect(prepare.encode(args)).to.equal(encodeFunctionData({ abi, functionName: "prepare", args }));
        const auth = { validUntil: Number(validUntil), nonceUsed: true, paused: false, cosigner: wallet, owner: wallet, selfIsGuardian: false, selfIsSessionKey: true, budgetedTokens: accounts };
        const answer = encodeAbiParameters(item.outputs as never, [auth, { balances: balances.map((b) => b[0]), balanceOk: balances.map((b) => b[1]), allowances: [] }] as never);
        expect(prepare.decode(answer)).to.deep.equal(decodeFunctionResult({ abi, functionName: "prepare", data: answer }));
      }),
      { numRuns: 100 },
    );
  });

  it("decodes a single output to its value, and encodes a function without inputs to its selector alone", function () {
    const abi = parseAbi(["function balanceOf(address) view returns (uint256)", "function paused() view returns (bool)"]);
    const balanceOf = abiFunction(abi, "balanceOf");
    expect(balanceOf.decode(toHex(7n, { size: 32 }))).to.equal(7n);
    expect(abiFunction(abi, "paused").encode([])).to.equal(encodeFunctionData({ abi, functionName: "paused" }) as Hex);
  });

  it("refuses a name the ABI does not have, or has twice", function () {
    const abi = parseAbi(["function f(uint256)", "function f(address)", "function g()"]);
    expect(() => abiFunction(abi, "f")).to.throw("the ABI has 2 functions named f; exactly one is needed");
    expect(() => abiFunction(abi, "h")).to.throw("the ABI has 0 functions named h; exactly one is needed");
  });
});
