/**
 * Turns TypeBox validation errors into messages a person can act on: they name the file or the
 * variable, the field, what is allowed and what was given. Shared by config and profiles.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';

/** What a schema allows, in words ("an integer from 1 to 65535"). */
export function describeAllowed(schema: TSchema): string {
  const s = schema as Record<string, unknown> & TSchema;
  if (Array.isArray(s.anyOf)) {
    const literals = (s.anyOf as TSchema[]).map((x) => (x as { const?: unknown }).const).filter((x) => x !== undefined);
    if (literals.length) return `one of ${literals.map((l) => JSON.stringify(l)).join(', ')}`;
  }
  const parts: string[] = [];
  switch (s.type) {
    case 'integer':
    case 'number': {
      const kind = s.type === 'integer' ? (s.multipleOf === 2 ? 'an even integer' : 'an integer') : 'a number';
      const min = s.minimum ?? s.exclusiveMinimum;
      const max = s.maximum ?? s.exclusiveMaximum;
      if (min !== undefined && max !== undefined) parts.push(`${kind} from ${min} to ${max}`);
      else if (min !== undefined) parts.push(`${kind} ${s.exclusiveMinimum !== undefined ? '>' : '≥'} ${min}`);
      else if (max !== undefined) parts.push(`${kind} ≤ ${max}`);
      else parts.push(kind);
      if (s.multipleOf !== undefined && s.multipleOf !== 2) parts.push(`a multiple of ${s.multipleOf}`);
      break;
    }
    case 'string':
      parts.push('a string');
      if (s.pattern !== undefined) parts.push(`matching /${s.pattern}/`);
      else if (s.minLength !== undefined) parts.push(`of at least ${s.minLength} character(s)`);
      break;
    case 'boolean':
      parts.push('true or false');
      break;
    case 'array':
      parts.push('a list');
      if (s.minItems !== undefined) parts.push(`with at least ${s.minItems} item(s)`);
      break;
    case 'object':
      parts.push('an object');
      break;
    default:
      parts.push('a valid value');
  }
  return parts.join(' ');
}

/** JSON pointer "/rungs/1/height" -> "rungs[1].height". */
export function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/** One message per distinct field that failed, e.g. `rungs[1].height must be an integer ≥ 144, got 100`. */
export function schemaErrorMessages(
  schema: TSchema,
  value: unknown,
  label: (path: string) => string,
  secret: (path: string) => boolean = () => false,
): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const err of Value.Errors(schema, value) as Iterable<ValueError>) {
    if (seen.has(err.path)) continue;
    seen.add(err.path);
    const path = pointerToPath(err.path);
    if (err.value === undefined) {
      out.push(`${label(path)} is required (${describeAllowed(err.schema)})`);
    } else if (err.message.startsWith('Unexpected property')) {
      out.push(`${label(path)} is not a known setting`);
    } else {
      const given = secret(path) ? `a value of ${String(err.value).length} characters` : JSON.stringify(err.value);
      out.push(`${label(path)} must be ${describeAllowed(err.schema)}, got ${given}`);
    }
  }
  return out;
}
