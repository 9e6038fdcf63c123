/**
 * Sign: the co-signer's key, loaded once (an encrypted JSON keystore, or a raw key in development only), used
 * only to sign digests that passed simulation and policy. The key never leaves this object: it is not logged,
 * serialised or inspected.
 *
 * ECDSA runs in libsecp256k1 (the `secp256k1` binding): recovering and signing there take ~0.1 ms where the
 * pure-JS curve takes 1-3 ms, and both sit on the decision's critical path. Tests check it against viem.
 */
import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import secp256k1 from "secp256k1";
import { keccak_256 } from "js-sha3";
import { bytesToHex, getAddress, hexToBytes, type Address, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * The co-signer's signing key.
 * @example const key = CosignerKey.fromPrivateKey(process.env.COSIGNER_PRIVATE_KEY as Hex); key.sign(digest)
 */
export class CosignerKey {
  readonly #key: Uint8Array;
  readonly address: Address;

  private constructor(key: Uint8Array) {
    if (!secp256k1.privateKeyVerify(key)) throw new Error("the co-signer key is not a valid secp256k1 private key");
    this.#key = key;
    this.address = privateKeyToAddress(bytesToHex(key));
  }

  /** From a 32-byte hex private key (development: prefer a keystore). */
  static fromPrivateKey(privateKey: Hex): CosignerKey {
    if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new Error("the co-signer key must be 32 bytes of 0x-hex");
    return new CosignerKey(hexToBytes(privateKey));
  }

  /** From an encrypted JSON keystore (Web3 Secret Storage) and its password. */
  static async fromKeystore(path: string, password: string): Promise<CosignerKey> {
    const { Wallet } = await import("ethers");
    const json = await readFile(path, "utf8");
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new CosignerKey(hexToBytes(wallet.privateKey as Hex));
  }

  /** A 65-byte signature (r ‖ s ‖ v, v ∈ {27, 28}, low s) of a 32-byte digest. */
  sign(digest: Hex): Hex {
    const { signature, recid } = secp256k1.ecdsaSign(hexToBytes(digest), this.#key);
    const out = new Uint8Array(65);
    out.set(signature, 0);
    out[64] = 27 + recid;
    return bytesToHex(out);
  }

  toJSON(): { address: Address } {
    return { address: this.address };
  }

  [inspect.custom](): string {
    return `CosignerKey(${this.address})`;
  }
}

/**
 * The address that signed `digest`, or undefined for a malformed, high-s or unrecoverable signature
 * (the same signatures the wallet's ECDSA.tryRecover refuses).
 * @example recoverSigner(digest, agentSignature) // "0x7099…79C8"
 */
export function recoverSigner(digest: Hex, signature: Hex): Address | undefined {
  const bytes = hexToBytes(signature);
  if (bytes.length !== 65) return undefined;
  const v = bytes[64]!;
  if (v !== 27 && v !== 28) return undefined;
  const s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  if (s > HALF_N || s === 0n) return undefined;
  try {
    const pub = secp256k1.ecdsaRecover(bytes.subarray(0, 64), v - 27, hexToBytes(digest), false);
    return getAddress(`0x${keccak_256(pub.subarray(1)).slice(24)}`);
  } catch {
    return undefined;
  }
}
