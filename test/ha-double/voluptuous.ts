/**
 * A tiny re-implementation of the parts of voluptuous (and its `humanize_error`)
 * that Home Assistant's WebSocket API uses to build error messages, so the double
 * can send the same strings. Only mapping schemas with literal / str / int /
 * {str: int} / any values are supported; that covers the auth message schema and
 * the command schemas the double implements.
 *
 * Source of the rules: voluptuous 0.13 (schema_builder.validate_mapping,
 * Invalid.__str__, humanize.humanize_error) as used by home-assistant/core 2023.12.
 */

export type Validator =
  | { kind: "literal"; value: string }
  | { kind: "str" }
  | { kind: "int" }
  | { kind: "dict_str_int" }
  | { kind: "any" };

export interface MappingSchema {
  required: Record<string, Validator>;
  optional?: Record<string, Validator>;
  /** Group name when optional keys are vol.Exclusive in the same group (auth schema). */
  exclusiveGroup?: { name: string; keys: string[] };
}

export interface VolError {
  message: string;
  path: Array<string | number>;
  errorType?: string;
}

const MAX_VALIDATION_ERROR_ITEM_LENGTH = 500;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkValue(v: Validator, value: unknown, path: Array<string | number>): VolError[] {
  switch (v.kind) {
    case "any":
      return [];
    case "literal":
      return value === v.value ? [] : [{ message: "not a valid value", path }];
    case "str":
      return typeof value === "string" ? [] : [{ message: "expected str", path }];
    case "int":
      // Python: isinstance(True, int) is True; JSON numbers 1.0 parse as float in
      // Python but as 1 here (documented limitation).
      return (typeof value === "number" && Number.isInteger(value)) || typeof value === "boolean"
        ? []
        : [{ message: "expected int", path }];
    case "dict_str_int": {
      if (!isPlainObject(value)) return [{ message: "expected a dictionary", path }];
      const errs: VolError[] = [];
      for (const [k, inner] of Object.entries(value)) {
        const p = [...path, k];
        if (!((typeof inner === "number" && Number.isInteger(inner)) || typeof inner === "boolean")) {
          errs.push({ message: "expected int", path: p, errorType: "dictionary value" });
        }
      }
      return errs;
    }
  }
}

/** Validate `data` against a dict schema the way vol.Schema({...}) with extra=PREVENT_EXTRA does. */
export function validateMapping(data: unknown, schema: MappingSchema): VolError[] {
  if (!isPlainObject(data)) return [{ message: "expected a dictionary", path: [] }];
  const errors: VolError[] = [];
  const all: Record<string, Validator> = { ...schema.required, ...(schema.optional ?? {}) };
  for (const [key, value] of Object.entries(data)) {
    const v = all[key];
    if (v === undefined) {
      errors.push({ message: "extra keys not allowed", path: [key] });
      continue;
    }
    for (const e of checkValue(v, value, [key])) {
      // validate_mapping: errors at the key's own depth get error_type 'dictionary value'
      if (e.path.length <= 1) e.errorType = "dictionary value";
      errors.push(e);
    }
  }
  for (const key of Object.keys(schema.required)) {
    if (!(key in data)) errors.push({ message: "required key not provided", path: [key] });
  }
  if (schema.exclusiveGroup) {
    const present = schema.exclusiveGroup.keys.filter((k) => k in data);
    if (present.length > 1) {
      // voluptuous: ExclusiveInvalid(msg, path + [exclusive]); the key repr is the
      // marker's repr, which is the key name in quotes.
      errors.push({
        message: `two or more values in the same group of exclusion '${schema.exclusiveGroup.name}'`,
        path: [present[present.length - 1] as string],
      });
    }
  }
  return errors;
}

/** Python repr() of a JSON value. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const s = String(v);
    return s.includes("e") ? s.replace(/e([+-])(\d)$/, "e$10$2") : s;
  }
  if (typeof v === "string") return pyStrRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, val]) => `${pyStrRepr(k)}: ${pyRepr(val)}`)
      .join(", ")}}`;
  }
  return String(v);
}

function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + quote;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp >= 0x80 && cp < 0xa0) out += "\\x" + cp.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}

function nestedGet(data: unknown, path: Array<string | number>): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return null;
    const next = (cur as Record<string | number, unknown>)[p];
    if (next === undefined) return null;
    cur = next;
  }
  return cur;
}

function errorToString(e: VolError): string {
  const path = e.path.length ? ` @ data[${e.path.map(pyRepr).join("][")}]` : "";
  return e.message + (e.errorType ? ` for ${e.errorType}` : "") + path;
}

/** voluptuous.humanize.humanize_error for a MultipleInvalid made of `errors`. */
export function humanizeError(data: unknown, errors: VolError[]): string {
  return errors
    .map((e) => {
      let got = pyRepr(nestedGet(data, e.path));
      if (got.length > MAX_VALIDATION_ERROR_ITEM_LENGTH) {
        got = got.slice(0, MAX_VALIDATION_ERROR_ITEM_LENGTH - 3) + "...";
      }
      return `${errorToString(e)}. Got ${got}`;
    })
    .sort()
    .join("\n");
}
