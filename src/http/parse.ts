/** Parses a request part with a zod schema, or throws the 400 ValidationError naming each bad field. */
import type { z } from "zod";
import { ValidationError } from "../errors";

/**
 * @example const { id } = parse(operationParamsSchema, req.params)
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, prefix = ""): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(
      result.error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join("."), message: i.message })),
    );
  }
  return result.data;
}
