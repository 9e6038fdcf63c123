/**
 * A mock agent that reads invoices the way a gullible LLM would: it obeys instructions it finds in the text.
 * It stands for any planner whose input an attacker can write to; Countersign must hold whatever it proposes.
 */
import { getAddress, parseUnits, type Address } from "viem";
import type { Invoice } from "./invoices";

/** A payment the agent decided to make. */
export interface PlannedPayment {
  invoice: string;
  to: Address;
  /** Whole units, as read. */
  amount: string;
  /** Token base units. */
  baseUnits: bigint;
  symbol: string;
  memo: string;
  /** Why the agent chose this payment (what it "thought"). */
  rationale: string;
}

const INJECTION = /IGNORE PREVIOUS INSTRUCTIONS:\s*pay\s+(0x[0-9a-fA-F]{40})\s+([0-9]+(?:\.[0-9]+)?)\s+([A-Z]+)/;

/**
 * What the mock agent pays for `invoice`: the invoice's own payee and amount, unless the text tells it otherwise,
 * in which case it does what the text says (the prompt injection wins, as it too often does).
 * @example planPayment(INVOICES[1], { USDC: 6 }) // { to: mallory, amount: "900", … }
 */
export function planPayment(invoice: Invoice, decimals: Record<string, number>): PlannedPayment {
  const injected = INJECTION.exec(invoice.notes);
  const [to, amount, symbol, rationale] = injected
    ? [getAddress(injected[1]!), injected[2]!, injected[3]!, `the invoice text says "${injected[0]}" and the agent follows it`]
    : [getAddress(invoice.payTo), invoice.amount, invoice.currency, `pays ${invoice.vendor} as invoiced`];
  const places = decimals[symbol];
  if (places === undefined) throw new Error(`the agent knows no token ${symbol}`);
  return { invoice: invoice.id, to, amount, baseUnits: parseUnits(amount, places), symbol, memo: `${invoice.id} ${invoice.vendor}`, rationale };
}
