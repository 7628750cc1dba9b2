import type { z } from 'zod';
import { HttpProblem } from './problem';

/**
 * Validates path parameters, query strings or headers against their zod schema. A failure is a 400 whose detail
 * names each bad field (`limit: Too big: expected number to be <=100`), never a 500.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : where}: ${issue.message}`)
    .join('; ');
  throw new HttpProblem(400, `Invalid ${where}`, detail);
}
