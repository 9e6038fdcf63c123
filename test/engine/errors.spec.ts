import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient, encodeErrorResult, http, parseAbi, toHex, type Address, type Hex } from "viem";
import { SessionKeys } from "../../src/authenticate/session-key";
import { revertData as sdkRevertData } from "../../src/client/client";
import { freePort, rpc, startLocalNode, type LocalNode } from "../../src/devchain/node";
import { CountersignError } from "../../src/errors";
import { causes, errorData, isOutOfGas, isRevert, isUpstreamFailure } from "../../src/errors/classify";
import { createEvm, type Evm } from "../../src/simulation/evm";
import { Fork } from "../../src/simulation/fork";
import { revertDataOf, simulateOperation } from "../../src/simulation/simulate";
import { UpstreamCache } from "../../src/simulation/upstream-cache";

/** Runtime code that reverts with `data` (CODECOPY of the bytes appended to it, then REVERT). */
function revertingCode(data: Hex): Hex {
  const body = data.slice(2);
  const len = (body.length / 2).toString(16).padStart(4, "0");
  return `0x61${len}600e600039${`61${len}6000fd`}${body}`;
}

const CUSTOM_ERROR = "0xdeadbeef" as const;
/** A revert whose reason reads like a network failure: a revert all the same. */
const MISLEADING_REASON = encodeErrorResult({ abi: parseAbi(["error Error(string)"]), errorName: "Error", args: ["upstream timed out: ECONNREFUSED"] });
const CODES = {
  customError: revertingCode(CUSTOM_ERROR),
  misleadingReason: revertingCode(MISLEADING_REASON),
  revertWithoutData: "0x60006000fd",
  invalidOpcode: "0xfe",
  outOfGas: "0x5b600056", // JUMPDEST PUSH1 0 JUMP: loops until the gas is gone
} as const satisfies Record<string, Hex>;
type Name = keyof typeof CODES;
const ADDRESSES = Object.fromEntries(
  Object.keys(CODES).map((name, i) => [name, `0x${(0xe770 + i).toString(16).padStart(40, "0")}`]),
) as Record<Name, Address>;

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail("expected a rejection");
}

/** An HTTP proxy to `target` that can be stopped: an upstream that goes away. */
async function startProxy(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    res.setHeader("content-type", "application/json");
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("errors: classifying the errors the chain throws", function () {
  let node: LocalNode;
  let evm: Evm;
  const call = (name: Name) => ({ to: ADDRESSES[name], data: "0x12345678" as Hex, gas: toHex(200_000) });
  /** The error of an eth_call of `name`'s code on the in-process EVM (Hardhat EDR). */
  const edrCall = (name: Name) => rejection(evm.request({ method: "eth_call", params: [call(name), "latest"] }));
  /** The error viem throws for an eth_call of `name`'s code on the Hardhat node. */
  const viemCall = (name: Name) =>
    rejection(createPublicClient({ transport: http(node.url, { retryCount: 0 }) }).call({ to: ADDRESSES[name], data: "0x12345678", gas: 200_000n }));

  before(async function () {
    node = await startLocalNode();
    await rpc(node.url, "hardhat_mine", ["0x2"]);
    evm = await createEvm({ chainId: 31337, gasLimit: 30_000_000n, hardfork: "prague" });
    for (const [name, code] of Object.entries(CODES)) {
      const address = ADDRESSES[name as Name];
      await rpc(node.url, "hardhat_setCode", [address, code]);
      await evm.request({ method: "hardhat_setCode", params: [address, code] });
    }
  });
  after(async function () {
    await node?.stop();
  });

  describe("causes", function () {
    it("walks viem's error from the outermost to the JSON-RPC error object", async function () {
      const chain = [...causes(await viemCall("customError"))].map((e) => (e as { name?: string }).name ?? "(object)");
      expect(chain).to.deep.equal(["CallExecutionError", "InternalRpcError", "RpcRequestError", "(object)"]);
    });

    it("stops at a cycle", function () {
      const a: { cause?: unknown } = {};
      const b = { cause: a };
      a.cause = b;
      expect([...causes(a)]).to.deep.equal([a, b]);
    });

    it("yields nothing for a value that is not an object", function () {
      expect([...causes("boom")]).to.deep.equal([]);
      expect([...causes(undefined)]).to.deep.equal([]);
    });
  });

  describe("isRevert", function () {
    it("recognizes a reverting eth_call on the in-process EVM (EDR's SolidityError) and finds its data", async function () {
      const err = await edrCall("customError");
      expect(isRevert(err)).to.equal(true);
      expect(errorData(err)).to.equal(CUSTOM_ERROR);
    });

    it("recognizes a revert without data and an invalid opcode on the in-process EVM, with data 0x", async function () {
      for (const name of ["revertWithoutData", "invalidOpcode"] as const) {
        const err = await edrCall(name);
        expect(isRevert(err), name).to.equal(true);
        expect(errorData(err), name).to.equal("0x");
      }
    });

    it("recognizes a revert a Hardhat node answers over JSON-RPC, through viem's CallExecutionError", async function () {
      const err = await viemCall("customError");
      expect(isRevert(err)).to.equal(true);
      expect(errorData(err)).to.equal(CUSTOM_ERROR);
    });

    it("does not take out of gas, bad params or an unreachable URL for a revert", async function () {
      expect(isRevert(await edrCall("outOfGas"))).to.equal(false);
      expect(isRevert(await viemCall("outOfGas"))).to.equal(false);
      expect(isRevert(await rejection(evm.request({ method: "eth_getStorageAt", params: ["0xzz", "0x0", "latest"] })))).to.equal(false);
      expect(isRevert(await rejection(createPublicClient({ transport: http("http://127.0.0.1:1", { retryCount: 0 }) }).getBlockNumber()))).to.equal(false);
    });
  });

  describe("isOutOfGas", function () {
    it("recognizes out of gas on the in-process EVM (EDR's data.reason.OutOfGas)", async function () {
      expect(isOutOfGas(await edrCall("outOfGas"))).to.equal(true);
    });

    it("recognizes out of gas a Hardhat node answers over JSON-RPC, through viem", async function () {
      expect(isOutOfGas(await viemCall("outOfGas"))).to.equal(true);
    });

    it("does not take a revert for out of gas", async function () {
      expect(isOutOfGas(await edrCall("revertWithoutData"))).to.equal(false);
      expect(isOutOfGas(await viemCall("customError"))).to.equal(false);
    });
  });

  describe("a batch of requests to the in-process EVM (Evm.batch)", function () {
    const probe = `0x${"ab".repeat(20)}` as Address;
    const setBalance = (wei: bigint) => ({ method: "hardhat_setBalance", params: [probe, toHex(wei)] });

    it("answers each request as it would alone, in order", async function () {
      const requests = [
        { method: "eth_chainId", params: [] },
        { method: "eth_getCode", params: [ADDRESSES.customError, "latest"] },
        { method: "eth_getStorageAt", params: [ADDRESSES.customError, "0x0", "latest"] },
      ];
      const alone = [];
      for (const r of requests) alone.push(await evm.request(r));
      expect(await evm.batch(requests)).to.deep.equal(alone);
    });

    it("throws the failing request's error as Hardhat's request throws it, and runs none of the requests after it", async function () {
      for (const name of ["customError", "revertWithoutData", "invalidOpcode", "outOfGas"] as const) {
        const single = await edrCall(name);
        const batched = await rejection(evm.batch([setBalance(5n), { method: "eth_call", params: [call(name), "latest"] }, setBalance(7n)]));
        expect(isRevert(batched), name).to.equal(isRevert(single));
        expect(errorData(batched), name).to.equal(errorData(single));
        expect(isOutOfGas(batched), name).to.equal(isOutOfGas(single));
        expect((batched as Error).message, name).to.equal((single as Error).message);
        // The request before the failure ran, the one after it did not.
        expect(await evm.request({ method: "eth_getBalance", params: [probe, "latest"] }), name).to.equal("0x5");
      }
    });

    it("throws bad params as the same InvalidArgumentsError", async function () {
      const bad = { method: "eth_getStorageAt", params: ["0xzz", "0x0", "latest"] };
      const single = (await rejection(evm.request(bad))) as { code?: unknown; name?: string };
      const batched = (await rejection(evm.batch([bad]))) as { code?: unknown; name?: string };
      expect(batched.code).to.equal(single.code);
      expect(batched.name).to.equal(single.name);
    });
  });

  describe("isUpstreamFailure", function () {
    it("recognizes viem's HttpRequestError for an unreachable URL (http://127.0.0.1:1)", async function () {
      const err = await rejection(createPublicClient({ transport: http("http://127.0.0.1:1", { retryCount: 0 }) }).getBlockNumber());
      expect((err as Error).name).to.equal("HttpRequestError");
      expect(isUpstreamFailure(err)).to.equal(true);
    });

    it("recognizes viem's TimeoutError", async function () {
      const err = await rejection(createPublicClient({ transport: http(node.url, { retryCount: 0, timeout: 1 }) }).getBlockNumber());
      expect(isUpstreamFailure(err)).to.equal(true);
    });

    it("recognizes a refused connection by Node's ECONNREFUSED on a cause of fetch's TypeError", async function () {
      const err = await rejection(fetch(`http://127.0.0.1:${await freePort()}`, { method: "POST" }));
      expect([...causes(err)].some((e) => (e as { code?: unknown }).code === "ECONNREFUSED")).to.equal(true);
      expect(isUpstreamFailure(err)).to.equal(true);
    });

    it("recognizes the UpstreamCache's UpstreamError and Fork.create's UPSTREAM_UNAVAILABLE for an unreachable upstream", async function () {
      const cache = new UpstreamCache({ upstreamUrl: "http://127.0.0.1:1", timeoutMs: 1_000 });
      expect(isUpstreamFailure(await rejection(cache.upstream("eth_blockNumber")))).to.equal(true);
      const err = await rejection(Fork.create({ upstreamUrl: "http://127.0.0.1:1", upstreamWsUrl: false, upstreamTimeoutMs: 1_000 }));
      expect(err).to.be.instanceOf(CountersignError).with.property("code", "UPSTREAM_UNAVAILABLE");
      expect(isUpstreamFailure(err)).to.equal(true);
    });

    it("does not take a revert for an upstream failure, even one whose reason reads like one", async function () {
      const err = await edrCall("misleadingReason");
      expect(isRevert(err)).to.equal(true);
      expect(isUpstreamFailure(err)).to.equal(false);
      expect(isUpstreamFailure(await viemCall("misleadingReason"))).to.equal(false);
      expect(isUpstreamFailure(await edrCall("outOfGas"))).to.equal(false);
    });
  });

  describe("the places that classify", function () {
    let fork: Fork;
    let proxy: { url: string; server: Server };

    before(async function () {
      proxy = await startProxy(node.url);
      fork = await Fork.create({ upstreamUrl: proxy.url, upstreamWsUrl: false });
    });
    after(async function () {
      await fork?.stop();
      if (proxy?.server.listening) await stopServer(proxy.server);
    });

    it("simulate: revertDataOf gives the data of a reverted transaction, 0x without data, nothing for other errors", async function () {
      const from = "0x00000000000000000000000000000000000Ab0de";
      await evm.request({ method: "hardhat_setBalance", params: [from, toHex(10n ** 18n)] });
      await evm.request({ method: "hardhat_impersonateAccount", params: [from] });
      const send = (name: Name) => rejection(evm.request({ method: "eth_sendTransaction", params: [{ from, ...call(name) }] }));
      expect(revertDataOf(await send("customError"))).to.equal(CUSTOM_ERROR);
      expect(revertDataOf(await send("invalidOpcode"))).to.equal("0x");
      expect(revertDataOf(await rejection(evm.request({ method: "eth_getStorageAt", params: ["0xzz", "0x0", "latest"] })))).to.equal(undefined);
    });

    it("simulate: refuses an address whose code reverts with WALLET_NOT_FOUND", async function () {
      const sig = `0x${"11".repeat(65)}` as Hex;
      const input = { wallet: ADDRESSES.revertWithoutData, signer: ADDRESSES.customError, calls: [], nonce: 1n, deadline: 2n ** 40n, callGasLimit: 100_000n, bounds: [], agentSignature: sig, cosignerSignature: sig };
      const err = await rejection(fork.run((_rpc, env) => fork.simulate(env, input, ADDRESSES.customError)));
      expect(err).to.be.instanceOf(CountersignError).with.property("code", "WALLET_NOT_FOUND");
    });

    it("authenticate: refuses an address that reverts or burns the read's gas with WALLET_NOT_FOUND", async function () {
      const keys = new SessionKeys();
      for (const name of ["customError", "outOfGas"] as const) {
        const err = await rejection(fork.run((forkRpc, env) => keys.check(forkRpc, env, ADDRESSES[name], ADDRESSES.invalidOpcode)));
        expect(err, name).to.be.instanceOf(CountersignError).with.property("code", "WALLET_NOT_FOUND");
      }
    });

    it("the SDK: revertData finds the custom error a few causes deep in viem's error, and nothing in a revert without data", async function () {
      expect(sdkRevertData(await viemCall("customError"))).to.equal(CUSTOM_ERROR);
      expect(sdkRevertData(await viemCall("revertWithoutData"))).to.equal(undefined);
    });

    it("fork: a request the fork cannot forward once the upstream went away is an upstream failure (EDR's ProviderError)", async function () {
      await stopServer(proxy.server);
      // eth_getLogs over upstream blocks is forwarded by the UpstreamCache, which answers -32603 "upstream unreachable".
      const err = await rejection(fork.rpc("eth_getLogs", [{ fromBlock: "0x1", toBlock: "0x2" }]));
      expect((err as { _isProviderError?: boolean })._isProviderError).to.equal(true);
      expect(isUpstreamFailure(err)).to.equal(true);
      expect(isRevert(err)).to.equal(false);
    });
  });
});
