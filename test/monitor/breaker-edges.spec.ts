/**
 * Where the breaker meets the rest of the service, against the running service on a real local chain: a trip that
 * lands while the engine is deciding (after its stop checks) still keeps the signature back; rule 2 tells a mismatch
 * that anyone can cause (native ETH in a block of several transactions: a flag for a person) from one only the
 * operation can (a token: a pause).
 */
import { expect } from "chai";
import { createWalletClient, encodeFunctionData, http, parseEther, type Address, type Hex } from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { rpc } from "../../src/devchain/node";
import { executeArgs } from "../../src/eip712";
import { swapCalls } from "../../src/client";
import type { Incident } from "../../src/store";
import {
  bearer,
  call,
  eventually,
  operationOf,
  signedOperation,
  startHttpHarness,
  usdc,
  usdcTransfer,
  walletRead,
  walletTx,
  type HttpHarness,
  type OperationBody,
} from "../support/http";

describe("the breaker at its edges with the service (issue 10 review)", function () {
  this.timeout(240_000);
  let h: HttpHarness;
  const get = (path: string) => call(h.url, "GET", path, undefined, bearer(h.token));
  const post = (path: string, body?: unknown) => call(h.url, "POST", path, body, bearer(h.token));
  const propose = (op: OperationBody) => call(h.url, "POST", "/v1/operations", op);
  const alice = () => h.deployment.recipients.alice! as Address;
  const bob = () => h.deployment.recipients.bob! as Address;
  const chain = () => ({ id: h.deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [h.node.url] } } }) as const;

  before(async function () {
    h = await startHttpHarness(() => ({ MONITOR_POLL_MS: "100" }));
  });
  after(async function () {
    await h?.stop();
  });

  async function restore(): Promise<void> {
    await rpc(h.node.url, "evm_setAutomine", [true]);
    if (await walletRead<boolean>(h, "paused")) await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
    await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "test" });
    for (const i of (await get("/v1/incidents?limit=500")).body.incidents as Incident[]) {
      if (i.state !== "resolved") await post(`/v1/incidents/${i.id}/resolve`, { operator: "test" });
    }
    await eventually(async () => (await call(h.url, "GET", `/v1/wallets/${h.deployment.wallet}`)).body.paused === false, "the fork to see the unpause");
  }

  /** Sends `execute` for an approved operation without waiting (automine may be off). */
  async function sendExecute(op: OperationBody, cosignature: Hex): Promise<Hex> {
    const relayer = createWalletClient({ account: devAccount(LOCAL_ROLES.relayer), chain: chain(), transport: http(h.node.url) });
    return relayer.sendTransaction({
      to: op.wallet,
      gas: 3_000_000n,
      data: encodeFunctionData({ abi: loadArtifact("AgentWallet").abi, functionName: "execute", args: executeArgs(operationOf(op), op.agentSignature, cosignature) }),
    });
  }

  /** Mallory sends `value` wei to `to` without waiting: anyone can. */
  async function sendWei(to: Address, value: bigint): Promise<Hex> {
    const mallory = createWalletClient({ account: devAccount(LOCAL_ROLES.mallory), chain: chain(), transport: http(h.node.url) });
    return mallory.sendTransaction({ to, value, gas: 21_000n });
  }

  /** Both transactions in one block (automine off, one evm_mine); returns that block's number. */
  async function oneBlock(send: () => Promise<Hex[]>): Promise<bigint> {
    await rpc(h.node.url, "evm_setAutomine", [false]);
    let hashes: Hex[];
    try {
      hashes = await send();
      await rpc(h.node.url, "evm_mine");
    } finally {
      await rpc(h.node.url, "evm_setAutomine", [true]);
    }
    const blocks = await Promise.all(hashes.map(async (hash) => BigInt((await rpc<{ blockNumber: string; status: string }>(h.node.url, "eth_getTransactionReceipt", [hash])).blockNumber)));
    expect(new Set(blocks).size, "one block").to.equal(1);
    return blocks[0]!;
  }

  async function incidentOf(rule: string): Promise<Incident> {
    let found: Incident | undefined;
    await eventually(async () => {
      found = ((await get(`/v1/incidents?rule=${rule}&state=open`)).body.incidents as Incident[])[0];
      return found !== undefined && found.actions.length > 0 && (found.actionKind === "flag" || found.actions.at(-1)?.status === "confirmed");
    }, `an open ${rule} incident`);
    return found!;
  }

  describe("when a trip lands while the engine decides (after its stop checks)", function () {
    after(restore);

    it("withholds the signature: the proposal is refused WALLET_PAUSED, and so is its replay", async function () {
      const { store, engine } = h.service.cosigner;
      const wallet = h.deployment.wallet;
      const anomaly = store.activeAnomaly;
      // The breaker trips (another replica's rule, the monitor) exactly while the engine reads the wallet's flag.
      store.activeAnomaly = async (...args: Parameters<typeof anomaly>) => {
        engine.stops.stop(wallet, null, "inc_during_decision");
        return anomaly.apply(store, args);
      };
      const op = await usdcTransfer(h, alice(), usdc(1));
      try {
        const res = await propose(op);
        expect(res.body.cosignerSignature, JSON.stringify(res.body)).to.equal(undefined);
        expect(res.body.error?.code).to.equal("WALLET_PAUSED");
        expect(res.body.error?.details).to.deep.include({ incidentId: "inc_during_decision", by: "breaker" });
      } finally {
        store.activeAnomaly = anomaly;
      }
      const replay = await propose(op);
      expect(replay.body.cosignerSignature, "the recorded decision's signature stays back while the stop holds").to.equal(undefined);
      expect(replay.body.error?.code).to.equal("WALLET_PAUSED");
      // A read of the decision does not hand the signature out either, until the stop lifts.
      const recorded = await store.findLiveByNonce(h.deployment.chainId, wallet, op.nonce);
      expect(recorded?.status).to.equal("approved");
      const read = await call(h.url, "GET", `/v1/operations/${recorded!.id}`, undefined, bearer(h.token));
      expect(read.status, JSON.stringify(read.body)).to.equal(200);
      expect(read.body.cosignerSignature, "read while the stop holds").to.equal(undefined);
      engine.stops.lift(wallet);
      const after = await call(h.url, "GET", `/v1/operations/${recorded!.id}`, undefined, bearer(h.token));
      expect(after.body.cosignerSignature, "read after the stop lifted").to.equal(recorded!.cosignerSignature);
    });
  });

  describe("when another replica's operator clears the wallet", function () {
    it("lifts this process's stop once the anomaly.cleared record appears in the shared audit log", async function () {
      const { store, engine } = h.service.cosigner;
      const wallet = h.deployment.wallet;
      engine.stops.stop(wallet, null, "inc_elsewhere");
      expect(engine.stops.isStopped(wallet)).to.equal(true);
      // What another replica's POST /v1/wallets/:address/anomaly/clear writes to the store both share.
      await store.clearAnomaly(h.deployment.chainId, wallet, "on-call@replica-2");
      await eventually(async () => !engine.stops.isStopped(wallet), "the stop lifted", 10_000);
      const res = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    });

    it("keeps a stop set after that clear", async function () {
      const { store, engine } = h.service.cosigner;
      const wallet = h.deployment.wallet;
      await store.clearAnomaly(h.deployment.chainId, wallet, "on-call@replica-2");
      await new Promise((r) => setTimeout(r, 50));
      engine.stops.stop(wallet, null, "inc_after_clear");
      await new Promise((r) => setTimeout(r, 1_000)); // several scans of the audit log
      expect(engine.stops.isStopped(wallet)).to.equal(true);
      engine.stops.lift(wallet);
    });
  });

  describe("rule 2 on a mismatch of native ETH alone, in a block of several transactions", function () {
    after(restore);

    it("flags the wallet for a person and opens the incident, without pausing (1 wei from anyone is not a pause)", async function () {
      const amount = parseEther("0.001");
      const op = await signedOperation(h, [{ target: alice(), value: amount, data: "0x" }], { kind: "transfer", asset: "native", to: alice(), amount: amount.toString() });
      const decided = await propose(op);
      expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
      // Someone sends alice 1 wei in the operation's block: her ETH moved by 1 wei more than the simulation said.
      const block = await oneBlock(async () => [await sendExecute(op, decided.body.cosignerSignature), await sendWei(alice(), 1n)]);

      const incident = await incidentOf("simulation_mismatch");
      expect(incident.actionKind, "a flag, not a pause").to.equal("flag");
      expect(incident.evidence[0]).to.deep.include({ digest: decided.body.digest, transactionCount: 2, mismatching: [`${alice()}:native`] });
      expect(incident.evidence[0]!.blockNumber).to.equal(block.toString());
      expect(await walletRead<boolean>(h, "paused")).to.equal(false);
      const held = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(held.status, JSON.stringify(held.body)).to.equal(202);
      expect(held.body.reasons.map((r: { code: string }) => r.code)).to.include("ANOMALY_FLAGGED");
    });
  });

  describe("rule 2 on a token mismatch, in a block of several transactions", function () {
    const { abi } = loadArtifact("MockDex");
    const setRate = (rate: bigint) => {
      const { USDC, WETH } = h.deployment.tokens as { USDC: Address; WETH: Address };
      const owner = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), chain: chain(), transport: http(h.node.url) });
      return owner.writeContract({ address: h.deployment.dex as Address, abi, functionName: "setRate", args: [USDC, WETH, rate] });
    };
    const RATE = (10n ** 18n * 10n ** 12n) / 4000n;
    after(async function () {
      await setRate(RATE);
      await restore();
    });

    it("pauses the wallet: a token's changes are the operation's own", async function () {
      const { USDC: token, WETH: weth } = h.deployment.tokens as { USDC: Address; WETH: Address };
      const intent = { kind: "swap", sell: { asset: token, maxAmount: usdc(40).toString() }, buy: { asset: weth, minAmount: (9n * 10n ** 15n).toString() } };
      const op = await signedOperation(h, swapCalls({ sell: { asset: token, maxAmount: usdc(40) }, buy: { asset: weth, minAmount: 9n * 10n ** 15n }, via: { dex: h.deployment.dex as Address } }), intent);
      const decided = await propose(op);
      expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
      // The pool pays twice what the simulation saw (within the bounds), and another transaction shares the block.
      await setRate(RATE * 2n); // mined at once (automine)
      await oneBlock(async () => [await sendExecute(op, decided.body.cosignerSignature), await sendWei(bob(), 1n)]);

      const incident = await incidentOf("simulation_mismatch");
      expect(incident.actionKind).to.equal("pause");
      expect(incident.evidence[0]).to.deep.include({ digest: decided.body.digest, transactionCount: 2 });
      expect((incident.evidence[0]!.mismatching as string[]).every((k) => !k.endsWith(":native"))).to.equal(true);
      expect(await walletRead<boolean>(h, "paused")).to.equal(true);
    });
  });
});
