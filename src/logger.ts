/**
 * Structured logs (pino): one JSON line per event, the digest as the join key of a decision. Keys, tokens,
 * passwords and Authorization headers are never logged: the code does not pass them, and redaction catches them
 * should anything try.
 */
import pino, { type DestinationStream, type Logger } from "pino";

/** Paths pino censors wherever they appear (one level of nesting, plus request headers). */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "request.headers.authorization",
  "token",
  "*.token",
  "approverToken",
  "*.approverToken",
  "privateKey",
  "*.privateKey",
  "password",
  "*.password",
  "APPROVER_TOKEN",
  "*.APPROVER_TOKEN",
  "COSIGNER_PRIVATE_KEY",
  "*.COSIGNER_PRIVATE_KEY",
  "COSIGNER_KEYSTORE_PASSWORD",
  "*.COSIGNER_KEYSTORE_PASSWORD",
  "GUARDIAN_PRIVATE_KEY",
  "*.GUARDIAN_PRIVATE_KEY",
  "GUARDIAN_KEYSTORE_PASSWORD",
  "*.GUARDIAN_KEYSTORE_PASSWORD",
];

/**
 * The service's logger.
 * @example const logger = createLogger("info"); logger.info({ digest }, "decision")
 */
export function createLogger(level = "info", destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "countersign" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
