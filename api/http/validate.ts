import type { z } from 'zod';
import { AppError } from '../../shared/errors.js';

/**
 * Parses one part of a request with its schema. A failure becomes 400 validation_error whose
 * details map each offending parameter to what is wrong with it.
 */
export function parseRequestPart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: 'query' | 'path' | 'body',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const name = issue.path.length > 0 ? issue.path.join('.') : part;
    details[name] ??= issue.message;
  }
  const names = Object.keys(details);
  throw new AppError(
    'validation_error',
    `invalid ${part} parameter${names.length > 1 ? 's' : ''}: ${names.join(', ')}`,
    details,
  );
}
