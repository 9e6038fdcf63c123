/**
 * Nonce choice for the wallet's unordered nonces (a bitmap, 256 nonces per storage word).
 * A client picks a random 56-bit word once, so two agents (or two runs) practically never collide, then walks
 * that word sequentially: the first nonce of a word costs a fresh storage slot on chain, the next 255 reuse it.
 * Every candidate is checked with `isNonceUsed` on chain before it is handed out.
 */
import { randomBytes } from "node:crypto";

/** Nonces per bitmap word. */
const WORD = 256n;

/**
 * Hands out unused nonces: sequential within a random bitmap word, each checked on chain.
 * @example const nonces = new NonceSource((n) => wallet.read.isNonceUsed([n])); const nonce = await nonces.next()
 */
export class NonceSource {
  private word: bigint;
  private index = 0n;

  /** @param isUsed asks the chain whether a nonce was executed or invalidated. */
  constructor(
    private readonly isUsed: (nonce: bigint) => Promise<boolean>,
    word?: bigint,
  ) {
    this.word = word ?? randomWord();
  }

  /** The next nonce not used on chain and not handed out before by this source. */
  async next(): Promise<bigint> {
    for (;;) {
      if (this.index === WORD) {
        this.word = randomWord();
        this.index = 0n;
      }
      const nonce = this.word * WORD + this.index++;
      if (!(await this.isUsed(nonce))) return nonce;
    }
  }
}

function randomWord(): bigint {
  return BigInt(`0x${randomBytes(7).toString("hex")}`);
}
