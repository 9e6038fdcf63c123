/**
 * The follower against a remote upstream: every request through a proxy that adds 20 ms, a block every 2 s with an
 * owner execution and a co-signed execution in it. It records each block well within the block time, and catches
 * up a backlog quickly. A real Hardhat node; nothing mocked.
 */
import { expect } from "chai";
import { createPublicClient, createWalletClient, http, type Address } from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { rpc, startLocalNode, type LocalNode } from "../../src/devchain/node";
import { operationTypedData } from "../../src/eip712";
import { Monitor } from "../../src/monitor/follower";
import { SqliteStore } from "../../src/store";
import { executeOnChain, operationOf, proposal, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { FaultyProxy, sleep, waitFor } from "../support/engine";

describe("monitor: keeping up with a slow upstream", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let deployment: DemoDeployment;
  const proxy = new FaultyProxy();

  before(async function () {
    node = await startLocalNode();
    deployment = await deployDemo(node.url);
  });
  after(async function () {
    await proxy.stop();
    await node?.stop();
  });

  it("records every block within 1 s when each request takes 20 ms more and a block comes every 2 s, and catches up a backlog", async function () {
    const url = await proxy.start(node.url);
    proxy.delayMs = 20;
    const store = SqliteStore.open(":memory:");
    const monitor = new Monitor({ upstreamUrl: url, store, wallets: [deployment.wallet], pollMs: 200 });
    const alice = deployment.recipients.alice as Address;
    const h = { node, deployment, nextNonce: () => BigInt(Date.now()) } as unknown as CosignerHarness;
    const owner = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), transport: http(node.url) });
    const pub = createPublicClient({ transport: http(node.url) });
    const chain = { id: deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [node.url] } } } as const;
    await monitor.start();
    try {
      await waitFor(() => monitor.status().lastBlock !== null, "the monitor's first position");
      // Each block holds two transactions: automine off, mined by hand every 2 s.
      await rpc(node.url, "evm_setAutomine", [false]);
      const latencies: number[] = [];
      let maxLag = 0n;
      for (let i = 0; i < 5; i++) {
        const request = await proposal(h, [transferCall(deployment.tokens.USDC!, alice, usdc(1))], {
          kind: "transfer",
          asset: deployment.tokens.USDC!,
          to: alice,
          amount: usdc(1).toString(),
        });
        const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(operationTypedData(deployment.chainId, deployment.wallet, operationOf(request)));
        const executing = executeOnChain(h, request, cosignature);
        await owner.writeContract({ chain, address: deployment.wallet, abi: loadArtifact("AgentWallet").abi, functionName: "ownerExecute", args: [[{ target: alice, value: 1n, data: "0x" }]] });
        await waitFor(async () => (await rpc<{ transactions: string[] }>(node.url, "eth_getBlockByNumber", ["pending", false])).transactions.length >= 2, "2 pending transactions");
        await rpc(node.url, "evm_mine");
        const mined = Date.now();
        const block = await pub.getBlockNumber({ cacheTime: 0 });
        await waitFor(() => monitor.status().lastBlock! >= block, `block ${block} recorded`, 5_000);
        latencies.push(Date.now() - mined);
        const sample = async () => {
          while (Date.now() < mined + 2_000) {
            const lag = monitor.status().lagBlocks;
            if (lag > maxLag) maxLag = lag;
            await sleep(50);
          }
        };
        const [receipt] = await Promise.all([executing, sample()]);
        expect(receipt.status).to.equal("success");
      }
      expect(Math.max(...latencies), `latencies ${latencies.join(", ")} ms`).to.be.lessThan(1_000);
      expect(maxLag, "never more than the block in flight behind").to.be.lessThanOrEqual(1n);
      const executions = monitor.status().executions;
      expect(executions.unattributed, "every execution recorded (no decision: signed outside a service)").to.equal(5);
      expect((await store.ownerExecutions(deployment.chainId, deployment.wallet)).length).to.equal(5);

      // A backlog of 40 blocks is caught up quickly (requests batched, blocks fetched ahead).
      await rpc(node.url, "evm_setAutomine", [true]);
      // evm_mine, not hardhat_mine: Hardhat's hardhat_mine reserves blocks whose parentHash reads as zero.
      const mines = Array.from({ length: 40 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "evm_mine", params: [] }));
      await fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(mines) });
      const target = await pub.getBlockNumber({ cacheTime: 0 });
      const started = Date.now();
      await waitFor(() => monitor.status().lastBlock === target, "the backlog caught up", 10_000).catch((err) => {
        throw new Error(`${err.message}: ${JSON.stringify(monitor.status(), (_k, v) => (typeof v === "bigint" ? v.toString() : v))}, target ${target}`);
      });
      expect(Date.now() - started, "40 blocks at 20 ms per request").to.be.lessThan(4_000);
    } finally {
      await rpc(node.url, "evm_setAutomine", [true]).catch(() => undefined);
      await monitor.stop();
      await store.close();
    }
  });
});
