import { expect } from "chai";
import { Wallet } from "ethers";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { bytesToHex, keccak256, recoverAddress, toHex, type Hex } from "viem";
import { privateKeyToAccount, sign } from "viem/accounts";
import { devAccount, devPrivateKey } from "../../src/chain/accounts";
import { operationDigest, operationTypedData } from "../../src/eip712";
import { CosignerKey, recoverSigner } from "../../src/signing/signer";
import { ROLES } from "../support/engine";
import { highS, SECP256K1_N } from "../support/signatures";

const N = SECP256K1_N;
const HALF_N = N / 2n;

const withV = (signature: Hex, v: number): Hex => `${signature.slice(0, 130)}${v.toString(16).padStart(2, "0")}` as Hex;

describe("engine: sign", function () {
  const privateKey = devPrivateKey(ROLES.cosigner);
  const key = CosignerKey.fromPrivateKey(privateKey);
  const digest = keccak256(toHex("countersign"));

  describe("CosignerKey.sign", function () {
    it("signs a digest that viem's recoverAddress recovers to the key's address", async function () {
      const signature = key.sign(digest);
      expect(signature).to.match(/^0x[0-9a-f]{130}$/);
      expect(await recoverAddress({ hash: digest, signature })).to.equal(devAccount(ROLES.cosigner).address);
      expect(key.address).to.equal(devAccount(ROLES.cosigner).address);
    });

    it("gives the same signature as viem (RFC 6979), with low s and v in {27, 28}, for random keys and digests", async function () {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (k, d) => {
          const pk = bytesToHex(k);
          const n = BigInt(pk);
          fc.pre(n > 0n && n < N);
          const hash = bytesToHex(d);
          const ours = CosignerKey.fromPrivateKey(pk).sign(hash);
          const theirs = await sign({ hash, privateKey: pk, to: "hex" });
          expect(ours).to.equal(theirs.toLowerCase());
          expect(BigInt(`0x${ours.slice(66, 130)}`) <= HALF_N).to.equal(true);
          expect([27, 28]).to.include(parseInt(ours.slice(130), 16));
          expect(recoverSigner(hash, ours)).to.equal(privateKeyToAccount(pk).address);
        }),
        { numRuns: 40 },
      );
    });

    it("signs the operation digest the session key signs (the shared EIP-712 module)", async function () {
      const wallet = devAccount(ROLES.mallory).address;
      const op = { calls: [{ target: wallet, value: 1n, data: "0x" as Hex }], nonce: 7n, deadline: 1_900_000_000n, callGasLimit: 100_000n, bounds: [] };
      const agent = await devAccount(ROLES.sessionKey).signTypedData(operationTypedData(31337, wallet, op));
      const d = operationDigest(31337, wallet, op);
      expect(recoverSigner(d, agent)).to.equal(devAccount(ROLES.sessionKey).address);
      expect(recoverSigner(d, key.sign(d))).to.equal(key.address);
    });
  });

  describe("recoverSigner", function () {
    const good = key.sign(digest);

    it("recovers a good signature", function () {
      expect(recoverSigner(digest, good)).to.equal(key.address);
    });

    it("refuses the high-s twin of a good signature", async function () {
      const twin = highS(good);
      // The twin is a valid ECDSA signature (viem recovers it); the wallet's ECDSA.tryRecover refuses it, so must we.
      expect(await recoverAddress({ hash: digest, signature: twin })).to.equal(key.address);
      expect(recoverSigner(digest, twin)).to.equal(undefined);
      expect(highS(twin)).to.equal(good);
    });

    it("refuses v other than 27 or 28", function () {
      for (const v of [0, 1, 26, 29, 255]) expect(recoverSigner(digest, withV(good, v)), `v = ${v}`).to.equal(undefined);
    });

    it("refuses s = 0, r = 0 and a wrong length", function () {
      expect(recoverSigner(digest, `${good.slice(0, 66)}${"00".repeat(32)}${good.slice(130)}` as Hex)).to.equal(undefined);
      expect(recoverSigner(digest, `0x${"00".repeat(32)}${good.slice(66)}` as Hex)).to.equal(undefined);
      expect(recoverSigner(digest, good.slice(0, 128) as Hex)).to.equal(undefined);
    });

    it("recovers someone else for another digest", function () {
      const other = keccak256(toHex("something else"));
      expect(recoverSigner(other, good)).to.not.equal(key.address);
    });
  });

  describe("the key in memory", function () {
    const secret = privateKey.slice(2).toLowerCase();

    it("never appears in JSON.stringify, util.inspect or string conversions of the key or objects holding it", function () {
      const holder = { key, nested: { key } };
      const outputs = [
        JSON.stringify(key),
        JSON.stringify(holder),
        inspect(key),
        inspect(holder, { depth: Infinity }),
        inspect(key, { showHidden: true, depth: Infinity, customInspect: false }),
        inspect(key, { showHidden: true, depth: Infinity, customInspect: false, getters: true }),
        String(key),
        `${Object.keys(key)}`,
        JSON.stringify(Object.getOwnPropertyNames(key).map((name) => (key as unknown as Record<string, unknown>)[name])),
      ];
      for (const out of outputs) {
        expect(out.toLowerCase()).to.not.include(secret);
        expect(out).to.not.match(/Uint8Array/);
      }
      expect(JSON.parse(JSON.stringify(key))).to.deep.equal({ address: key.address });
      expect(inspect(key)).to.equal(`CosignerKey(${key.address})`);
    });

    it("refuses a key that is not 32 bytes of hex, or not on the curve", function () {
      expect(() => CosignerKey.fromPrivateKey("0x1234")).to.throw(/32 bytes/);
      expect(() => CosignerKey.fromPrivateKey(`0x${"00".repeat(32)}`)).to.throw(/not a valid secp256k1 private key/);
      expect(() => CosignerKey.fromPrivateKey(toHex(N, { size: 32 }))).to.throw(/not a valid secp256k1 private key/);
    });
  });

  describe("loading from an encrypted JSON keystore", function () {
    let path: string;
    const password = "correct horse battery staple";

    before(async function () {
      this.timeout(60_000); // scrypt at its default cost
      const json = await new Wallet(privateKey).encrypt(password);
      path = join(mkdtempSync(join(tmpdir(), "countersign-keystore-")), "cosigner.json");
      writeFileSync(path, json, { mode: 0o600 });
    });

    it("loads the key with its password, and it signs as the co-signer", async function () {
      this.timeout(60_000);
      const loaded = await CosignerKey.fromKeystore(path, password);
      expect(loaded.address).to.equal(devAccount(ROLES.cosigner).address);
      expect(loaded.sign(digest)).to.equal(key.sign(digest));
      expect(inspect(loaded, { showHidden: true, customInspect: false }).toLowerCase()).to.not.include(privateKey.slice(2).toLowerCase());
    });

    it("refuses a wrong password", async function () {
      this.timeout(60_000);
      let error: unknown;
      try {
        await CosignerKey.fromKeystore(path, "wrong password");
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.match(/incorrect password/i);
    });
  });
});
