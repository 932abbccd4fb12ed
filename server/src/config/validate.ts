/**
 * Schema validation of a parsed config (Ajv, draft-07) and translation of Ajv's errors into one clear
 * message per problem, each with the JSON pointer of the offending value (or key, for unknown keys).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { configSchema, type JsonSchema } from './schema';
import { describeSchema, displayName, showValue, suggest } from './messages';
import type { ConfigFix } from './types';

/** A schema problem before positions are attached. */
export interface RawIssue {
  pointer: string;
  message: string;
  /** Whether the span should cover the mapping key (unknown keys) or the value. */
  target: 'key' | 'value';
  /** Missing keys: the span is the enclosing mapping's key, or the first line for the root. */
  missing?: boolean;
  severity: 'error' | 'warning';
  fix?: ConfigFix;
}

let validator: ValidateFunction | undefined;

/** The compiled validator (compiled once; strict mode, all errors, verbose for data/parentSchema). */
export function schemaValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false });
    ajv.addVocabulary(['patternErrorMessage']);
    validator = ajv.compile(configSchema);
  }
  return validator;
}

/** Extra hints for `minItems` failures of the array-or-number settings. */
const LENGTH_HINTS: Record<string, string> = {
  '/widths': '[N_1, …, N_L, N_a] with L ≥ 1',
  '/variances': '[σ0², σ1², …, σL², σa²] with L ≥ 1',
};

function jsType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(schemaType: unknown, v: unknown): boolean {
  const t = jsType(v);
  const types = Array.isArray(schemaType) ? schemaType : [schemaType];
  return types.some((s) => s === t || (s === 'number' && t === 'integer') || (s === 'object' && t === 'object'));
}

/**
 * Validates `value` (the config as plain JSON) against `configSchema`.
 * Root-level `oneOf` (task vs data) and `if` errors are dropped: the cross-field checks word those.
 * `anyOf` alternatives are reduced to the branch whose type matches the value, or to one
 * "must be A or B (got …)" message when none does.
 * @returns one RawIssue per problem, in Ajv's order
 */
export function schemaIssues(value: unknown): RawIssue[] {
  const validate = schemaValidator();
  if (validate(value)) return [];
  let errors: ErrorObject[] = [...(validate.errors ?? [])];

  errors = errors.filter((e) => e.keyword !== 'if' && !(e.instancePath === '' && e.schemaPath.startsWith('#/oneOf')));
  // A value out of range is one problem: `P: -5` also fails multipleOf 2, a second line that adds nothing.
  const outOfRange = new Set(errors.filter((e) => /^(minimum|maximum|exclusiveMinimum|exclusiveMaximum|type)$/.test(e.keyword)).map((e) => e.instancePath));
  errors = errors.filter((e) => e.keyword !== 'multipleOf' || !outOfRange.has(e.instancePath));

  // anyOf: keep only the errors of the branch whose type matches the value.
  for (const e of errors.filter((x) => x.keyword === 'anyOf')) {
    const branches = ((e.parentSchema as JsonSchema).anyOf ?? []) as JsonSchema[];
    const k = branches.findIndex((b) => typeMatches(b.type, e.data));
    const prefix = e.schemaPath + '/';
    errors = errors.filter((x) => {
      if (!x.schemaPath.startsWith(prefix)) return x !== e || k < 0;
      return k >= 0 && x.schemaPath.startsWith(`${prefix}${k}/`);
    });
  }

  const out: RawIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const issue = translate(e);
    const key = issue.pointer + '\u0000' + issue.message;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}

function translate(e: ErrorObject): RawIssue {
  const ptr = e.instancePath;
  const name = displayName(ptr);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  const got = ` (got ${showValue(e.data)})`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties ?? {}) as object);
      const where = ptr ? ` in ${displayName(ptr)}` : '';
      const s = suggest(key, allowed);
      return {
        pointer: `${ptr}/${escape(key)}`,
        message: s ? `unknown key "${key}"${where}; did you mean "${s}"?` : `unknown key "${key}"${where}; allowed keys: ${allowed.join(', ')}`,
        target: 'key',
        severity: 'error',
        ...(s ? { fix: { kind: 'renameKey' as const, to: s, title: `Rename "${key}" to "${s}"` } } : {}),
      };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const where = ptr ? ` in ${displayName(ptr)}` : '';
      let why = '';
      const m = /^(.*)\/then\/required$/.exec(e.schemaPath);
      if (m && e.data && typeof e.data === 'object') {
        const kind = (e.data as Record<string, unknown>).kind;
        why = ` (required when kind is ${showValue(kind)})`;
      }
      return {
        pointer: `${ptr}/${escape(missing)}`,
        message: `missing required key "${missing}"${where}${why}`,
        target: 'value',
        missing: true,
        severity: 'error',
      };
    }
    case 'enum':
    case 'const': {
      const allowed = (e.keyword === 'enum' ? (params.allowedValues as unknown[]) : [params.allowedValue]) ?? [];
      const s = typeof e.data === 'string' ? suggest(e.data, allowed.map(String)) : undefined;
      return {
        pointer: ptr,
        message: `${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}${got}${s ? `; did you mean "${s}"?` : ''}`,
        target: 'value',
        severity: 'error',
        ...(s ? { fix: { kind: 'replaceValue' as const, value: s, title: `Change to "${s}"` } } : {}),
      };
    }
    case 'pattern': {
      const text = typeof parent.patternErrorMessage === 'string' ? parent.patternErrorMessage : `must match ${String(params.pattern)}`;
      return { pointer: ptr, message: `${name} ${text}${got}`, target: 'value', severity: 'error' };
    }
    case 'multipleOf':
      return {
        pointer: ptr,
        message: `${name} must be a multiple of ${String(params.multipleOf)}${params.multipleOf === 2 ? ' (the built-in tasks put half of the examples in each class)' : ''}${got}`,
        target: 'value',
        severity: 'error',
      };
    case 'minLength':
      return { pointer: ptr, message: `${name} must not be empty`, target: 'value', severity: 'error' };
    case 'minItems': {
      const n = Array.isArray(e.data) ? e.data.length : 0;
      const hint = LENGTH_HINTS[ptr] ? `, ${LENGTH_HINTS[ptr]}` : '';
      return {
        pointer: ptr,
        message: `${name} must have at least ${String(params.limit)} ${params.limit === 1 ? 'entry' : 'entries'}${hint} (got ${n})`,
        target: 'value',
        severity: 'error',
      };
    }
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const fix = clampFix(e.keyword, Number(params.limit), parent, e.data);
      return { pointer: ptr, message: `${name} must be ${describeSchema(parent)}${got}`, target: 'value', severity: 'error', ...(fix ? { fix } : {}) };
    }
    case 'type':
    case 'anyOf':
    case 'oneOf':
      return { pointer: ptr, message: `${name} must be ${describeSchema(parent)}${got}`, target: 'value', severity: 'error' };
    default:
      return { pointer: ptr, message: `${name} ${e.message ?? 'is invalid'}${got}`, target: 'value', severity: 'error' };
  }
}

/**
 * The clamp of a number out of range: to the bound itself for `minimum` / `maximum`; past an exclusive bound, to
 * the schema's default when it is in range, else (integers) the next integer inside. Undefined when none is sure.
 */
function clampFix(keyword: string, limit: number, schema: JsonSchema, value: unknown): ConfigFix | undefined {
  if (typeof value !== 'number' || !Number.isFinite(limit)) return undefined;
  const integer = schema.type === 'integer';
  const inRange = (x: number) => {
    const lo = schema.exclusiveMinimum !== undefined ? x > Number(schema.exclusiveMinimum) : schema.minimum === undefined || x >= Number(schema.minimum);
    const hi = schema.exclusiveMaximum !== undefined ? x < Number(schema.exclusiveMaximum) : schema.maximum === undefined || x <= Number(schema.maximum);
    return lo && hi && (!integer || Number.isInteger(x));
  };
  let to: number | undefined;
  if (keyword === 'minimum' || keyword === 'maximum') to = limit;
  else if (typeof schema.default === 'number' && inRange(schema.default)) to = schema.default;
  else if (integer) to = keyword === 'exclusiveMinimum' ? Math.floor(limit) + 1 : Math.ceil(limit) - 1;
  if (to === undefined || !inRange(to)) return undefined;
  const how =
    keyword === 'minimum' || keyword === 'maximum'
      ? 'the nearest allowed value'
      : typeof schema.default === 'number' && to === schema.default
        ? 'the default'
        : 'the nearest allowed value';
  return { kind: 'replaceValue', value: to, title: `Change ${value} to ${to} (${how})` };
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
