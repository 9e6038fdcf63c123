import { expect } from "chai";
import type { Address } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import {
  asGuardian,
  asOwner,
  expectApproved,
  expectRefusal,
  FaultyProxy,
  ROLES,
  startEngineHarness,
  syncFork,
  upstreamBlock,
} from "../support/engine";

/** How many times each race is run: one co-signature in any of them is the failure. */
const TRIALS = 6;

/**
 * The guardian pauses the wallet (or revokes the session key) on chain; the very next proposal, sent as soon as the
 * receipt is in, must be refused: the decision is taken on a state no older than the upstream's head at the moment
 * the request arrived. Run on two upstreams: a Hardhat node (which offers `eth_subscribe` `newHeads` over WebSocket)
 * and the same node behind an HTTP-only proxy (no subscription: one head check per request).
 */
for (const upstream of ["a node with newHeads over WebSocket", "an HTTP-only upstream"] as const) {
  describe(`engine: deciding on the chain as it is now (${upstream})`, function () {
    let h: CosignerHarness;
    const proxy = new FaultyProxy();
    let USDC: Address;
    let alice: Address;

    const pay = async () =>
      proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() });

    before(async function () {
      h = upstream === "an HTTP-only upstream" ? await startEngineHarness({ upstream: (url) => proxy.start(url) }) : await startHarness();
      USDC = h.deployment.tokens.USDC!;
      alice = h.deployment.recipients.alice!;
      // A first decision warms the fork (the wallet's auth slots are hydrated), as in a running service.
      expectApproved(await h.cosigner.engine.propose(await pay()));
    });
    after(async function () {
      await h?.stop();
      await proxy.stop();
    });

    it(
      upstream === "an HTTP-only upstream"
        ? "learns new heads by one head check per request (no subscription offered)"
        : "learns new heads by a newHeads subscription",
      function () {
        expect(h.cosigner.fork.watcher.subscribed).to.equal(upstream !== "an HTTP-only upstream");
      },
    );

    it(`refuses with WALLET_PAUSED (503) a proposal sent right after the guardian's pause() receipt (${TRIALS} trials)`, async function () {
      for (let trial = 0; trial < TRIALS; trial++) {
        const paused = await asGuardian(h, "pause");
        try {
          const body = await pay(); // at once: no waiting for the fork
          await expectRefusal(h.cosigner.engine.propose(body), "WALLET_PAUSED", 503);
          expect(h.cosigner.fork.head.number).to.be.at.least(paused);
        } finally {
          await asOwner(h, "unpause");
        }
      }
    });

    it(`refuses with UNKNOWN_SESSION_KEY (401) a proposal sent right after the guardian's revokeSessionKey receipt (${TRIALS} trials)`, async function () {
      const key = devAccount(ROLES.sessionKey).address;
      for (let trial = 0; trial < TRIALS; trial++) {
        const revoked = await asGuardian(h, "revokeSessionKey", [key]);
        try {
          const body = await pay();
          await expectRefusal(h.cosigner.engine.propose(body), "UNKNOWN_SESSION_KEY", 401);
          expect(h.cosigner.fork.head.number).to.be.at.least(revoked);
        } finally {
          await asOwner(h, "addSessionKey", [key, h.deployment.sessionKeyValidUntil]);
        }
      }
    });

    it("co-signs again right after the owner's unpause receipt (the same freshness, the other way)", async function () {
      await asGuardian(h, "pause");
      await syncFork(h);
      await expectRefusal(h.cosigner.engine.propose(await pay()), "WALLET_PAUSED", 503);
      const unpaused = await asOwner(h, "unpause");
      const decision = await h.cosigner.engine.propose(await pay());
      expectApproved(decision);
      expect(BigInt(decision.simulation!.blockNumber)).to.equal(unpaused + 1n);
    });

    it("never decides below the upstream head of the moment the request arrived, for concurrent requests either", async function () {
      await asGuardian(h, "pause");
      try {
        const head = await upstreamBlock(h);
        const bodies = await Promise.all(Array.from({ length: 8 }, () => pay()));
        const outcomes = await Promise.allSettled(bodies.map((b) => h.cosigner.engine.propose(b)));
        for (const outcome of outcomes) {
          expect(outcome.status, JSON.stringify(outcome)).to.equal("rejected");
          expect((outcome as PromiseRejectedResult).reason.code).to.equal("WALLET_PAUSED");
        }
        expect(h.cosigner.fork.head.number).to.be.at.least(head);
      } finally {
        await asOwner(h, "unpause");
      }
    });

    if (upstream === "an HTTP-only upstream") {
      it("shares one head check among the requests that arrive together", async function () {
        await syncFork(h);
        const bodies = await Promise.all(Array.from({ length: 8 }, () => pay()));
        const before = h.cosigner.fork.watcher.stats.headChecks;
        const decisions = await Promise.all(bodies.map((b) => h.cosigner.engine.propose(b)));
        decisions.forEach(expectApproved);
        expect(h.cosigner.fork.watcher.stats.headChecks - before).to.equal(1);
      });
    }
  });
}
