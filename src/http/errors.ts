/**
 * The one mapper from errors to HTTP answers: a status and `{error: {code, message, details?}}`, where `code` is a
 * reason code of src/errors.ts or one of the HTTP-only codes below, and `details` names the field or the values.
 */
import { CountersignError } from "../errors";
import { toJson } from "../store";

/** Codes only the HTTP layer answers with (the engine never decides on these). */
export const HTTP_ERROR_CODES = [
  "ROUTE_NOT_FOUND",
  "BODY_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "RATE_LIMITED",
  "UNAUTHORIZED",
  "INTERNAL",
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/**
 * An error raised by the HTTP layer itself, with its status.
 * @example throw new HttpError(401, "UNAUTHORIZED", "a valid approver token is required")
 */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The body of every 4xx/5xx answer. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** What an error answers with. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** Whether the error is ours to investigate (an unexpected failure), not the client's. */
  unexpected: boolean;
}

/**
 * Maps any error thrown while serving a request to its answer.
 * @example const { status, body } = toErrorAnswer(err, 65536)
 */
export function toErrorAnswer(err: unknown, bodyLimit: number): ErrorAnswer {
  if (err instanceof CountersignError) {
    const mapped = answer(err.status, err.code, err.message, err.details);
    // BUSY says when to come back: the fork's queue drains in about that time.
    const retryAfter = err.details.retryAfterSeconds;
    if (err.code === "BUSY") mapped.headers = { "retry-after": String(typeof retryAfter === "number" ? retryAfter : 1) };
    return mapped;
  }
  if (err instanceof HttpError) return { ...answer(err.status, err.code, err.message, err.details), headers: err.headers };
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return answer(413, "BODY_TOO_LARGE", `the body is larger than ${bodyLimit} bytes`, { limit: bodyLimit });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return answer(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return answer(400, "INVALID_REQUEST", "the Content-Length does not match the body");
  }
  if (err instanceof SyntaxError || e?.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return answer(400, "INVALID_REQUEST", `the body is not valid JSON: ${e.message}`);
  }
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return answer(e.statusCode, "INVALID_REQUEST", e.message ?? "bad request");
  }
  return { ...answer(500, "INTERNAL", "internal error; see the service log"), unexpected: true };
}

function answer(status: number, code: string, message: string, details?: Record<string, unknown>): ErrorAnswer {
  const body: ErrorBody = { error: { code, message } };
  // Details may hold bigints (nonces, amounts): serialise them as decimal strings at the edge.
  if (details && Object.keys(details).length > 0) body.error.details = JSON.parse(toJson(details));
  return { status, body, headers: {}, unexpected: false };
}
