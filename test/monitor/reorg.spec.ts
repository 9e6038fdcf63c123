/**
 * Drill 5: the monitor killed with SIGKILL mid-stream and restarted records every block exactly once; a reorg of
 * 3 blocks on the local chain (evm_snapshot/evm_revert, then new blocks) leaves no record of the dropped blocks.
 * A real Hardhat node; the monitor runs as `scripts/monitor.ts` in a child process against a shared SQLite file.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, createWalletClient, http, type Address, type Hex } from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { rpc, startLocalNode, type LocalNode } from "../../src/devchain/node";
import { operationTypedData } from "../../src/eip712";
import { Monitor } from "../../src/monitor/follower";
import { SqliteStore } from "../../src/store";
import { executeOnChain, operationOf, proposal, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { sleep, waitFor, withoutDatabaseUrl } from "../support/engine";

const ROOT = join(__dirname, "..", "..");

describe("monitor: restarts and reorgs (drill 5)", function () {
  this.timeout(240_000);
  let node: LocalNode;
  let deployment: DemoDeployment;
  let alice: Address;

  before(async function () {
    node = await startLocalNode();
    deployment = await deployDemo(node.url);
    alice = deployment.recipients.alice as Address;
  });
  after(async function () {
    await node?.stop();
  });

  const pub = () => createPublicClient({ transport: http(node.url) });
  const head = async () => BigInt(await rpc<string>(node.url, "eth_blockNumber"));
  /** One block holding one owner execution (1 wei to alice); returns its number and transaction. */
  async function ownerBlock(): Promise<{ block: bigint; tx: Hex }> {
    const client = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), transport: http(node.url) });
    const chain = { id: deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [node.url] } } } as const;
    const hash = await client.writeContract({
      chain,
      address: deployment.wallet,
      abi: loadArtifact("AgentWallet").abi,
      functionName: "ownerExecute",
      args: [[{ target: alice, value: 1n, data: "0x" }]],
    });
    const receipt = await pub().waitForTransactionReceipt({ hash });
    return { block: receipt.blockNumber, tx: hash };
  }

  describe("when the monitor is killed with SIGKILL mid-stream and restarted", function () {
    it("records every block exactly once", async function () {
      const dbPath = join(mkdtempSync(join(tmpdir(), "cs-monitor-")), "shared.sqlite");
      const launch = (): ChildProcess =>
        spawn(process.execPath, [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/monitor.ts"], {
          cwd: ROOT,
          stdio: "ignore",
          // Its own SQLite file: never a DATABASE_URL the environment may carry (CI sets one for the PostgreSQL tests).
          env: { ...withoutDatabaseUrl(process.env), UPSTREAM_RPC_URL: node.url, DB_PATH: dbPath, SERVED_WALLETS: deployment.wallet, MONITOR_POLL_MS: "20", LOG_LEVEL: "silent" },
        });
      const store = SqliteStore.open(dbPath);
      const position = async () => (await store.position(deployment.chainId, "monitor"))?.blockNumber ?? -1n;
      let child = launch();
      try {
        await waitFor(async () => (await position()) >= 0n, "the monitor's first position", 60_000);
        const start = await position();
        const sent: { block: bigint; tx: Hex }[] = [];
        // Blocks keep coming while the monitor follows; it is killed without warning in the middle of the stream.
        for (let i = 0; i < 6; i++) sent.push(await ownerBlock());
        await waitFor(async () => (await position()) > start, "some blocks recorded", 20_000);
        const killed = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await killed;
        const stoppedAt = await position();
        for (let i = 0; i < 5; i++) sent.push(await ownerBlock());
        child = launch();
        for (let i = 0; i < 3; i++) sent.push(await ownerBlock());
        const last = await head();
        await waitFor(async () => (await position()) === last, `the restarted monitor at block ${last}`, 60_000);

        expect(stoppedAt, "killed before the end of the stream").to.be.lessThan(sent.at(-1)!.block);
        const recorded = await store.ownerExecutions(deployment.chainId, deployment.wallet, start + 1n);
        expect(recorded.map((o) => o.txHash), "one record per owner execution, in chain order").to.deep.equal(sent.map((s) => s.tx));
        const audited = (await store.listAudit(0, 100_000)).filter((r) => r.kind === "owner.executed").map((r) => (r.payload as { txHash: string }).txHash);
        expect(audited, "one audit record per block's owner execution, none twice").to.deep.equal(sent.map((s) => s.tx));
        expect(await store.verifyAudit()).to.deep.include({ ok: true });
        const position_ = await store.position(deployment.chainId, "monitor");
        expect(position_!.blockHash).to.equal((await pub().getBlock({ blockNumber: last })).hash);
      } finally {
        child.kill("SIGKILL");
        await store.close();
      }
    });
  });

  describe("when 3 blocks are dropped by a reorg", function () {
    it("undoes every record of the dropped blocks and follows the new ones", async function () {
      const store = SqliteStore.open(":memory:");
      const reorgs: bigint[] = [];
      const monitor = new Monitor({ upstreamUrl: node.url, store, wallets: [deployment.wallet], pollMs: 20 });
      monitor.addHandler({
        async onReorg(fromBlock) {
          reorgs.push(fromBlock);
        },
      });
      await monitor.start();
      try {
        await waitFor(() => monitor.status().lastBlock !== null, "the monitor's first position");
        const snapshot = await rpc<string>(node.url, "evm_snapshot");
        const base = await head();
        // Three blocks: an owner execution, an execution (co-signed outside any service here), another owner execution.
        const first = await ownerBlock();
        const h = { node, deployment, nextNonce: () => BigInt(Date.now()) } as unknown as CosignerHarness;
        const request = await proposal(h, [transferCall(deployment.tokens.USDC!, alice, usdc(3))], {
          kind: "transfer",
          asset: deployment.tokens.USDC!,
          to: alice,
          amount: usdc(3).toString(),
        });
        const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(operationTypedData(deployment.chainId, deployment.wallet, operationOf(request)));
        const executed = await executeOnChain(h, request, cosignature);
        expect(executed.status).to.equal("success");
        const third = await ownerBlock();
        expect(third.block).to.equal(base + 3n);
        await waitFor(() => monitor.status().lastBlock === base + 3n, "the 3 blocks recorded");
        const digest = (await store.listAudit(0, 1000)).find((r) => r.kind === "executed")!.payload as { digest: string; txHash: string };
        expect(digest.txHash).to.equal(executed.transactionHash);
        expect(await store.executionByDigest(deployment.chainId, deployment.wallet, digest.digest)).to.not.equal(undefined);

        // The chain forgets them and grows 4 other blocks.
        expect(await rpc<boolean>(node.url, "evm_revert", [snapshot])).to.equal(true);
        for (let i = 0; i < 4; i++) await rpc(node.url, "evm_mine");
        const newHead = await head();
        await waitFor(() => monitor.status().lastBlock === newHead, "the new blocks followed", 15_000);
        await sleep(100);

        expect(reorgs, "the handlers were told from which block").to.deep.equal([base + 1n]);
        expect(await store.executionByDigest(deployment.chainId, deployment.wallet, digest.digest)).to.equal(undefined);
        expect(await store.ownerExecutions(deployment.chainId, deployment.wallet, base + 1n)).to.deep.equal([]);
        const kinds = (await store.listAudit(0, 1000)).map((r) => r.kind);
        expect(kinds.filter((k) => k === "execution.reverted")).to.have.length(1);
        expect(kinds.filter((k) => k === "owner.execution.reverted")).to.have.length(2);
        expect(first.tx).to.not.equal(third.tx);
        // What is kept is the chain as it is now.
        const recent = await store.recentBlocks(deployment.chainId, "monitor", 6);
        for (const b of recent) expect(b.hash, `block ${b.number}`).to.equal((await pub().getBlock({ blockNumber: b.number })).hash);
        expect(await store.verifyAudit()).to.deep.include({ ok: true });
      } finally {
        await monitor.stop();
        await store.close();
      }
    });
  });
});
