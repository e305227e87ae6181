import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

/**
 * A compiled validator: TypeBox compiles each schema once into a plain JS predicate, which is
 * what keeps validation cheap on the hot path (see README "Validation library").
 */
export interface Validator<T> {
  /** True when `value` matches the schema; narrows its type. */
  check(value: unknown): value is T;
  /** The first problem, as `"<path> <message>"`, for error replies and logs. */
  explain(value: unknown): string;
}

export function compile<S extends TSchema>(schema: S): Validator<Static<S>> {
  const compiled: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    check: (value: unknown): value is Static<S> => compiled.Check(value),
    explain(value: unknown): string {
      const first = compiled.Errors(value).First();
      return first ? `${first.path || '/'} ${first.message}` : 'ok';
    },
  };
}

/** Parses text that must be a JSON object; returns undefined for anything else. Never throws. */
export function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
