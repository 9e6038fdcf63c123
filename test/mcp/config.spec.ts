import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadMcpConfig, loadSessionKey } from "../../src/mcp/config";

const base = { COSIGNER_URL: "http://127.0.0.1:8787", RPC_URL: "http://127.0.0.1:8545", WALLET: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc" };
const RAW = devPrivateKey(LOCAL_ROLES.sessionKey);

describe("MCP server configuration (src/mcp/config.ts)", function () {
  this.timeout(60_000);

  it("loads the session key from an encrypted keystore and its password", async function () {
    const { Wallet } = await import("ethers");
    const wallet = new Wallet(RAW);
    const path = join(mkdtempSync(join(tmpdir(), "countersign-mcp-")), "session-key.json");
    writeFileSync(path, await wallet.encrypt("correct horse"));
    const key = await loadSessionKey(loadMcpConfig({ ...base, SESSION_KEY_KEYSTORE_PATH: path, SESSION_KEY_KEYSTORE_PASSWORD: "correct horse" }));
    expect(key.address).to.equal(wallet.address);
    const wrong = loadMcpConfig({ ...base, SESSION_KEY_KEYSTORE_PATH: path, SESSION_KEY_KEYSTORE_PASSWORD: "wrong" });
    const err = await loadSessionKey(wrong).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.equal("SESSION_KEY_KEYSTORE_PATH: the keystore could not be decrypted with SESSION_KEY_KEYSTORE_PASSWORD");
  });

  it("refuses a raw session key in production, naming the variable and never its value", function () {
    expect(() => loadMcpConfig({ ...base, SESSION_KEY_PRIVATE_KEY: RAW, NODE_ENV: "production" }))
      .to.throw(/SESSION_KEY_PRIVATE_KEY: a raw key is for development only/)
      .with.property("message")
      .that.does.not.include(RAW.slice(2));
  });

  it("requires a session key and the password of a keystore", function () {
    expect(() => loadMcpConfig(base)).to.throw(/SESSION_KEY_KEYSTORE_PATH: is required/);
    expect(() => loadMcpConfig({ ...base, SESSION_KEY_KEYSTORE_PATH: "k.json" })).to.throw(/SESSION_KEY_KEYSTORE_PASSWORD: is required/);
    expect(() => loadMcpConfig({ ...base, WALLET: "0x1234", SESSION_KEY_PRIVATE_KEY: RAW })).to.throw(/WALLET: must be a 0x-prefixed 20-byte hex address/);
  });
});
