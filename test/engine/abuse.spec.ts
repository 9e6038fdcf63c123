/**
 * Issue 8.2 at the engine and the fork: what one unauthenticated or oversized request may make the fork do.
 * Real local chain, real fork; the network fault is a proxy in front of the node.
 */
import { expect } from "chai";
import { toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CountersignError } from "../../src/errors";
import { encodeOperationRequest, type IntentBody } from "../../src/api";
import { deriveBounds } from "../../src/intent/bounds";
import { intentSchema } from "../../src/intent/schema";
import { operationTypedData } from "../../src/eip712";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { countForkRuns, deployMock, expectApproved, expectRefusal, FaultyProxy, sleep, startEngineHarness, syncFork } from "../support/engine";

const randomAddress = () => privateKeyToAccount(generatePrivateKey()).address;

describe("engine: bounded work for unauthenticated callers (issue 8.2)", function () {
  this.timeout(120_000);
  let h: CosignerHarness;
  const pay = () => {
    const [USDC, alice] = [h.deployment.tokens.USDC!, h.deployment.recipients.alice!];
    return proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() });
  };

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  it("refuses a key that is not a session key after one small read, before the fork reads the balances its intent names", async function () {
    const burners: Address[] = [];
    for (let i = 0; i < 4; i++) burners.push(await deployMock(h, "GasBurner"));
    // The deployments mined blocks: let the fork reach them first, or its advance (one batched re-read of every key
    // it holds) would be counted as this request's upstream work.
    await syncFork(h);
    const intent = { kind: "call", expect: burners.map((asset) => ({ asset, delta: "1" })) };
    const calls = [{ target: burners[0]!, value: 0n, data: "0x12345678" as Hex }];
    const bounds = deriveBounds(intentSchema.parse(intent), h.deployment.wallet);
    const op = { calls, nonce: h.nextNonce(), deadline: BigInt(Math.floor(Date.now() / 1000)) + 120n, callGasLimit: 1_000_000n, bounds };
    const agentSignature = await privateKeyToAccount(generatePrivateKey()).signTypedData(operationTypedData(h.deployment.chainId, h.deployment.wallet, op));
    const body = encodeOperationRequest({ chainId: h.deployment.chainId, wallet: h.deployment.wallet, ...op, agentSignature, intent: intent as IntentBody });
    const stats = h.cosigner.fork.cache.stats;
    const before = stats.upstreamCalls;
    const started = performance.now();
    await expectRefusal(h.cosigner.engine.propose(body), "UNKNOWN_SESSION_KEY", 401);
    expect(performance.now() - started).to.be.below(1_000);
    // At most the head check and the wallet's few slots: none of the burners' thousands.
    expect(stats.upstreamCalls - before).to.be.at.most(10);
  });

  it("refuses a request larger than the 64 KiB a decision keeps with INVALID_REQUEST, before anything runs on the fork", async function () {
    const data = `0x12345678${"ab".repeat(20_000)}` as Hex;
    const calls = [0, 1].map(() => ({ target: h.deployment.dex, value: 0n, data }));
    const runs = countForkRuns(h);
    const err = await expectRefusal(h.cosigner.engine.propose(await proposal(h, calls, { kind: "call", expect: [] })), "INVALID_REQUEST", 400);
    expect(err.message).to.match(/at most 65536 are decided and kept/);
    expect(runs()).to.equal(0);
  });

  it("keeps in the fork none of the keys a refused run read, and those of a run that ended in a result", async function () {
    const fork = h.cosigner.fork;
    const hydrated = () => fork.stats.hydratedKeys;
    const readAll = (accounts: Address[]) => (rpc: typeof fork.rpc) => Promise.all(accounts.map((a) => rpc("eth_getBalance", [a, "latest"])));
    const start = hydrated();
    const refused = fork.run(async (rpc) => {
      await readAll([randomAddress(), randomAddress(), randomAddress()])(rpc);
      throw new CountersignError("UNKNOWN_SESSION_KEY", "refused (test)");
    });
    await expectRefusal(refused, "UNKNOWN_SESSION_KEY");
    expect(hydrated()).to.equal(start);
    await fork.run(async (rpc) => readAll([randomAddress(), randomAddress()])(rpc));
    expect(hydrated()).to.be.greaterThan(start);
  });

  it("refuses a run that holds the fork longer than its wall-clock budget (2000 ms) with SIMULATION_FAILED", async function () {
    const err = await expectRefusal(
      h.cosigner.fork.run(async () => {
        await sleep(2_100);
        return "too late";
      }),
      "SIMULATION_FAILED",
      503,
    );
    expect(err.message).to.contain("longer than its budget of 2000 ms");
  });

  it("refuses with BUSY (503) at once when 64 runs already wait for or hold the fork, and decides again once they drain", async function () {
    const fork = h.cosigner.fork;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = Array.from({ length: 64 }, () => fork.run(() => gate));
    try {
      const started = performance.now();
      const err = await expectRefusal(h.cosigner.engine.propose(await pay()), "BUSY", 503);
      expect(err.details.retryAfterSeconds).to.equal(1);
      expect(performance.now() - started).to.be.below(1_000);
    } finally {
      release();
      await Promise.all(held);
    }
    expectApproved(await h.cosigner.engine.propose(await pay()));
  });

  describe("when an upstream read fails in the middle of a run", function () {
    const proxy = new FaultyProxy();
    let f: CosignerHarness;
    before(async function () {
      f = await startEngineHarness({ upstream: (url) => proxy.start(url) });
    });
    after(async function () {
      proxy.mode = "pass";
      await f?.stop();
      await proxy.stop();
    });

    it("stops at the first failed read: the reads after it answer at once without the upstream, and the run is refused", async function () {
      const fork = f.cosigner.fork;
      const stats = fork.cache.stats;
      let before = 0;
      proxy.mode = "failStateReads";
      try {
        const run = fork.run(async (rpc) => {
          before = stats.upstreamCalls;
          for (let i = 0; i < 20; i++) await rpc("eth_getBalance", [randomAddress(), "latest"]);
          return stats.upstreamCalls - before;
        });
        await expectRefusal(run, "UPSTREAM_UNAVAILABLE", 503);
        // The reads of the first account go out together (balance, nonce, code); none of the 19 accounts after it.
        expect(stats.upstreamCalls - before).to.be.below(10);
      } finally {
        proxy.mode = "pass";
      }
      expect(await fork.run(async (rpc) => toHex(BigInt(await rpc<string>("eth_getBalance", [randomAddress(), "latest"]))))).to.equal("0x0");
    });
  });
});
