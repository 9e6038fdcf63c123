import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { BaseContract, Signer } from "ethers";
import { deployWalletFixture } from "../fixtures";
import { ERC1271_INVALID, ERC1271_MAGIC, domainOf, hardhatSigningKey } from "./utils";
import { highS } from "../support/signatures";

const WALLET_MESSAGE = { WalletMessage: [{ name: "hash", type: "bytes32" }] };
const HASH = ethers.id("an order the wallet's owner approves");

/** Signs `hash` wrapped as WalletMessage in `wallet`'s EIP-712 domain (what replaySafeHash returns). */
async function signWrapped(signer: Signer, wallet: BaseContract, hash: string) {
  return signer.signTypedData(await domainOf(wallet), WALLET_MESSAGE, { hash });
}

/** ERC-1271: only the owner's signature over the wallet-bound hash is the wallet's signature. */
describe("AgentWallet isValidSignature (ERC-1271)", function () {
  describe("replaySafeHash", function () {
    it("equals the EIP-712 hash of WalletMessage(hash) in the wallet's domain", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      const expected = ethers.TypedDataEncoder.hash(await domainOf(wallet), WALLET_MESSAGE, { hash: HASH });
      expect(await wallet.replaySafeHash(HASH)).to.equal(expected);
    });
  });

  describe("with the owner's signature over replaySafeHash(hash)", function () {
    it("returns the magic value 0x1626ba7e", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, await signWrapped(owner, wallet, HASH))).to.equal(ERC1271_MAGIC);
    });

    it("returns 0xffffffff for a different hash", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(ethers.id("other"), await signWrapped(owner, wallet, HASH))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff for its high-s twin", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, highS(await signWrapped(owner, wallet, HASH)))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff on another wallet of the same owner (no replay)", async function () {
      const { factory, wallet, config, owner } = await loadFixture(deployWalletFixture);
      const otherSalt = ethers.id("wallet-b");
      const walletB = await ethers.getContractAt("AgentWallet", await factory.predictWallet(config, otherSalt));
      await factory.createWallet(config, otherSalt);
      expect(await walletB.isValidSignature(HASH, await signWrapped(owner, wallet, HASH))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff once ownership moved to someone else", async function () {
      const { wallet, owner, bob } = await loadFixture(deployWalletFixture);
      const signature = await signWrapped(owner, wallet, HASH);
      await wallet.connect(owner).transferOwnership(bob.address);
      await wallet.connect(bob).acceptOwnership();
      expect(await wallet.isValidSignature(HASH, signature)).to.equal(ERC1271_INVALID);
    });
  });

  describe("with any other signature", function () {
    it("returns 0xffffffff for the session key's signature over replaySafeHash(hash)", async function () {
      const { wallet, sessionKey } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, await signWrapped(sessionKey, wallet, HASH))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff for the co-signer's signature over replaySafeHash(hash)", async function () {
      const { wallet, cosigner } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, await signWrapped(cosigner, wallet, HASH))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff for the owner's raw signature over the unwrapped hash", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      const key = hardhatSigningKey(0);
      expect(ethers.computeAddress(key.publicKey)).to.equal(owner.address);
      expect(await wallet.isValidSignature(HASH, key.sign(HASH).serialized)).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff for the owner's EIP-191 personal signature over the hash", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, await owner.signMessage(ethers.getBytes(HASH)))).to.equal(ERC1271_INVALID);
    });

    it("returns 0xffffffff for an empty signature", async function () {
      const { wallet } = await loadFixture(deployWalletFixture);
      expect(await wallet.isValidSignature(HASH, "0x")).to.equal(ERC1271_INVALID);
    });
  });
});
