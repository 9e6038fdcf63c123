import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  keccak256,
  parseAbi,
  toBytes,
  toFunctionSelector,
  zeroAddress,
  type Abi,
  type Address,
  type PublicClient,
} from "viem";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { parsePolicy } from "../../src/deploy/policy";
import type { DeploymentRecord } from "../../src/deploy/record";
import { startLocalNode, type LocalNode } from "../../src/devchain/node";

const ROOT = resolve(__dirname, "..", "..");
const HARDHAT = join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js");

const owner = devAccount(LOCAL_ROLES.owner).address;
const cosigner = devAccount(LOCAL_ROLES.cosigner).address;
const guardian = devAccount(LOCAL_ROLES.guardian).address;
const sessionKey = devAccount(LOCAL_ROLES.sessionKey).address;
const alice = devAccount(LOCAL_ROLES.alice).address;
const carol = devAccount(8).address;

/** A policy as an operator would write it for a testnet. */
const POLICY = {
  $comment: "stand-in network test",
  owner: "deployer",
  cosigner,
  guardians: [guardian],
  sessionKeys: [{ key: sessionKey, validForDays: 7 }],
  tokens: { USDC: { mock: { name: "USD Coin (stand-in)", decimals: 6, mintToWallet: "5000000000" } } },
  budgets: [
    { token: "USDC", limit: "1000000000", period: 86400, maxPerOperation: "500000000" },
    { token: "native", limit: "2000000000000000000", period: 86400, maxPerOperation: "1000000000000000000" },
  ],
  recipients: { alice },
  callPermissions: [],
  salt: "stand-in-1",
  fundNative: "1000000000000000000",
};

/** The environment without HARDHAT_NETWORK, which `hardhat test` may set: the child must use --network. */
function withoutHardhatNetwork(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { HARDHAT_NETWORK: _ignored, ...rest } = env;
  return rest;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("deploying to a stand-in testnet: scripts/deploy.ts and the wallet:* owner tasks", function () {
  this.timeout(300_000);
  let node: LocalNode;
  let dir: string;
  let pub: PublicClient;
  let record: DeploymentRecord;
  let deploy: Run;
  const walletAbi = (): Abi => loadArtifact("AgentWallet").abi;

  /** Runs the Hardhat CLI against the stand-in node with the given deployer key (the owner's by default). */
  function hardhat(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [HARDHAT, ...args, "--network", "standin"], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...withoutHardhatNetwork(process.env),
          HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
          STANDIN_RPC_URL: node.url,
          DEPLOYER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.owner),
          DEPLOYMENTS_DIR: join(dir, "deployments"),
          POLICY_FILE: join(dir, "policy.json"),
          ...env,
        },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    });
  }

  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    pub.readContract({ address: record.wallet, abi: walletAbi(), functionName, args }) as Promise<T>;

  /** The transaction hash a task printed, checked to be mined successfully. */
  async function minedHash(run: Run): Promise<string> {
    expect(run.code, run.stderr + run.stdout).to.equal(0);
    const hash = /0x[0-9a-f]{64}/.exec(run.stdout)?.[0];
    expect(hash, run.stdout).to.be.a("string");
    const receipt = await pub.getTransactionReceipt({ hash: hash as `0x${string}` });
    expect(receipt.status).to.equal("success");
    return hash!;
  }

  before(async function () {
    node = await startLocalNode();
    pub = createPublicClient({ transport: http(node.url) }) as PublicClient;
    dir = mkdtempSync(join(tmpdir(), "countersign-deploy-"));
    writeFileSync(join(dir, "policy.json"), JSON.stringify(POLICY, null, 2));
    deploy = await hardhat(["run", "scripts/deploy.ts"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).to.equal(0);
    record = JSON.parse(readFileSync(join(dir, "deployments", "standin.json"), "utf8")) as DeploymentRecord;
  });
  after(async function () {
    await node?.stop();
  });

  describe("scripts/deploy.ts", function () {
    it("records deployments/<network>.json with the chain, factory, wallet, roles, budgets, recipients, tokens and txs", async function () {
      expect(record).to.include({ network: "standin", chainId: 31337, deployer: owner, walletOrigin: "created" });
      expect(record.roles).to.deep.include({ owner, cosigner, guardians: [guardian] });
      expect(record.recipients).to.deep.equal({ alice });
      expect(Object.keys(record.tokens)).to.deep.equal(["USDC"]);
      expect(record.budgets.map((b) => b.symbol)).to.deep.equal(["USDC", "native"]);
      expect(record.txs.map((t) => t.what)).to.include.members(["deploy AgentWalletFactory", "create wallet"]);
      expect(await pub.getCode({ address: record.factory })).to.not.equal(undefined);
      expect(deploy.stdout).to.include(`wallet  ${record.wallet}`);
    });

    it("configures the wallet's roles on chain from the policy", async function () {
      expect(await read<Address>("owner")).to.equal(owner);
      expect(await read<Address>("cosigner")).to.equal(cosigner);
      expect(await read<Address[]>("guardians")).to.deep.equal([guardian]);
      const validUntil = await read<number>("sessionKeyValidUntil", [sessionKey]);
      const now = (await pub.getBlock()).timestamp;
      expect(BigInt(validUntil) > now + 6n * 86_400n && BigInt(validUntil) <= now + 7n * 86_400n + 60n).to.equal(true);
    });

    it("configures budgets and allowlists on chain, and funds the wallet", async function () {
      const usdc = record.tokens.USDC!;
      expect(await read<readonly bigint[]>("budget", [usdc])).to.deep.equal([1_000_000_000n, 86_400n, 500_000_000n]);
      expect(await read<readonly bigint[]>("budget", [zeroAddress])).to.deep.equal([2n * 10n ** 18n, 86_400n, 10n ** 18n]);
      expect(await read<boolean>("isRecipientAllowed", [alice])).to.equal(true);
      const balanceOf = parseAbi(["function balanceOf(address) view returns (uint256)"]);
      expect(await pub.readContract({ address: usdc, abi: balanceOf, functionName: "balanceOf", args: [record.wallet] })).to.equal(5_000_000_000n);
      expect(await pub.getBalance({ address: record.wallet })).to.equal(10n ** 18n);
    });

    it("refuses an invalid policy file, naming the field, and deploys nothing", async function () {
      writeFileSync(join(dir, "bad.json"), JSON.stringify({ ...POLICY, budgets: [{ token: "DAI", limit: "1", period: 0, maxPerOperation: "2" }] }));
      const blockBefore = await pub.getBlockNumber();
      const run = await hardhat(["run", "scripts/deploy.ts"], { POLICY_FILE: join(dir, "bad.json"), DEPLOYMENTS_DIR: join(dir, "bad") });
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include("budgets.0.period");
      expect(run.stderr).to.include("unknown token symbol DAI");
      expect(await pub.getBlockNumber()).to.equal(blockBefore);
    });
  });

  describe("owner tasks", function () {
    it("wallet:status prints the roles, budgets with what is available and the pause flag", async function () {
      const run = await hardhat(["wallet:status"]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include(`owner         ${owner}`);
      expect(run.stdout).to.include("paused        false");
      expect(run.stdout).to.match(/USDC 0x[0-9a-fA-F]{40}: limit 1000000000 per 86400 s, max 500000000 per operation, available 1000000000/);
    });

    it("wallet:budget sets a budget by token symbol, with a period in hours", async function () {
      await minedHash(await hardhat(["wallet:budget", "--token", "USDC", "--limit", "2000000000", "--period", "12h", "--max", "100000000"]));
      expect(await read<readonly bigint[]>("budget", [record.tokens.USDC!])).to.deep.equal([2_000_000_000n, 43_200n, 100_000_000n]);
    });

    it("wallet:allow allows and disallows a recipient", async function () {
      await minedHash(await hardhat(["wallet:allow", "--recipient", carol]));
      expect(await read<boolean>("isRecipientAllowed", [carol])).to.equal(true);
      await minedHash(await hardhat(["wallet:allow", "--recipient", carol, "--allowed", "false"]));
      expect(await read<boolean>("isRecipientAllowed", [carol])).to.equal(false);
    });

    it("wallet:allow grants a call permission from a function signature", async function () {
      await minedHash(await hardhat(["wallet:allow", "--target", carol, "--selector", "swap(address,address,uint256,uint256)"]));
      expect(await read<boolean>("isCallPermitted", [carol, toFunctionSelector("swap(address,address,uint256,uint256)")])).to.equal(true);
    });

    it("wallet:allow refuses a transfer-like permission on a budgeted token with the wallet's error, sending nothing", async function () {
      const blockBefore = await pub.getBlockNumber();
      const run = await hardhat(["wallet:allow", "--target", "USDC", "--selector", "approve(address,uint256)"]);
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include(`TokenPermissionConflict(${record.tokens.USDC}, 0x095ea7b3)`);
      expect(run.stderr).to.include("would bypass it");
      expect(await pub.getBlockNumber()).to.equal(blockBefore);
      expect(await read<boolean>("isCallPermitted", [record.tokens.USDC!, "0x095ea7b3"])).to.equal(false);
    });

    it("wallet:session-key adds a key valid for a duration from now, and revokes it", async function () {
      await minedHash(await hardhat(["wallet:session-key", "--key", carol, "--valid-until", "+2d"]));
      const validUntil = BigInt(await read<number>("sessionKeyValidUntil", [carol]));
      const now = (await pub.getBlock()).timestamp;
      expect(validUntil > now + 2n * 86_400n - 600n && validUntil <= now + 2n * 86_400n).to.equal(true);
      await minedHash(await hardhat(["wallet:session-key", "--key", carol, "--revoke"]));
      expect(await read<number>("sessionKeyValidUntil", [carol])).to.equal(0);
    });

    it("wallet:pause and wallet:unpause flip the pause flag on chain", async function () {
      await minedHash(await hardhat(["wallet:pause"]));
      expect(await read<boolean>("paused")).to.equal(true);
      await minedHash(await hardhat(["wallet:unpause"]));
      expect(await read<boolean>("paused")).to.equal(false);
    });

    it("a guardian key may pause but not unpause: the task says who may, and exits non-zero", async function () {
      const asGuardian = { DEPLOYER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian) };
      await minedHash(await hardhat(["wallet:pause"], asGuardian));
      const run = await hardhat(["wallet:unpause"], asGuardian);
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include(`may not unpause`);
      expect(await read<boolean>("paused")).to.equal(true);
      await minedHash(await hardhat(["wallet:unpause"]));
    });
  });
});

describe("deploying again, or after a stranger front-ran createWallet (scripts/deploy.ts)", function () {
  this.timeout(300_000);
  let node: LocalNode;
  let dir: string;
  let pub: PublicClient;
  let first: DeploymentRecord;
  let validUntil: number;
  const walletAbi = (): Abi => loadArtifact("AgentWallet").abi;

  /** Runs scripts/deploy.ts with `policy` against the stand-in node, recording into `records`. */
  async function deployWith(policy: Record<string, unknown>, records: string): Promise<Run & { record?: DeploymentRecord }> {
    const file = join(dir, `${records}.policy.json`);
    writeFileSync(file, JSON.stringify(policy, null, 2));
    const run = await new Promise<Run>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [HARDHAT, "run", "scripts/deploy.ts", "--network", "standin"], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...withoutHardhatNetwork(process.env),
          HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
          STANDIN_RPC_URL: node.url,
          DEPLOYER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.owner),
          DEPLOYMENTS_DIR: join(dir, records),
          POLICY_FILE: file,
        },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    });
    const path = join(dir, records, "standin.json");
    return { ...run, record: run.code === 0 ? (JSON.parse(readFileSync(path, "utf8")) as DeploymentRecord) : undefined };
  }

  /** A policy that names only deployed things (factory, token, expiry), so that it always gives the same wallet. */
  const fixedPolicy = (salt: string) => ({
    ...POLICY,
    factory: first.factory,
    tokens: { USDC: first.tokens.USDC },
    sessionKeys: [{ key: sessionKey, validUntil }],
    salt,
  });

  before(async function () {
    node = await startLocalNode();
    pub = createPublicClient({ transport: http(node.url) }) as PublicClient;
    dir = mkdtempSync(join(tmpdir(), "countersign-redeploy-"));
    const run = await deployWith(POLICY, "first");
    expect(run.code, run.stderr + run.stdout).to.equal(0);
    first = run.record!;
    validUntil = Number((await pub.getBlock()).timestamp) + 7 * 86_400;
  });
  after(async function () {
    await node?.stop();
  });

  it("deploys twice: the second run finds the wallet, verifies it, records it and sends nothing", async function () {
    const policy = fixedPolicy("twice");
    const once = await deployWith(policy, "twice-1");
    expect(once.code, once.stderr + once.stdout).to.equal(0);
    expect(once.record!.walletOrigin).to.equal("created");
    expect(once.record!.txs.map((t) => t.what)).to.deep.equal(["create wallet", "fund wallet (native)"]);
    const blockBefore = await pub.getBlockNumber();
    const twice = await deployWith(policy, "twice-2");
    expect(twice.code, twice.stderr + twice.stdout).to.equal(0);
    expect(twice.stdout).to.include(`already deployed at ${once.record!.wallet}`);
    expect(twice.record).to.deep.include({ wallet: once.record!.wallet, factory: first.factory, walletOrigin: "existing", txs: [] });
    expect(await pub.getBlockNumber()).to.equal(blockBefore);
    expect(await pub.getBalance({ address: once.record!.wallet })).to.equal(10n ** 18n);
  });

  it("goes on when a stranger created the wallet first with the same policy: verifies it, funds it and records it", async function () {
    const salt = "front-run";
    const config = {
      owner,
      cosigner,
      guardians: [guardian],
      sessionKeys: [{ key: sessionKey, validUntil }],
      budgets: [
        { token: first.tokens.USDC!, limit: 1_000_000_000n, period: 86_400n, maxPerOperation: 500_000_000n },
        { token: zeroAddress, limit: 2n * 10n ** 18n, period: 86_400n, maxPerOperation: 10n ** 18n },
      ],
      recipients: [alice],
      callPermissions: [],
    };
    const factoryAbi = loadArtifact("AgentWalletFactory").abi;
    const stranger = createWalletClient({ account: devAccount(9), transport: http(node.url) });
    const args = [config, keccak256(toBytes(salt))] as const;
    const predicted = (await pub.readContract({ address: first.factory, abi: factoryAbi, functionName: "predictWallet", args })) as Address;
    const frontRun = await pub.waitForTransactionReceipt({
      hash: await stranger.writeContract({ address: first.factory, abi: factoryAbi, functionName: "createWallet", args, chain: null }),
    });
    expect(frontRun.status).to.equal("success");

    const run = await deployWith(fixedPolicy(salt), "front-run");
    expect(run.code, run.stderr + run.stdout).to.equal(0);
    expect(run.record).to.deep.include({ wallet: predicted, walletOrigin: "existing" });
    expect(run.record!.txs.map((t) => t.what)).to.deep.equal(["fund wallet (native)"]);
    expect(await pub.readContract({ address: predicted, abi: walletAbi(), functionName: "owner" })).to.equal(owner);
    expect(await pub.getBalance({ address: predicted })).to.equal(10n ** 18n);
  });

  it("refuses a wallet whose state no longer matches the policy, naming the difference and sending nothing", async function () {
    const policy = fixedPolicy("drifted");
    const once = await deployWith(policy, "drifted-1");
    expect(once.code, once.stderr + once.stdout).to.equal(0);
    const ownerClient = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), transport: http(node.url) });
    await pub.waitForTransactionReceipt({
      hash: await ownerClient.writeContract({ address: once.record!.wallet, abi: walletAbi(), functionName: "setRecipient", args: [alice, false], chain: null }),
    });
    const blockBefore = await pub.getBlockNumber();
    const again = await deployWith(policy, "drifted-2");
    expect(again.code).to.not.equal(0);
    expect(again.stderr).to.include(`already exists at ${once.record!.wallet}, but it differs from the policy: recipient ${alice} missing`);
    expect(await pub.getBlockNumber()).to.equal(blockBefore);
  });
});

describe("deployment policy (src/deploy/policy.ts)", function () {
  it("parses the example policy shipped in deployments/", function () {
    const policy = parsePolicy(JSON.parse(readFileSync(join(ROOT, "deployments", "policy.example.json"), "utf8")));
    expect(policy.owner).to.equal("deployer");
    expect(policy.budgets.map((b) => b.token)).to.deep.equal(["USDC", "native"]);
  });

  it("refuses two roles on one address", function () {
    expect(() => parsePolicy({ ...POLICY, guardians: [cosigner] })).to.throw(/holds two roles/);
  });

  it("refuses a per-operation cap above the limit", function () {
    expect(() => parsePolicy({ ...POLICY, budgets: [{ token: "native", limit: "1", period: 1, maxPerOperation: "2" }] })).to.throw(
      /budgets\.0\.maxPerOperation: must not exceed limit/,
    );
  });

  it("refuses unknown fields", function () {
    expect(() => parsePolicy({ ...POLICY, ownr: owner })).to.throw(/ownr/);
  });

  it("reads selectors from signatures", function () {
    const policy = parsePolicy({ ...POLICY, callPermissions: [{ target: alice, selector: "transfer(address,uint256)" }] });
    expect(policy.callPermissions[0]!.selector).to.equal("0xa9059cbb");
  });
});
