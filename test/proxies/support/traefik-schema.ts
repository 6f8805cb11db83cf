/**
 * Traefik is not packaged for Debian, so its generated config is checked against the
 * documented schema instead of a running Traefik. The fields below are those of Traefik's
 * routing reference (v2.11 / v3.x, doc.traefik.io: "HTTP Routers", "HTTP Services",
 * "ForwardAuth" and "Headers" middlewares, and the Docker provider's label syntax); any
 * other key, a wrong type or a missing required field is reported.
 */

export type Shape =
  | "string"
  | "boolean"
  | "number"
  | { list: Shape }
  | { map: Shape }
  | { object: Record<string, Shape>; required?: string[] }
  | "any";

const strings: Shape = { list: "string" };

const TLS_CLIENT: Shape = { object: { ca: "string", cert: "string", key: "string", insecureSkipVerify: "boolean", caOptional: "boolean" } };

/** forwardAuth options (reference: "ForwardAuth" middleware, Configuration Options). */
export const FORWARD_AUTH: Shape = {
  object: {
    address: "string",
    tls: TLS_CLIENT,
    trustForwardHeader: "boolean",
    authResponseHeaders: strings,
    authResponseHeadersRegex: "string",
    authRequestHeaders: strings,
    addAuthCookiesToResponse: strings,
    forwardBody: "boolean",
    maxBodySize: "number",
    preserveLocationHeader: "boolean",
    preserveRequestMethod: "boolean",
    headerField: "string",
  },
  required: ["address"],
};

/** The headers middleware, request/response header part (reference: "Headers" middleware). */
const HEADERS: Shape = {
  object: {
    customRequestHeaders: { map: "string" },
    customResponseHeaders: { map: "string" },
    accessControlAllowCredentials: "boolean",
    accessControlAllowHeaders: strings,
    accessControlAllowMethods: strings,
    accessControlAllowOriginList: strings,
    accessControlExposeHeaders: strings,
    accessControlMaxAge: "number",
    addVaryHeader: "boolean",
    stsSeconds: "number",
    frameDeny: "boolean",
    contentTypeNosniff: "boolean",
    browserXssFilter: "boolean",
    referrerPolicy: "string",
  },
};

const ROUTER: Shape = {
  object: {
    rule: "string",
    ruleSyntax: "string",
    entryPoints: strings,
    middlewares: strings,
    service: "string",
    priority: "number",
    tls: { object: { options: "string", certResolver: "string", domains: { list: "any" } } },
    observability: "any",
  },
  required: ["rule", "service"],
};

const SERVER: Shape = { object: { url: "string", weight: "number", preservePath: "boolean" }, required: ["url"] };
/** Docker labels describe one server by port (and scheme) instead of a list of URLs. */
const LABEL_SERVER: Shape = { object: { port: "number", scheme: "string", url: "string" } };

const SERVICE: Shape = {
  object: {
    loadBalancer: {
      object: {
        servers: { list: SERVER },
        server: LABEL_SERVER,
        passHostHeader: "boolean",
        serversTransport: "string",
        sticky: "any",
        healthCheck: "any",
        responseForwarding: "any",
      },
    },
  },
};

const MIDDLEWARE: Shape = { object: { forwardAuth: FORWARD_AUTH, headers: HEADERS } };

export const DYNAMIC_CONFIG: Shape = {
  object: {
    http: { object: { routers: { map: ROUTER }, middlewares: { map: MIDDLEWARE }, services: { map: SERVICE }, serversTransports: "any" } },
  },
  required: ["http"],
};

/** Problems of `value` against `shape`, as "path: what is wrong". */
export function validate(value: unknown, shape: Shape, path = "$"): string[] {
  if (shape === "any") return [];
  if (shape === "string" || shape === "boolean" || shape === "number") {
    return typeof value === shape ? [] : [`${path}: expected ${shape}, got ${JSON.stringify(value)}`];
  }
  if ("list" in shape) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((item, i) => validate(item, shape.list, `${path}[${i}]`));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected a mapping`];
  const entries = Object.entries(value as Record<string, unknown>);
  if ("map" in shape) return entries.flatMap(([key, item]) => validate(item, shape.map, `${path}.${key}`));
  const problems: string[] = [];
  for (const [key, item] of entries) {
    const field = shape.object[key];
    if (field === undefined) problems.push(`${path}.${key}: not a documented field`);
    else problems.push(...validate(item, field, `${path}.${key}`));
  }
  for (const key of shape.required ?? []) if (!(key in (value as object))) problems.push(`${path}.${key}: required`);
  return problems;
}

/** Field name as the schema spells it, for a label segment (labels are case-insensitive). */
function fieldName(shape: Shape, segment: string): { name: string; shape: Shape } | undefined {
  if (typeof shape !== "object") return undefined;
  if ("map" in shape) return { name: segment, shape: shape.map };
  if ("object" in shape) {
    const name = Object.keys(shape.object).find((key) => key.toLowerCase() === segment.toLowerCase());
    return name ? { name, shape: shape.object[name]! } : undefined;
  }
  return undefined;
}

/**
 * Docker labels (traefik.http.<section>.<name>.<field…>=value) turned into the dynamic
 * configuration they stand for, typed by the schema (lists are comma-separated).
 * Unknown label paths are reported.
 */
export function labelsToDynamicConfig(labels: string[]): { config: Record<string, unknown>; problems: string[] } {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const label of labels) {
    const eq = label.indexOf("=");
    if (eq < 0) {
      problems.push(`${label}: not key=value`);
      continue;
    }
    const key = label.slice(0, eq);
    const raw = label.slice(eq + 1);
    if (key === "traefik.enable") {
      if (raw !== "true" && raw !== "false") problems.push(`${key}: expected true or false`);
      continue;
    }
    const segments = key.split(".");
    if (segments[0] !== "traefik" || segments.length < 4) {
      problems.push(`${key}: not a traefik.http.* label`);
      continue;
    }
    let shape: Shape = DYNAMIC_CONFIG;
    let node: Record<string, unknown> = config;
    const rest = segments.slice(1);
    for (let i = 0; i < rest.length; i++) {
      const field = fieldName(shape, rest[i]!);
      if (!field) {
        problems.push(`${key}: "${rest[i]}" is not a documented field`);
        break;
      }
      if (i === rest.length - 1) {
        const leaf = field.shape;
        if (leaf === "boolean") node[field.name] = raw === "true" ? true : raw === "false" ? false : raw;
        else if (leaf === "number") node[field.name] = Number(raw);
        else if (typeof leaf === "object" && "list" in leaf) node[field.name] = raw.split(",");
        // "routers.x.tls=true" switches TLS on with its defaults: an empty options object.
        else if (typeof leaf === "object" && "object" in leaf && raw === "true") node[field.name] = {};
        else node[field.name] = raw;
      } else {
        node = (node[field.name] ??= {}) as Record<string, unknown>;
        shape = field.shape;
      }
    }
  }
  problems.push(...validate(config, DYNAMIC_CONFIG));
  return { config, problems };
}
