/**
 * Issue 8.2: bounded work for unauthenticated callers. Strangers hammer the running service (a real local chain, the
 * real fork, no mocks) while an honest agent proposes; the honest agent is not held up and every abusive request is
 * refused within the simulation budget, before it can make the fork read what it names.
 */
import { expect } from "chai";
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  http,
  keccak256,
  parseEther,
  toBytes,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from "viem/accounts";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import type { Call } from "../../src/eip712";
import { deriveBounds } from "../../src/intent/bounds";
import { intentSchema } from "../../src/intent/schema";
import type { CosignerHarness } from "../support/cosigner";
import { deployMock } from "../support/engine";
import { call, signedOperation, startHttpHarness, usdc, usdcTransfer, type Answer, type HttpHarness } from "../support/http";

const BUDGET_MS = 2_000;
const ABUSIVE_EACH = 20;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** A proposal for any wallet, signed by any key, with the bounds the SDK derives from its intent. */
async function signedFor(h: HttpHarness, wallet: Address, signer: LocalAccount, calls: Call[], intent: Record<string, unknown>) {
  const bounds = deriveBounds(intentSchema.parse(intent), wallet);
  return signedOperation(h, calls, intent, { wallet, account: signer, nonce: BigInt(Math.floor(Math.random() * 1e15)), bounds });
}

/** A stranger (mallory) creates a wallet through the demo factory that names this co-signer and a session key of hers. */
async function strangersWallet(h: HttpHarness, sessionKey: Address): Promise<Address> {
  const mallory = devAccount(LOCAL_ROLES.mallory);
  const transport = http(h.node.url);
  const pub = createPublicClient({ transport });
  const client = createWalletClient({ account: mallory, transport });
  const chain = { id: h.deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [h.node.url] } } } as const;
  const block = await pub.getBlock();
  const config = {
    owner: mallory.address,
    cosigner: h.deployment.roles.cosigner,
    guardians: [],
    sessionKeys: [{ key: sessionKey, validUntil: Number(block.timestamp + 86_400n) }],
    budgets: [{ token: zeroAddress, limit: parseEther("1"), period: 86_400n, maxPerOperation: parseEther("1") }],
    recipients: [h.deployment.recipients.alice!],
    callPermissions: [],
  };
  const abi = loadArtifact("AgentWalletFactory").abi;
  const salt = keccak256(toBytes("mallory"));
  const wallet = (await pub.readContract({ address: h.deployment.factory, abi, functionName: "predictWallet", args: [config, salt] })) as Address;
  const create = await client.sendTransaction({ chain, to: h.deployment.factory, data: encodeFunctionData({ abi, functionName: "createWallet", args: [config, salt] }) });
  await pub.waitForTransactionReceipt({ hash: create });
  await pub.waitForTransactionReceipt({ hash: await client.sendTransaction({ chain, to: wallet, value: parseEther("0.5") }) });
  return wallet;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

describe("e2e: bounded work for unauthenticated callers (issue 8.2)", function () {
  this.timeout(600_000);

  describe("under 20 concurrent abusive requests of each kind", function () {
    let h: HttpHarness;
    let burners: Address[];
    let stranger: Address;
    const strangersKey = privateKeyToAccount(generatePrivateKey());

    before(async function () {
      h = await startHttpHarness(() => ({ SIMULATION_BUDGET_MS: String(BUDGET_MS) }));
      burners = [];
      for (let i = 0; i < 4; i++) burners.push(await deployMock(h as unknown as CosignerHarness, "GasBurner"));
      stranger = await strangersWallet(h, strangersKey.address);
    });
    after(async function () {
      await h?.stop();
    });

    it("keeps the honest agent's p99 <= 500 ms and refuses every abusive request within the simulation budget", async function () {
      const alice = h.deployment.recipients.alice!;
      // Warm: the honest path's first decision reads what later ones find in the fork.
      expect((await call(h.url, "POST", "/v1/operations", await usdcTransfer(h, alice, usdc(1)))).status).to.equal(200);

      // A random key names many assets (contracts that burn every gas unit they get) in its intent.
      const randomKeyBodies = await Promise.all(
        Array.from({ length: ABUSIVE_EACH }, () =>
          signedFor(h, h.deployment.wallet, privateKeyToAccount(generatePrivateKey()), [{ target: burners[0]!, value: 0n, data: "0x12345678" as Hex }], {
            kind: "call",
            expect: burners.map((asset) => ({ asset, delta: "1" })),
          }),
        ),
      );
      // A stranger's own wallet that names this co-signer: her key is a real session key of it.
      const strangerBodies = await Promise.all(
        Array.from({ length: ABUSIVE_EACH }, () =>
          signedFor(h, stranger, strangersKey, [{ target: alice, value: 1n, data: "0x" }], { kind: "transfer", asset: "native", to: alice, amount: "1" }),
        ),
      );
      const honestBodies = await Promise.all(Array.from({ length: 5 }, (_, i) => usdcTransfer(h, alice, usdc(1) + BigInt(i))));

      const abusive = [
        ...randomKeyBodies.map((body) => ({ kind: "random key", expect: [401, "UNKNOWN_SESSION_KEY"], go: () => call(h.url, "POST", "/v1/operations", body) })),
        ...Array.from({ length: ABUSIVE_EACH }, (_, i) => ({
          kind: "non-wallet view",
          expect: [404, "WALLET_NOT_FOUND"],
          go: () => call(h.url, "GET", `/v1/wallets/${burners[i % burners.length]}`),
        })),
        ...strangerBodies.map((body) => ({ kind: "wallet not served", expect: [404, "WALLET_NOT_FOUND"], go: () => call(h.url, "POST", "/v1/operations", body) })),
      ];
      const abuse = Promise.all(abusive.map((a) => timed(a.go)));
      const honestMs: number[] = [];
      for (const body of honestBodies) {
        const { ms, value } = await timed(() => call(h.url, "POST", "/v1/operations", body));
        expect(value.status, JSON.stringify(value.body)).to.equal(200);
        honestMs.push(ms);
      }
      const results = await abuse;
      results.forEach((r, i) => {
        const [status, code] = abusive[i]!.expect;
        expect(r.value.status, `${abusive[i]!.kind}: ${JSON.stringify(r.value.body)}`).to.equal(status);
        expect(r.value.body.error.code).to.equal(code);
        expect(r.ms, `${abusive[i]!.kind} took ${r.ms.toFixed(0)} ms`).to.be.at.most(BUDGET_MS);
      });
      const byKind = new Map<string, number[]>();
      results.forEach((r, i) => byKind.set(abusive[i]!.kind, [...(byKind.get(abusive[i]!.kind) ?? []), r.ms]));
      const figures = Object.fromEntries([...byKind].map(([k, ms]) => [k, { p50: Math.round(pct(ms, 50)), max: Math.round(Math.max(...ms)) }]));
      console.log(`      honest p99 ${pct(honestMs, 99).toFixed(0)} ms (${honestMs.map((m) => m.toFixed(0)).join(", ")}); abusive ${JSON.stringify(figures)}`);
      expect(pct(honestMs, 99)).to.be.at.most(500);
    });
  });

  describe("the queue and the per-wallet limit", function () {
    let h: HttpHarness;

    before(async function () {
      h = await startHttpHarness(() => ({ FORK_MAX_QUEUE: "2", RATE_LIMIT_PER_WALLET_PER_MINUTE: "3" }));
    });
    after(async function () {
      await h?.stop();
    });

    it("answers 503 BUSY with Retry-After when the fork's queue is full, and serves again once it drains", async function () {
      const fork = h.service.cosigner.fork;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const held = [fork.run(() => gate), fork.run(() => gate)];
      let answer: Answer | undefined;
      try {
        const waited = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000));
        answer = await Promise.race([call(h.url, "GET", `/v1/wallets/${h.deployment.wallet}`), waited]);
      } finally {
        release();
        await Promise.all(held);
      }
      expect(answer, "the request waited for the full queue").to.not.equal(undefined);
      expect(answer!.status).to.equal(503);
      expect(answer!.body.error.code).to.equal("BUSY");
      expect(Number(answer!.headers.get("retry-after"))).to.be.at.least(1);
      expect((await call(h.url, "GET", `/v1/wallets/${h.deployment.wallet}`)).status).to.equal(200);
    });

    it("refuses a wallet's proposals above RATE_LIMIT_PER_WALLET_PER_MINUTE with 429 (scope wallet), under the signer's own limit", async function () {
      const alice = h.deployment.recipients.alice!;
      for (let i = 0; i < 3; i++) {
        const answer = await call(h.url, "POST", "/v1/operations", await usdcTransfer(h, alice, usdc(1)));
        expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      }
      const refused = await call(h.url, "POST", "/v1/operations", await usdcTransfer(h, alice, usdc(1)));
      expect(refused.status).to.equal(429);
      expect(refused.body.error.code).to.equal("RATE_LIMITED");
      expect(refused.body.error.details.scope).to.equal("wallet");
      expect(Number(refused.headers.get("retry-after"))).to.be.at.least(1);
    });
  });
});
