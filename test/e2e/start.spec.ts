import { expect } from "chai";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { freePort } from "../../src/devchain/node";
import { main, type Started } from "../../scripts/start";
import { call } from "../support/http";

/** Whether something accepts TCP connections on 127.0.0.1:`port` (a fresh socket, not a pooled one). */
async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(2_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("npm start (scripts/start.ts main)", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "countersign-start-"));
  const deploymentsPath = join(dir, "deployments", "localhost.json");
  const printed: string[] = [];
  let started: Started;
  let rpcPort: number;
  let port: number;

  before(async function () {
    rpcPort = await freePort();
    port = await freePort();
    started = await main({
      rpcPort,
      port,
      deploymentsPath,
      dbPath: join(dir, "decisions.sqlite"),
      env: { LOG_LEVEL: "silent" },
      print: (line) => printed.push(line),
    });
  });
  after(async function () {
    await started?.stop();
  });

  it("writes the deployment file with the addresses and roles an agent and the demo need", function () {
    const d = JSON.parse(readFileSync(deploymentsPath, "utf8"));
    expect(d).to.include.keys("chainId", "rpcUrl", "cosignerUrl", "factory", "wallet", "tokens", "dex", "roles", "recipients");
    expect(d.chainId).to.equal(31337);
    expect(d.rpcUrl).to.equal(`http://127.0.0.1:${rpcPort}`);
    expect(d.cosignerUrl).to.equal(`http://127.0.0.1:${port}`);
    expect(d.tokens).to.have.keys("USDC", "WETH");
    expect(d.roles).to.deep.equal({
      owner: devAccount(LOCAL_ROLES.owner).address,
      sessionKey: devAccount(LOCAL_ROLES.sessionKey).address,
      cosigner: devAccount(LOCAL_ROLES.cosigner).address,
      guardian: devAccount(LOCAL_ROLES.guardian).address,
    });
    expect(d.recipients).to.deep.equal({ alice: devAccount(LOCAL_ROLES.alice).address, bob: devAccount(LOCAL_ROLES.bob).address });
    expect(d.notAllowlisted).to.deep.equal({ mallory: devAccount(LOCAL_ROLES.mallory).address });
  });

  it("serves the co-signer: /healthz answers 200 and the wallet is readable", async function () {
    const health = await call(`http://127.0.0.1:${port}`, "GET", "/healthz");
    expect(health.status, JSON.stringify(health.body)).to.equal(200);
    expect(health.body.cosigner).to.equal(devAccount(LOCAL_ROLES.cosigner).address);
    expect(health.body.guardian).to.equal(devAccount(LOCAL_ROLES.guardian).address);
    const wallet = await call(`http://127.0.0.1:${port}`, "GET", `/v1/wallets/${started.deployment.wallet}`);
    expect(wallet.status).to.equal(200);
    expect(wallet.body.cosignerIsThisService).to.equal(true);
    const deployment = await call(`http://127.0.0.1:${port}`, "GET", "/v1/deployment");
    expect(deployment.body).to.include({ wallet: started.deployment.wallet, cosignerUrl: `http://127.0.0.1:${port}` });
  });

  it("prints where everything is, and never the generated approver token, which goes to an owner-only file", function () {
    const text = printed.join("\n");
    expect(text).to.contain(`http://127.0.0.1:${port}`);
    expect(text).to.contain(started.deployment.wallet);
    expect(text).to.contain(deploymentsPath);
    expect(started.approverToken).to.be.a("string").with.length.greaterThan(15);
    expect(text).to.not.contain(started.approverToken!);
    const tokenPath = /approver token {2}in (\S+)/.exec(text)?.[1];
    expect(tokenPath, text).to.be.a("string");
    expect(readFileSync(tokenPath!, "utf8").trim()).to.equal(started.approverToken);
    expect(statSync(tokenPath!).mode & 0o777).to.equal(0o600);
  });

  it("serves another chain's deployment with UPSTREAM_RPC_URL and DEPLOYMENTS_FILE, deploying nothing", async function () {
    const otherPort = await freePort();
    const upstream = await main({
      env: { UPSTREAM_RPC_URL: `http://127.0.0.1:${rpcPort}`, DEPLOYMENTS_FILE: deploymentsPath, LOG_LEVEL: "silent", APPROVER_TOKEN: "an-approver-token-for-this-test" },
      port: otherPort,
      dbPath: join(dir, "upstream.sqlite"),
      print: () => {},
    });
    try {
      expect(upstream.node).to.equal(undefined);
      const health = await call(`http://127.0.0.1:${otherPort}`, "GET", "/healthz");
      expect(health.status, JSON.stringify(health.body)).to.equal(200);
      const deployment = await call(`http://127.0.0.1:${otherPort}`, "GET", "/v1/deployment");
      expect(deployment.body.wallet).to.equal(started.deployment.wallet);
    } finally {
      await upstream.stop();
    }
    expect(await listening(otherPort)).to.equal(false);
  });

  it("fails with a clear message when the chain's port is taken", async function () {
    const blocker = createServer();
    const taken = await freePort();
    await new Promise<void>((resolve) => blocker.listen(taken, "127.0.0.1", resolve));
    try {
      let error: Error | undefined;
      try {
        await main({ rpcPort: taken, port: await freePort(), deploymentsPath: join(dir, "never.json"), env: { LOG_LEVEL: "silent" }, print: () => {} });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.match(new RegExp(`port ${taken} on 127.0.0.1 is taken`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("stops cleanly: the API, the fork and the node are gone", async function () {
    const node = started.node!;
    await started.stop();
    expect(await listening(port)).to.equal(false);
    expect(await listening(rpcPort)).to.equal(false);
    expect(node.process.exitCode !== null || node.process.signalCode !== null).to.equal(true);
  });
});
