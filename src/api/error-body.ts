/**
 * The body of every 4xx/5xx answer: `{error: {code, message, details?}}`. `code` is a reason code of src/errors.ts
 * or one of the HTTP layer's own codes (src/http/schemas.ts narrows it to exactly those for the OpenAPI document).
 */
import { z } from "zod";

/**
 * An error body, as the SDK reads it (any code, so a newer service's codes pass through).
 * @example const parsed = errorBodySchema.safeParse(json); if (parsed.success) console.log(parsed.data.error.code)
 */
export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** An error body, typed. */
export type ErrorBody = z.infer<typeof errorBodySchema>;
