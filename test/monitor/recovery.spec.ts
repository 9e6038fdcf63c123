/**
 * The breaker when something goes wrong around a trip, on a real local chain: a trip that fails (the fork busy, the
 * store blinking) is retried; a monitor that died between recording a block and telling its rules still pauses; a
 * pause stuck in the pool is sent again; the standalone monitor (`npm run monitor`) trips the breaker; a budget raise
 * is flagged even when it is the first BudgetSet a fresh process sees. The pieces run in this process (the follower,
 * the factory of src/monitor/breaker-rules.ts) or as scripts/monitor.ts in a child process; nothing is mocked.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, createWalletClient, encodeFunctionData, hashTypedData, http, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { loadConfig } from "../../src/config";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { rpc, startLocalNode, type LocalNode } from "../../src/devchain/node";
import { executeArgs, operationTypedData } from "../../src/eip712";
import { createMonitorBreaker, type MonitorBreaker } from "../../src/monitor/breaker-rules";
import { Monitor } from "../../src/monitor/follower";
import { Guardian } from "../../src/monitor/guardian";
import { SqliteStore, type Incident, type Store } from "../../src/store";
import { operationOf, proposal, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { waitFor, withoutDatabaseUrl } from "../support/engine";

const ROOT = join(__dirname, "..", "..");

describe("the breaker recovers (failed trips, restarts, stuck pauses, the standalone monitor, budget raises)", function () {
  this.timeout(240_000);
  let node: LocalNode;
  let deployment: DemoDeployment;
  let alice: Address;
  const running: { monitor?: Monitor; breaker?: MonitorBreaker; store?: Store; child?: ChildProcess }[] = [];

  before(async function () {
    node = await startLocalNode();
    deployment = await deployDemo(node.url);
    alice = deployment.recipients.alice as Address;
  });
  after(async function () {
    await node?.stop();
  });
  afterEach(async function () {
    for (const r of running.splice(0)) {
      r.child?.kill("SIGKILL");
      r.breaker?.stop();
      await r.monitor?.stop();
      await r.store?.close();
    }
    await rpc(node.url, "evm_setAutomine", [true]);
    await rpc(node.url, "evm_mine"); // whatever waits in the pool
    if (await read<boolean>("paused")) await ownerTx("unpause");
  });

  const pub = () => createPublicClient({ transport: http(node.url) });
  const chain = () => ({ id: deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [node.url] } } }) as const;
  const read = async <T>(functionName: string, args: readonly unknown[] = []) =>
    (await pub().readContract({ address: deployment.wallet, abi: loadArtifact("AgentWallet").abi, functionName, args })) as T;
  async function ownerTx(functionName: string, args: readonly unknown[] = []): Promise<void> {
    const client = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), chain: chain(), transport: http(node.url) });
    const hash = await client.writeContract({ address: deployment.wallet, abi: loadArtifact("AgentWallet").abi, functionName, args });
    await pub().waitForTransactionReceipt({ hash });
  }
  const config = (env: Record<string, string> = {}) =>
    loadConfig({
      UPSTREAM_RPC_URL: node.url,
      COSIGNER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.cosigner),
      GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian),
      MONITOR_RULES: "{}",
      LOG_LEVEL: "silent",
      ...env,
    });
  const freshStore = () => SqliteStore.open(join(mkdtempSync(join(tmpdir(), "cs-recovery-")), "store.sqlite"));

  /**
   * The attacker holds the session key and the co-signer's key: an operation co-signed outside any service, sent to
   * the chain. Returns its digest and transaction (mined at once unless `mine` is false: automine off).
   */
  async function leak(mine = true): Promise<{ digest: Hex; txHash: Hex }> {
    const h = { node, deployment, nextNonce: () => BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)) } as unknown as CosignerHarness;
    const request = await proposal(h, [transferCall(deployment.tokens.USDC!, alice, usdc(1))], { kind: "transfer", asset: deployment.tokens.USDC!, to: alice, amount: usdc(1).toString() });
    const typed = operationTypedData(deployment.chainId, deployment.wallet, operationOf(request));
    const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(typed);
    const relayer = createWalletClient({ account: devAccount(LOCAL_ROLES.relayer), chain: chain(), transport: http(node.url) });
    const txHash = await relayer.sendTransaction({
      to: deployment.wallet,
      gas: 3_000_000n,
      data: encodeFunctionData({ abi: loadArtifact("AgentWallet").abi, functionName: "execute", args: executeArgs(operationOf(request), request.agentSignature, cosignature) }),
    });
    if (mine) expect((await pub().waitForTransactionReceipt({ hash: txHash })).status).to.equal("success");
    return { digest: hashTypedData(typed), txHash };
  }

  /** A follower of the demo wallet on `store` (the service's name "monitor"), started at the head. */
  async function follow(store: Store, breaker?: MonitorBreaker): Promise<Monitor> {
    const monitor = new Monitor({ upstreamUrl: node.url, store, wallets: [deployment.wallet], pollMs: 50 });
    breaker?.rules.attach(monitor);
    await monitor.start();
    await waitFor(async () => (await store.position(deployment.chainId, "monitor")) !== undefined, "the follower's first position", 20_000);
    return monitor;
  }

  /** A block for the follower to handle first (its rules' start-up reconciliation is behind them). */
  async function firstBlock(monitor: Monitor): Promise<void> {
    await rpc(node.url, "evm_mine");
    const head = await pub().getBlockNumber();
    await waitFor(() => monitor.status().lastBlock === head, "the first block followed");
  }

  const incidents = async (store: Store, rule: string): Promise<Incident[]> => store.listIncidents({ chainId: deployment.chainId, wallet: deployment.wallet, rule });

  describe("when a trip fails", function () {
    it("retries it after the fork could not tell the wallet's guardians, and the wallet ends paused", async function () {
      const store = freshStore();
      let busy = 1;
      const upstreamGuardians = async () => [deployment.roles.guardian as Address];
      const breaker = await createMonitorBreaker({
        config: config(),
        chainId: deployment.chainId,
        store,
        upstreamUrl: node.url,
        // The first read fails as a busy fork does (not a CountersignError); the next ones answer.
        guardiansOf: async () => {
          if (busy-- > 0) throw new Error("fork busy: queue full");
          return upstreamGuardians();
        },
        retryMs: 200,
      });
      const monitor = await follow(store, breaker);
      running.push({ store, breaker, monitor });
      await firstBlock(monitor);
      const { digest } = await leak();

      await waitFor(() => read<boolean>("paused"), "the wallet paused after the retry", 30_000);
      await waitFor(async () => (await incidents(store, "unattributed_execution"))[0]?.actions.at(-1)?.status === "confirmed", "the pause recorded as mined");
      const [incident] = await incidents(store, "unattributed_execution");
      expect(incident!.evidence[0]).to.deep.include({ digest });
      expect(incident!.actions.map((a) => a.status), "the failure is recorded, then the pause").to.deep.equal(["failed", "confirmed"]);
      expect(incident!.actions[0]!.error).to.match(/fork busy/);
    });

    it("retries it after the store failed to open the incident once, and the wallet ends paused", async function () {
      const store = freshStore();
      const open = store.openIncident.bind(store);
      let blips = 1;
      store.openIncident = async (incident) => {
        if (blips-- > 0) throw new Error("SQLITE_BUSY: database is locked");
        return open(incident);
      };
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url, retryMs: 200 });
      const monitor = await follow(store, breaker);
      running.push({ store, breaker, monitor });
      await firstBlock(monitor);
      const { digest } = await leak();

      await waitFor(() => read<boolean>("paused"), "the wallet paused after the retry", 30_000);
      expect(blips, "the store did fail once").to.be.lessThan(0);
      await waitFor(async () => (await incidents(store, "unattributed_execution"))[0]?.actions.at(-1)?.status === "confirmed", "the pause recorded as mined");
      const [incident] = await incidents(store, "unattributed_execution");
      expect(incident!.evidence[0]).to.deep.include({ digest, reconciled: true });
      expect(incident!.actions.at(-1)).to.deep.include({ kind: "pause", status: "confirmed" });
    });
  });

  describe("when the monitor died between recording a block and telling its rules", function () {
    it("pauses the wallet once it is restarted (the rules reconcile the recorded executions)", async function () {
      const store = freshStore();
      // The first life: the block is recorded, no rule hears of it (as if killed right after the commit).
      const first = await follow(store);
      const { digest, txHash } = await leak();
      await waitFor(async () => (await store.executionByDigest(deployment.chainId, deployment.wallet, digest)) !== undefined, "the execution recorded");
      await first.stop();
      expect(await read<boolean>("paused")).to.equal(false);

      // The second life resumes after that block: only the reconciliation can see it.
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url, retryMs: 200 });
      running.push({ store, breaker, monitor: await follow(store, breaker) });
      await waitFor(() => read<boolean>("paused"), "the restarted monitor to pause the wallet", 30_000);
      await waitFor(async () => (await incidents(store, "unattributed_execution"))[0]?.actions.at(-1)?.status === "confirmed", "the pause recorded as mined");
      const [incident] = await incidents(store, "unattributed_execution");
      expect(incident!.evidence[0]).to.deep.include({ digest, txHash, reconciled: true });
      expect(incident!.actions.at(-1)).to.deep.include({ kind: "pause", status: "confirmed" });
    });
  });

  describe("when the pause stays in the pool (its fee below what the chain now asks)", function () {
    it("sends a replacement with the same nonce and a higher fee once it is stuck, and the wallet ends paused", async function () {
      const store = freshStore();
      const guardian = new Guardian(privateKeyToAccount(devPrivateKey(LOCAL_ROLES.guardian)), node.url, 500);
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url, guardian, resendAfterMs: 1_500, retryMs: 200 });
      running.push({ store, breaker, monitor: await follow(store, breaker) });
      await rpc(node.url, "evm_setAutomine", [false]);
      await leak(false);
      await rpc(node.url, "evm_mine");
      let first: Hex | undefined;
      await waitFor(async () => {
        first = (await incidents(store, "unattributed_execution"))[0]?.actions.at(-1)?.txHash as Hex | undefined;
        return first !== undefined;
      }, "the pause sent");
      const a = await pub().getTransaction({ hash: first! });
      // The chain now asks far more than the pause offers: the next block leaves it in the pool.
      const base = (await pub().getBlock()).baseFeePerGas!;
      await rpc(node.url, "hardhat_setNextBlockBaseFeePerGas", [toHex(base * 100n)]);
      await rpc(node.url, "evm_mine");
      expect(await read<boolean>("paused"), "the first pause is not mined").to.equal(false);

      let second: Hex | undefined;
      await waitFor(async () => {
        const actions = (await incidents(store, "unattributed_execution"))[0]!.actions;
        second = actions.at(-1)?.txHash as Hex | undefined;
        return actions.length >= 2 && second !== first;
      }, "the pause sent again", 30_000);
      const b = await pub().getTransaction({ hash: second! });
      expect(b.nonce, "a replacement: the same nonce").to.equal(a.nonce);
      expect(b.maxFeePerGas! > a.maxFeePerGas!, "at a higher fee").to.equal(true);
      await rpc(node.url, "evm_mine");
      await waitFor(() => read<boolean>("paused"), "the replacement mined", 20_000);
      const resent = (await store.listAudit(0, 1_000)).filter((r) => r.kind === "breaker.pause.resent");
      expect(resent.map((r) => (r.payload as { replaces: string }).replaces)).to.deep.equal([first]);
    });
  });

  describe("when an operator resolves the incident while its pause is in flight", function () {
    it("does not send a second pause for the next trip: the new incident joins the transaction in flight", async function () {
      const store = freshStore();
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url });
      running.push({ store, breaker });
      const guardian = deployment.roles.guardian as Address;
      const pending = async () => (await pub().getTransactionCount({ address: guardian, blockTag: "pending" })) - (await pub().getTransactionCount({ address: guardian }));
      await rpc(node.url, "evm_setAutomine", [false]);
      const cause = { source: "monitor", operator: "rule:test", reason: "test", rule: "manual" };
      const first = await breaker.breaker.trip("pause", deployment.wallet, null, cause);
      expect(first.outcome).to.equal("sent");
      await store.resolveIncident(first.incident.id, "on-call", "resolved too early");
      const second = await breaker.breaker.trip("pause", deployment.wallet, null, cause);
      expect(second.opened, "a new incident").to.equal(true);
      expect(second).to.deep.include({ outcome: "joined", txHash: first.txHash });
      expect(await pending(), "one pause in the pool").to.equal(1);
      await rpc(node.url, "evm_mine");
      await waitFor(() => read<boolean>("paused"), "the one pause mined");
    });
  });

  describe("npm run monitor (scripts/monitor.ts), alone beside the replicas", function () {
    it("pauses the wallet on rule 1: the standalone follower trips the breaker too", async function () {
      const dbPath = join(mkdtempSync(join(tmpdir(), "cs-standalone-")), "shared.sqlite");
      const child = spawn(process.execPath, [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/monitor.ts"], {
        cwd: ROOT,
        stdio: "ignore",
        env: {
          // Its own SQLite file: never a DATABASE_URL the environment may carry (CI sets one for the PostgreSQL tests).
          ...withoutDatabaseUrl(process.env),
          UPSTREAM_RPC_URL: node.url,
          DB_PATH: dbPath,
          SERVED_WALLETS: deployment.wallet,
          GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian),
          MONITOR_POLL_MS: "50",
          MONITOR_RULES: "{}",
          LOG_LEVEL: "silent",
        },
      });
      const store = SqliteStore.open(dbPath);
      running.push({ child, store });
      await waitFor(async () => (await store.position(deployment.chainId, "monitor")) !== undefined, "the standalone monitor's first position", 60_000);
      const { digest } = await leak();
      await waitFor(() => read<boolean>("paused"), "the standalone monitor to pause the wallet", 60_000);
      await waitFor(async () => (await incidents(store, "unattributed_execution"))[0]?.actions.at(-1)?.status === "confirmed", "the pause recorded as mined");
      const [incident] = await incidents(store, "unattributed_execution");
      expect(incident!.evidence[0]).to.deep.include({ digest });
      expect(incident!.actions.at(-1)).to.deep.include({ kind: "pause", guardian: deployment.roles.guardian });
    });
  });

  describe("rule 4 after a restart", function () {
    it("counts the spending recorded before the restart within the window: a burst that straddles it is flagged", async function () {
      const store = freshStore();
      const env = { MONITOR_RULES: JSON.stringify({ default: { unattributedExecution: "off" } }) };
      const spend = async (amount: bigint) => {
        const h = { node, deployment, nextNonce: () => BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)) } as unknown as CosignerHarness;
        const request = await proposal(h, [transferCall(deployment.tokens.USDC!, alice, amount)], { kind: "transfer", asset: deployment.tokens.USDC!, to: alice, amount: amount.toString() });
        const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(operationTypedData(deployment.chainId, deployment.wallet, operationOf(request)));
        const relayer = createWalletClient({ account: devAccount(LOCAL_ROLES.relayer), chain: chain(), transport: http(node.url) });
        const hash = await relayer.sendTransaction({
          to: deployment.wallet,
          gas: 3_000_000n,
          data: encodeFunctionData({ abi: loadArtifact("AgentWallet").abi, functionName: "execute", args: executeArgs(operationOf(request), request.agentSignature, cosignature) }),
        });
        const receipt = await pub().waitForTransactionReceipt({ hash });
        expect(receipt.status).to.equal("success");
        return receipt.blockNumber;
      };
      const before = await createMonitorBreaker({ config: config(env), chainId: deployment.chainId, store, upstreamUrl: node.url });
      const first = await follow(store, before);
      const block = await spend(usdc(260)); // 26% of the 1,000 USDC budget: not a burst
      await waitFor(() => first.status().lastBlock === block, "the first spending followed");
      await first.stop();
      before.stop();
      expect(await incidents(store, "spending_velocity")).to.deep.equal([]);

      const after = await createMonitorBreaker({ config: config(env), chainId: deployment.chainId, store, upstreamUrl: node.url });
      running.push({ store, breaker: after, monitor: await follow(store, after) });
      await spend(usdc(260)); // 52% within the window, across the restart
      await waitFor(async () => (await incidents(store, "spending_velocity")).length === 1, "the burst flagged", 20_000);
      const [incident] = await incidents(store, "spending_velocity");
      expect(incident).to.deep.include({ actionKind: "flag" });
      expect(incident!.evidence[0]).to.deep.include({ total: usdc(520).toString(), limit: usdc(1000).toString() });
    });
  });

  describe("rule 5 after a restart", function () {
    const usdcBudget = (limit: bigint) => [{ token: deployment.tokens.USDC!, limit, period: 86_400n, maxPerOperation: limit < usdc(500) ? limit : usdc(500) }];

    it("flags a budget raise that is the first BudgetSet the fresh process sees", async function () {
      const store = freshStore();
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url });
      running.push({ store, breaker, monitor: await follow(store, breaker) });
      try {
        await ownerTx("setBudget", usdcBudget(usdc(5_000)));
        await waitFor(async () => (await incidents(store, "control_change")).length === 1, "the raise flagged", 20_000);
        const [incident] = await incidents(store, "control_change");
        expect(incident).to.deep.include({ actionKind: "flag" });
        expect(incident!.evidence[0]).to.deep.include({ event: "BudgetSet" });
        expect(await store.activeAnomaly(deployment.chainId, deployment.wallet), "operations wait for a person").to.not.equal(undefined);
      } finally {
        await ownerTx("setBudget", usdcBudget(usdc(1_000)));
      }
    });

    it("does not flag a lowered budget (compared with the budget before its block)", async function () {
      const store = freshStore();
      const breaker = await createMonitorBreaker({ config: config(), chainId: deployment.chainId, store, upstreamUrl: node.url });
      const monitor = await follow(store, breaker);
      running.push({ store, breaker, monitor });
      try {
        await ownerTx("setBudget", usdcBudget(usdc(400)));
        const head = await pub().getBlockNumber();
        await waitFor(() => monitor.status().lastBlock === head, "the BudgetSet block followed");
        await new Promise((r) => setTimeout(r, 300));
        expect(await incidents(store, "control_change")).to.deep.equal([]);
      } finally {
        await ownerTx("setBudget", usdcBudget(usdc(1_000)));
      }
    });
  });
});
