// A small JSON Schema checker for the subset tool schemas use: type, required, properties,
// additionalProperties: false, enum, items, minimum/maximum, minLength/maxLength. It runs in
// the browser before edited arguments are sent; the server checks them again.

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value; // string, boolean, object
}

function fits(value, type) {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

function name(path) {
  return path || "arguments";
}

// The problems of `value` against `schema`, each a sentence naming the field; [] when it fits.
export function validate(value, schema, path = "") {
  if (!schema || typeof schema !== "object") return [];
  const problems = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => fits(value, type))) {
      return [`${name(path)}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => same(option, value))) {
    const options = schema.enum.map((option) => JSON.stringify(option)).join(", ");
    problems.push(`${name(path)}: must be one of ${options}`);
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`${name(path)}: at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push(`${name(path)}: at most ${schema.maxLength} characters`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${name(path)}: must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${name(path)}: must be at most ${schema.maximum}`);
  }
  if (typeOf(value) === "object") {
    const properties = schema.properties || {};
    for (const field of schema.required || []) {
      if (!(field in value)) problems.push(`${name(path)}: missing required field "${field}"`);
    }
    for (const [field, item] of Object.entries(value)) {
      const where = path ? `${path}.${field}` : field;
      if (field in properties) problems.push(...validate(item, properties[field], where));
      else if (schema.additionalProperties === false)
        problems.push(`${where}: not a field of this tool`);
      else if (typeof schema.additionalProperties === "object")
        problems.push(...validate(item, schema.additionalProperties, where));
    }
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object") {
    value.forEach((item, index) => problems.push(...validate(item, schema.items, `${name(path)}[${index}]`)));
  }
  return problems;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// `text` parsed as a JSON object, or {error} saying why it is not one.
export function parseArguments(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `Not valid JSON: ${error.message}` };
  }
  if (typeOf(value) !== "object") return { error: `The arguments must be a JSON object, not ${typeOf(value)}` };
  return { value };
}

// Canonical text of a JSON value (keys sorted), to tell whether an edit changed anything.
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
