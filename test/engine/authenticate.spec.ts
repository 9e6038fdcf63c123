import { expect } from "chai";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devAccount, devPrivateKey } from "../../src/chain/accounts";
import { checkRoles, createCosigner } from "../../src/cosigner";
import { operationTypedData } from "../../src/eip712";
import { CosignerEngine } from "../../src/engine";
import { CosignerKey } from "../../src/signing/signer";
import { operationOf, proposal, startHarness, transferCall, usdc, executeOnChain, type CosignerHarness } from "../support/cosigner";
import {
  asGuardian,
  asOwner,
  auditCount,
  chainTime,
  countForkRuns,
  FaultyProxy,
  expectApproved,
  expectRefusal,
  increaseTime,
  ROLES,
  sleep,
  SPARE_COSIGNER,
  SPARE_KEY,
  syncFork,
} from "../support/engine";
import { highS } from "../support/signatures";

describe("engine: authenticate", function () {
  let h: CosignerHarness;

  /** 10 USDC to alice, signed by `signer` (the session key by default). */
  function pay(opts: Parameters<typeof proposal>[3] = {}) {
    const { tokens, recipients } = h.deployment;
    return proposal(
      h,
      [transferCall(tokens.USDC!, recipients.alice!, usdc(10))],
      { kind: "transfer", asset: tokens.USDC, to: recipients.alice, amount: usdc(10).toString() },
      opts,
    );
  }

  const now = () => BigInt(Math.floor(Date.now() / 1000));

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.stop();
  });

  describe("the agent signature", function () {
    it("refuses a high-s signature with BAD_AGENT_SIGNATURE (401), before any simulation", async function () {
      const body = await pay();
      const runs = countForkRuns(h);
      const err = await expectRefusal(h.cosigner.engine.propose({ ...body, agentSignature: highS(body.agentSignature) }), "BAD_AGENT_SIGNATURE", 401);
      expect(err.message).to.include("high s");
      expect(runs()).to.equal(0);
    });

    it("refuses a signature with v = 29 with BAD_AGENT_SIGNATURE (401)", async function () {
      const body = await pay();
      const bad = `${body.agentSignature.slice(0, -2)}1d` as Hex;
      await expectRefusal(h.cosigner.engine.propose({ ...body, agentSignature: bad }), "BAD_AGENT_SIGNATURE", 401);
    });

    it("refuses a signer that is not a session key with UNKNOWN_SESSION_KEY (401)", async function () {
      const body = await pay({ signer: ROLES.mallory });
      const err = await expectRefusal(h.cosigner.engine.propose(body), "UNKNOWN_SESSION_KEY", 401);
      expect(err.message).to.include(devAccount(ROLES.mallory).address);
    });

    it("refuses calls changed after signing with UNKNOWN_SESSION_KEY (the signature recovers to someone else)", async function () {
      const body = await pay();
      const { tokens, recipients } = h.deployment;
      const tampered = transferCall(tokens.USDC!, recipients.alice!, usdc(11));
      const calls = [{ target: tampered.target, value: "0", data: tampered.data }];
      const err = await expectRefusal(h.cosigner.engine.propose({ ...body, calls }), "UNKNOWN_SESSION_KEY", 401);
      expect(err.message).to.not.include(devAccount(ROLES.sessionKey).address);
    });

    it("records nothing for a signer that is not a session key (random signatures must not fill the log), and stores no decision", async function () {
      const before = (await auditCount(h));
      const body = await pay({ signer: ROLES.mallory });
      await expectRefusal(h.cosigner.engine.propose(body), "UNKNOWN_SESSION_KEY");
      expect(await h.cosigner.store.listAudit(before, 10)).to.have.length(0);
      expect(await h.cosigner.store.findLiveByNonce(h.deployment.chainId, h.deployment.wallet, body.nonce)).to.equal(undefined);
    });
  });

  describe("when the session key expired", function () {
    it("approves while the key is valid, then refuses it with SESSION_KEY_EXPIRED (401) once the chain passes validUntil", async function () {
      // Valid for 30 s of chain time (room for a slow machine), then the chain moves a minute on.
      const validUntil = (await chainTime(h)) + 30n;
      await asOwner(h, "addSessionKey", [devAccount(SPARE_KEY).address, Number(validUntil)]);
      await syncFork(h);
      expectApproved(await h.cosigner.engine.propose(await pay({ signer: SPARE_KEY })));

      await increaseTime(h, 60);
      await syncFork(h);
      const err = await expectRefusal(h.cosigner.engine.propose(await pay({ signer: SPARE_KEY })), "SESSION_KEY_EXPIRED", 401);
      expect(err.message).to.include(`${devAccount(SPARE_KEY).address} expired at ${validUntil}`);
    });
  });

  describe("the deadline", function () {
    it("refuses a deadline in the past with DEADLINE_PASSED (422), before any simulation", async function () {
      const runs = countForkRuns(h);
      const deadline = now() - 10n;
      const err = await expectRefusal(h.cosigner.engine.propose(await pay({ deadline })), "DEADLINE_PASSED", 422);
      expect(err.message).to.include(`deadline ${deadline} is before now`);
      expect(runs()).to.equal(0);
    });

    it("refuses a deadline more than maxTtl (300 s) ahead with DEADLINE_TOO_FAR (422)", async function () {
      const deadline = now() + 3_600n;
      const err = await expectRefusal(h.cosigner.engine.propose(await pay({ deadline })), "DEADLINE_TOO_FAR", 422);
      expect(err.message).to.include(`deadline ${deadline} is more than 300 s ahead`);
    });

    it("accepts a deadline exactly maxTtl ahead and refuses one second more (clock pinned)", async function () {
      const t = now();
      const engine = new CosignerEngine({
        fork: h.cosigner.fork,
        store: h.cosigner.store,
        key: h.cosigner.key,
        served: h.cosigner.served,
        review: { thresholds: new Map(), reviewNewRecipients: false },
        now: () => t,
      });
      expectApproved(await engine.propose(await pay({ deadline: t + 300n })));
      const err = await expectRefusal(engine.propose(await pay({ deadline: t + 301n })), "DEADLINE_TOO_FAR", 422);
      expect(err.message).to.include(`deadline ${t + 301n} is more than 300 s ahead of now (${t})`);
    });
  });

  describe("the nonce", function () {
    it("refuses a nonce the guardian invalidated on chain with NONCE_USED (409)", async function () {
      const nonce = h.nextNonce();
      await asGuardian(h, "invalidateNonce", [nonce]);
      await syncFork(h);
      const err = await expectRefusal(h.cosigner.engine.propose(await pay({ nonce })), "NONCE_USED", 409);
      expect(err.message).to.include(`nonce ${nonce} was already used on chain`);
    });

    it("refuses a replay of an operation executed on chain with a co-signature this store never saw (NONCE_USED, 409)", async function () {
      // Another replica (or a store restored from an old backup) co-signed it: the chain, not the store, knows.
      const body = await pay();
      const op = operationOf(body);
      const cosignature = await devAccount(ROLES.cosigner).signTypedData(operationTypedData(h.deployment.chainId, h.deployment.wallet, op));
      expect((await executeOnChain(h, body, cosignature)).status).to.equal("success");
      await syncFork(h);
      const err = await expectRefusal(h.cosigner.engine.propose(body), "NONCE_USED", 409);
      expect(err.message).to.include(`nonce ${body.nonce}`);
    });
  });

  describe("when the wallet is paused", function () {
    it("refuses with WALLET_PAUSED (503) while the guardian's pause holds, and approves again after the owner unpauses", async function () {
      await asGuardian(h, "pause");
      try {
        await syncFork(h);
        const err = await expectRefusal(h.cosigner.engine.propose(await pay()), "WALLET_PAUSED", 503);
        expect(err.message).to.equal("the wallet is paused");
      } finally {
        await asOwner(h, "unpause");
      }
      await syncFork(h);
      expectApproved(await h.cosigner.engine.propose(await pay()));
    });
  });

  describe("a refused run of a verified key", function () {
    it("keeps nothing it read in the fork: a paused wallet's refusal to pay a new account hydrates no key", async function () {
      const stranger = privateKeyToAccount(generatePrivateKey()).address;
      const usdcToken = h.deployment.tokens.USDC! as Hex;
      const body = await proposal(h, [transferCall(usdcToken, stranger, usdc(1))], {
        kind: "transfer",
        asset: usdcToken,
        to: stranger,
        amount: usdc(1).toString(),
      });
      await asGuardian(h, "pause");
      try {
        await syncFork(h);
        const before = h.cosigner.fork.stats.hydratedKeys;
        await expectRefusal(h.cosigner.engine.propose(body), "WALLET_PAUSED", 503);
        // The run read the stranger's balance before it was refused; had it been kept, every new head would re-read it.
        expect(h.cosigner.fork.stats.hydratedKeys, "keys hydrated by the refused run").to.equal(before);
      } finally {
        await asOwner(h, "unpause");
        await syncFork(h);
      }
    });
  });

  describe("the co-signer's own role", function () {
    it("refuses with COSIGNER_MISMATCH (422) when the wallet names another co-signer", async function () {
      await asOwner(h, "setCosigner", [devAccount(SPARE_COSIGNER).address]);
      try {
        await syncFork(h);
        const err = await expectRefusal(h.cosigner.engine.propose(await pay()), "COSIGNER_MISMATCH", 422);
        expect(err.message).to.include(`the wallet's co-signer is ${devAccount(SPARE_COSIGNER).address}`);
      } finally {
        await asOwner(h, "setCosigner", [devAccount(ROLES.cosigner).address]);
        await syncFork(h);
      }
    });

    it("refuses to start with a key that is also the wallet's session key, guardian or owner", async function () {
      // A store left open keeps its write-ahead log beside it: the running harness's store shows the sign.
      expect(existsSync(`${h.dbPath}-wal`), "an open store's -wal file").to.equal(true);
      for (const role of [ROLES.sessionKey, ROLES.guardian, ROLES.owner]) {
        const proxy = new FaultyProxy();
        const dbPath = join(mkdtempSync(join(tmpdir(), "countersign-refused-")), "decisions.sqlite");
        try {
          const starting = createCosigner({
            upstreamUrl: await proxy.start(h.node.url),
            key: CosignerKey.fromPrivateKey(devPrivateKey(role)),
            dbPath,
            review: { thresholds: new Map(), reviewNewRecipients: false },
            wallets: [h.deployment.wallet],
            pollMs: 50,
            simulationBudgetMs: 60_000, // its first runs are on a cold fork: on a loaded machine they may take seconds
          });
          let error: Error | undefined;
          await starting.then(
            (cosigner) => cosigner.stop(),
            (err: Error) => (error = err),
          );
          expect(error?.message, `role ${role}`).to.match(
            new RegExp(`^refusing to start: the co-signer key ${devAccount(role).address} is also the owner, a guardian or a session key of ${h.deployment.wallet}$`),
          );
          // It had reached the chain through the proxy; once refused, nothing of it polls the chain any more...
          expect(proxy.requests, `role ${role}: requests while starting`).to.be.greaterThan(0);
          proxy.reset();
          await sleep(1_000); // 20 of its head polls
          expect(proxy.requests, `role ${role}: requests after the refusal`).to.equal(0);
          // ...and its store is closed (the last connection's close removes the write-ahead log).
          expect(existsSync(dbPath), `role ${role}: the store was opened`).to.equal(true);
          expect(existsSync(`${dbPath}-wal`), `role ${role}: the store's -wal file`).to.equal(false);
        } finally {
          await proxy.stop();
        }
      }
      await checkRoles(h.cosigner.fork, h.deployment.wallet, devAccount(ROLES.cosigner).address);
    });
  });

  describe("the wallet", function () {
    it("refuses an address that is not an AgentWallet with WALLET_NOT_FOUND (404)", async function () {
      for (const wallet of [h.deployment.tokens.USDC!, devAccount(ROLES.mallory).address]) {
        const err = await expectRefusal(h.cosigner.engine.propose(await pay({ wallet })), "WALLET_NOT_FOUND", 404);
        expect(err.message).to.equal(`${wallet} is not an AgentWallet this co-signer serves on chain ${h.deployment.chainId}`);
      }
    });
  });
});
