import { expect } from "chai";
import { encodeFunctionData, decodeFunctionResult, type Address, type Hex } from "viem";
import { rpc } from "../../src/devchain/node";
import { operationDigest } from "../../src/eip712";
import { operationOf, proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import {
  asOwner,
  auditCount,
  balanceOf,
  deployMock,
  erc20,
  expectApproved,
  expectRefusal,
  expectRejected,
  FaultyProxy,
  ROLES,
  send,
  sendEth,
  startEngineHarness,
  syncFork,
  upstreamBlock,
  waitFor,
  walletAbi,
} from "../support/engine";

const DAY = 86_400n;

/** Reads `token.balanceOf(account)` on the fork (not the upstream). */
async function forkBalance(h: CosignerHarness, token: Address, account: Address): Promise<bigint> {
  const data = encodeFunctionData({ abi: erc20, functionName: "balanceOf", args: [account] });
  const raw = await h.cosigner.fork.run((call) => call<Hex>("eth_call", [{ to: token, data }, "latest"]));
  return decodeFunctionResult({ abi: erc20, functionName: "balanceOf", data: raw });
}

describe("engine: the fork", function () {
  describe("following the upstream", function () {
    let h: CosignerHarness;
    let token: Address;
    let wallet: Address;
    let alice: Address;
    let bob: Address;

    const pay = async (to: Address, amount: bigint) =>
      h.cosigner.engine.propose(await proposal(h, [transferCall(token, to, amount)], { kind: "transfer", asset: token, to, amount: amount.toString() }));

    before(async function () {
      h = await startHarness();
      wallet = h.deployment.wallet;
      ({ alice, bob } = h.deployment.recipients as { alice: Address; bob: Address });
      token = await deployMock(h, "MockERC20", ["Fresh (demo)", "FRESH", 0]);
      await send(h, ROLES.owner, token, erc20, "mint", [wallet, 50n]);
      await asOwner(h, "setBudget", [{ token, limit: 1_000n, period: DAY, maxPerOperation: 1_000n }]);
      await syncFork(h);
    });
    after(async function () {
      await h?.stop();
    });

    it("simulates in the block after the upstream's head", async function () {
      await syncFork(h);
      const head = await upstreamBlock(h);
      const decision = await pay(alice, 50n);
      expectApproved(decision);
      expect(decision.simulation!.blockNumber).to.equal((head + 1n).toString());
    });

    it("is warm in fact: the same decision again asks the upstream for nothing", async function () {
      await syncFork(h);
      expectApproved(await pay(alice, 50n));
      const before = h.cosigner.fork.cache.stats.forkRequests;
      expectApproved(await pay(alice, 50n));
      expect(h.cosigner.fork.cache.stats.forkRequests - before).to.equal(0);
      expect(h.cosigner.fork.stats.hydratedKeys).to.be.greaterThan(0);
    });

    it("sees a hydrated slot the upstream increased: the wallet's new balance makes a larger transfer possible", async function () {
      expectRejected(await pay(alice, 80n), "SIMULATION_REVERTED"); // 50 held: hydrates nothing new, proves the baseline
      await send(h, ROLES.owner, token, erc20, "mint", [wallet, 30n]);
      await syncFork(h);
      expect(await forkBalance(h, token, wallet)).to.equal(80n);
      const decision = await pay(alice, 80n);
      expectApproved(decision);
      expect(decision.simulation!.changes).to.deep.include({ account: wallet, asset: token, delta: "-80" });
    });

    it("sees a hydrated slot the upstream decreased: a transfer of the old balance is refused", async function () {
      const move = encodeFunctionData({ abi: erc20, functionName: "transfer", args: [h.deployment.roles.owner, 70n] });
      await send(h, ROLES.owner, wallet, walletAbi(), "ownerExecute", [[{ target: token, value: 0n, data: move }]]);
      await syncFork(h);
      expect(await balanceOf(h, token, wallet)).to.equal(10n);
      const decision = await pay(alice, 50n);
      expectRejected(decision, "SIMULATION_REVERTED");
      expect(decision.simulation!.revertReason).to.equal(`CallReverted(call 0: ERC20InsufficientBalance(${wallet}, 10, 50))`);
    });

    it("reads a slot never read before (bob's balance) from the upstream at the current head, after hydrating the same contract", async function () {
      await send(h, ROLES.owner, token, erc20, "mint", [bob, 7n]);
      await syncFork(h);
      expect(await forkBalance(h, token, bob)).to.equal(7n);
      // Now hydrated too: a later change on the upstream is carried into the fork.
      await send(h, ROLES.owner, token, erc20, "mint", [bob, 3n]);
      await syncFork(h);
      expect(await forkBalance(h, token, bob)).to.equal(10n);
      const decision = await pay(bob, 5n);
      expectApproved(decision);
      expect(decision.simulation!.changes).to.deep.include({ account: bob, asset: token, delta: "5" });
    });

    it("sees the wallet's native balance change on the upstream", async function () {
      const forkEth = () => h.cosigner.fork.run((call) => call<Hex>("eth_getBalance", [wallet, "latest"])).then(BigInt);
      await syncFork(h);
      const before = await forkEth();
      await sendEth(h, ROLES.owner, wallet, 123n);
      await syncFork(h);
      expect(await forkEth()).to.equal(before + 123n);
    });

    it("follows a burst of blocks to the new head", async function () {
      const advances = h.cosigner.fork.stats.advances;
      await rpc(h.node.url, "hardhat_mine", ["0x5"]);
      await syncFork(h);
      expect(h.cosigner.fork.head.number).to.equal(await upstreamBlock(h));
      expect(h.cosigner.fork.stats.advances).to.be.greaterThan(advances);
      expectApproved(await pay(alice, 1n));
    });
  });

  describe("when the upstream misbehaves (maxHeadLag 0, behind a fault-injecting proxy)", function () {
    let h: CosignerHarness;
    const proxy = new FaultyProxy();
    let USDC: Address;
    let alice: Address;
    let pendingId: string;

    const request = () =>
      proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() });

    /** Expects no decision at all (not even a rejection) for the request's digest and nonce. */
    async function expectNoDecision(body: Awaited<ReturnType<typeof request>>) {
      const digest = operationDigest(body.chainId, body.wallet, operationOf(body));
      expect(await h.cosigner.store.findByDigest(body.chainId, body.wallet, digest)).to.equal(undefined);
      expect(await h.cosigner.store.findLiveByNonce(body.chainId, body.wallet, body.nonce)).to.equal(undefined);
    }

    before(async function () {
      h = await startEngineHarness({
        maxHeadLag: 0,
        upstream: (url) => proxy.start(url),
        review: (d) => ({ thresholds: new Map([[d.tokens.USDC!, usdc(100)]]) }),
      });
      USDC = h.deployment.tokens.USDC!;
      alice = h.deployment.recipients.alice!;
    });
    after(async function () {
      await h?.stop();
      await proxy.stop();
    });

    it("approves while the upstream answers", async function () {
      expectApproved(await h.cosigner.engine.propose(await request()));
      const body = await proposal(h, [transferCall(USDC, alice, usdc(150))], {
        kind: "transfer",
        asset: USDC,
        to: alice,
        amount: usdc(150).toString(),
      });
      const pending = await h.cosigner.engine.propose(body);
      expect(pending.status).to.equal("pending_approval");
      pendingId = pending.id;
    });

    it("refuses with FORK_STALE (503) when the fork cannot move to the upstream's new head", async function () {
      proxy.mode = "failStateReads";
      await rpc(h.node.url, "evm_mine");
      const mined = await upstreamBlock(h);
      await waitFor(() => h.cosigner.fork.upstreamHead.number >= mined, "the watcher to see the new head");
      const body = await request();
      const err = await expectRefusal(h.cosigner.engine.propose(body), "FORK_STALE", 503);
      expect(err.message).to.equal(`fork at block ${mined - 1n} is 1 blocks behind the upstream (max 0)`);
      await expectNoDecision(body);
    });

    it("catches up as soon as the upstream answers again, without waiting for another block", async function () {
      proxy.mode = "pass";
      const head = await upstreamBlock(h);
      expectApproved(await h.cosigner.engine.propose(await request()));
      expect(h.cosigner.fork.head.number).to.equal(head);
    });

    it("refuses with UPSTREAM_UNAVAILABLE (503) while the upstream does not answer at all", async function () {
      proxy.mode = "hang";
      try {
        await waitFor(() => !h.cosigner.fork.watcher.reachable(), "the watcher to notice", 15_000);
        const body = await request();
        const records = (await auditCount(h));
        await expectRefusal(h.cosigner.engine.propose(body), "UPSTREAM_UNAVAILABLE", 503);
        await expectNoDecision(body);
        // An outage is not evidence about the agent: nothing is recorded (and nothing is signed).
        expect(await h.cosigner.store.listAudit(records, 10)).to.deep.equal([]);
        // A person's approval during the outage signs nothing and leaves the decision pending (an outage settles nothing).
        await expectRefusal(h.cosigner.engine.approve(pendingId, "ops@example.com"), "UPSTREAM_UNAVAILABLE", 503);
        expect((await h.cosigner.store.get(pendingId))!.status).to.equal("pending_approval");
      } finally {
        proxy.mode = "pass";
      }
      await waitFor(() => h.cosigner.fork.watcher.reachable(), "the upstream to be reachable again", 15_000);
      expectApproved(await h.cosigner.engine.propose(await request()));
      expectApproved(await h.cosigner.engine.approve(pendingId, "ops@example.com"));
    });

    it("refuses with UPSTREAM_UNAVAILABLE (503) once the upstream node has stopped, and signs nothing", async function () {
      await h.node.stop();
      await waitFor(() => !h.cosigner.fork.watcher.reachable(), "the watcher to notice");
      const body = await request();
      const err = await expectRefusal(h.cosigner.engine.propose(body), "UPSTREAM_UNAVAILABLE", 503);
      expect(err.message).to.match(/^upstream not answering: /);
      await expectNoDecision(body);
    });

    it("refuses with SIMULATION_FAILED (503) once the fork is stopped", async function () {
      await h.cosigner.fork.stop();
      const body = await request();
      await expectRefusal(h.cosigner.engine.propose(body), "SIMULATION_FAILED", 503);
      await expectNoDecision(body);
    });
  });
});
