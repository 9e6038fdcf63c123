/**
 * One function of a contract's ABI, found once. viem's encodeFunctionData and decodeFunctionResult look the function
 * up in the whole ABI and format its signature on every call; the co-signer encodes the same few functions for every
 * decision.
 */
import { decodeAbiParameters, encodeAbiParameters, toFunctionSelector, type Abi, type AbiFunction, type Hex } from "viem";

export interface AbiFunctionCodec {
  /** The calldata of a call with `args`, as viem's encodeFunctionData makes it. */
  encode(args: readonly unknown[]): Hex;
  /** The call's answer, as viem's decodeFunctionResult gives it: the value of a single output, else the tuple. */
  decode<T>(data: Hex): T;
}

/**
 * The codec of `abi`'s function `name`; throws if the ABI has no such function, or more than one (an overload must be
 * chosen by its arguments, which this does not do).
 * @example const prepare = abiFunction(readerAbi, "prepare"); const data = prepare.encode([wallet, signer, nonce, self, query])
 */
export function abiFunction(abi: Abi, name: string): AbiFunctionCodec {
  const found = abi.filter((item): item is AbiFunction => item.type === "function" && item.name === name);
  if (found.length !== 1) throw new Error(`the ABI has ${found.length} functions named ${name}; exactly one is needed`);
  const item = found[0]!;
  const selector = toFunctionSelector(item);
  return {
    encode: (args) => (item.inputs.length === 0 ? selector : `${selector}${encodeAbiParameters(item.inputs, args).slice(2)}`),
    decode: <T>(data: Hex) => {
      const values = decodeAbiParameters(item.outputs, data);
      return (values.length > 1 ? values : values[0]) as T;
    },
  };
}
