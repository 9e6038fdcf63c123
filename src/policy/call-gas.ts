/**
 * Refuse operations whose calls need nearly all of their `callGasLimit`: what fits on the fork with little room
 * may not fit on chain (state moves between simulation and inclusion), and a contract that branches on gasleft()
 * is the likeliest user of the margin. The wallet gives each call exactly callGasLimit, so the fix is on the agent's
 * side: sign a larger callGasLimit.
 */
import type { Reason } from "../errors";
import { isTight, TIGHT_DENOMINATOR, TIGHT_NUMERATOR } from "../simulation/call-gas";
import type { SimulationResult } from "../simulation/simulate";

/**
 * CALL_GAS_TOO_TIGHT when the heaviest call of a successful simulation used (or may have used) more than 3/4 of
 * `callGasLimit`; nothing otherwise.
 * @example callGasReasons(sim, 50_000n) // [{ code: "CALL_GAS_TOO_TIGHT", message: "call 0 uses 46000 gas of …" }]
 */
export function callGasReasons(sim: Pick<SimulationResult, "success" | "callGas">, callGasLimit: bigint): Reason[] {
  if (!sim.success || !isTight(sim.callGas.used, callGasLimit)) return [];
  const { used, exact, index } = sim.callGas;
  const share = `more than ${TIGHT_NUMERATOR}/${TIGHT_DENOMINATOR} of its callGasLimit ${callGasLimit}`;
  return [
    {
      code: "CALL_GAS_TOO_TIGHT",
      message: exact
        ? `call ${index} uses ${used} gas, ${share}: on chain it may run out; sign a callGasLimit of at least ${minimumLimit(used)}`
        : `a call may use up to ${used} gas, ${share}: on chain it may run out; sign a callGasLimit of at least ${minimumLimit(used)}`,
    },
  ];
}

/** The smallest callGasLimit that clears a call using `used` gas. */
function minimumLimit(used: bigint): bigint {
  return (used * TIGHT_DENOMINATOR) / TIGHT_NUMERATOR + 1n;
}
