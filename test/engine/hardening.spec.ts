import { expect } from "chai";
import { toFunctionSelector, encodeFunctionData, getAddress, type Address, type Hex } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { rpc } from "../../src/devchain/node";
import { STATE_READER } from "../../src/simulation/fork";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { artifact, asOwner, countForkRuns, deployMock, expectApproved, expectRefusal, FaultyProxy, ROLES, startEngineHarness, syncFork } from "../support/engine";

describe("engine: hardening against a hostile agent, target or client", function () {
  let h: CosignerHarness;
  let USDC: Address;
  let alice: Address;
  const pay = (opts: Parameters<typeof proposal>[3] = {}) =>
    proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() }, opts);

  before(async function () {
    h = await startHarness();
    USDC = h.deployment.tokens.USDC!;
    alice = h.deployment.recipients.alice!;
  });
  after(async function () {
    await h?.stop();
  });

  describe("a stored decision", function () {
    it("is shown only to the session key that proposed it: the same operation signed by someone else is UNKNOWN_SESSION_KEY", async function () {
      const body = await pay();
      expectApproved(await h.cosigner.engine.propose(body));
      const forged = await pay({ nonce: BigInt(body.nonce), deadline: BigInt(body.deadline), signer: ROLES.mallory });
      expect(forged.agentSignature).to.not.equal(body.agentSignature);
      await expectRefusal(h.cosigner.engine.propose(forged), "UNKNOWN_SESSION_KEY", 401);
    });
  });

  describe("the wallet address", function () {
    it("refuses a clone of another implementation with WALLET_NOT_FOUND before anything runs on it", async function () {
      const fake = "0x00000000000000000000000000000000000fa4e1" as Address;
      const runtime = `0x363d3d373d3d3d363d73${USDC.slice(2).toLowerCase()}5af43d82803e903d91602b57fd5bf3` as Hex;
      await rpc(h.node.url, "hardhat_setCode", [fake, runtime]);
      await rpc(h.node.url, "evm_mine");
      await syncFork(h);
      const runs = countForkRuns(h);
      const err = await expectRefusal(h.cosigner.engine.propose(await pay({ wallet: fake })), "WALLET_NOT_FOUND", 404);
      expect(err.message).to.equal(`${getAddress(fake)} is not an AgentWallet this co-signer serves on chain ${h.deployment.chainId}`);
      expect(runs()).to.equal(0);
    });
  });

  describe("a simulation that reads without end", function () {
    it("is refused with SIMULATION_FAILED once it reads more uncached slots than its budget, and the fork still decides afterwards", async function () {
      this.timeout(120_000);
      const sweeper = await deployMock(h, "SlotSweeper");
      const { abi } = artifact("SlotSweeper");
      await asOwner(h, "setCallPermission", [sweeper, toFunctionSelector("sweep(uint256)"), true]);
      await syncFork(h);
      const calls = [{ target: sweeper, value: 0n, data: encodeFunctionData({ abi, functionName: "sweep", args: [2_500n] }) }];
      // Each call gets exactly callGasLimit: enough for 2,500 cold reads, so it is the read budget that stops it.
      const body = await proposal(h, calls, { kind: "call", expect: [] }, { callGasLimit: 15_000_000n });
      const err = await expectRefusal(h.cosigner.engine.propose(body), "SIMULATION_FAILED", 503);
      // Whichever bound it meets first: 2000 uncached reads, or the run's wall-clock budget (2000 ms) on a slow machine.
      expect(err.message).to.match(/read more than 2000|longer than its budget of 2000 ms/);
      expectApproved(await h.cosigner.engine.propose(await pay()));
    });
  });

  describe("the simulated block", function () {
    it("puts the timestamp on the upstream's slot grid (head + k·blockTime), not at an arbitrary now", async function () {
      for (let i = 0; i < 3; i++) {
        const latest = (await rpc<{ timestamp: string }>(h.node.url, "eth_getBlockByNumber", ["latest", false])).timestamp;
        await rpc(h.node.url, "evm_setNextBlockTimestamp", [Number(BigInt(latest) + 12n)]);
        await rpc(h.node.url, "evm_mine");
        await syncFork(h);
      }
      const { head, timestamp } = await h.cosigner.fork.run(async (_rpc, env) => ({ head: h.cosigner.fork.head.timestamp, timestamp: env.timestamp }));
      expect(timestamp > head).to.equal(true);
      expect((timestamp - head) % 12n).to.equal(0n);
    });

    it("keeps the StateReader at a random address, not at a constant a contract could look for", async function () {
      const fork = h.cosigner.fork;
      expect(fork.reader).to.not.equal(STATE_READER);
      const code = await fork.run((forkRpc) => forkRpc<Hex>("eth_getCode", [STATE_READER, "latest"]));
      expect(code).to.equal("0x");
      const readerCode = await fork.run((forkRpc) => forkRpc<Hex>("eth_getCode", [fork.reader, "latest"]));
      expect(readerCode.length).to.be.greaterThan(2);
    });
  });

  describe("the intent", function () {
    it("refuses a swap whose minimum is zero, whose two sides are one asset, or a token at the zero address (INVALID_REQUEST)", async function () {
      const swap = (buy: Record<string, string>) =>
        pay().then((b) => ({ ...b, intent: { kind: "swap", sell: { asset: USDC, maxAmount: "1" }, buy } }));
      await expectRefusal(h.cosigner.engine.propose(await swap({ asset: h.deployment.tokens.WETH!, minAmount: "0" })), "INVALID_REQUEST", 400);
      await expectRefusal(h.cosigner.engine.propose(await swap({ asset: USDC, minAmount: "1" })), "INVALID_REQUEST", 400);
      const zero = { ...(await pay()), intent: { kind: "transfer", asset: "0x0000000000000000000000000000000000000000", to: alice, amount: "1" } };
      const err = await expectRefusal(h.cosigner.engine.propose(zero), "INVALID_REQUEST", 400);
      expect(err.message).to.contain("intent.asset");
      void devAccount;
    });
  });

  describe("an upstream that fails in the middle of a transaction", function () {
    let g: CosignerHarness;
    const proxy = new FaultyProxy();
    before(async function () {
      g = await startEngineHarness({ upstream: (url) => proxy.start(url) });
    });
    after(async function () {
      await g?.stop();
      await proxy.stop?.();
    });

    it("refuses with UPSTREAM_UNAVAILABLE, keeps the process alive, and decides again once the upstream answers", async function () {
      const sweeper = await deployMock(g, "SlotSweeper");
      const { abi } = artifact("SlotSweeper");
      await asOwner(g, "setCallPermission", [sweeper, toFunctionSelector("sweep(uint256)"), true]);
      await syncFork(g);
      // The prepare call and the wallet are warm; the sweep's slots are not: they are fetched during the transaction.
      const calls = [{ target: sweeper, value: 0n, data: encodeFunctionData({ abi, functionName: "sweep", args: [50n] }) }];
      expectApproved(await g.cosigner.engine.propose(await proposal(g, [transferCall(g.deployment.tokens.USDC!, g.deployment.recipients.alice!, usdc(1))], { kind: "transfer", asset: g.deployment.tokens.USDC, to: g.deployment.recipients.alice, amount: usdc(1).toString() })));
      proxy.mode = "failStateReads";
      try {
        await expectRefusal(g.cosigner.engine.propose(await proposal(g, calls, { kind: "call", expect: [] })), "UPSTREAM_UNAVAILABLE", 503);
      } finally {
        proxy.mode = "pass";
      }
      expectApproved(await g.cosigner.engine.propose(await proposal(g, calls, { kind: "call", expect: [] })));
    });
  });
});
