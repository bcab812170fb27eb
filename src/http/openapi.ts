// The OpenAPI 3.1 description of every endpoint, served at /openapi.json. Response and request
// schemas are generated from the zod schemas the code uses (src/http/schemas.ts, the job request
// schema, the /jobs query schema), so nothing is written twice; test/integration/openapi.test.ts
// checks real responses against this document and that every registered route appears in it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { jobRequestSchema } from '../jobs/jobPlan.ts';
import { listQuerySchema } from './routes/jobs.ts';
import { apiSchemas } from './schemas.ts';
import { MAX_WAIT_SECONDS } from './statusWait.ts';

type Json = Record<string, unknown>;
type Method = 'get' | 'post' | 'delete';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: string, description: string, headers?: Json): Json => ({
  description, content: { 'application/json': { schema: ref(schema) } }, ...(headers ? { headers } : {}),
});
const binary = (mediaType: string, description: string, headers?: Json): Json => ({
  description, content: { [mediaType]: { schema: { type: 'string', contentMediaType: mediaType } } }, ...(headers ? { headers } : {}),
});
const error = (description: string): Json => json('Error', description);
const header = (description: string, schema: Json = { type: 'string' }, required = false): Json => ({ description, schema, ...(required ? { required } : {}) });
const alwaysSent = (description: string, schema?: Json) => header(description, schema, true);

const pathParams: Record<string, Json> = {
  uuid: { name: 'uuid', in: 'path', required: true, description: 'a file id (32 hex digits), as /upload returned it', schema: { type: 'string' } },
  id: { name: 'id', in: 'path', required: true, description: 'a job id (UUID), as POST /job returned it', schema: { type: 'string' } },
  name: { name: 'name', in: 'path', required: true, description: 'an app name or alias (caesar, sfinder)', schema: { type: 'string' } },
};

interface Operation {
  method: Method;
  path: string;
  summary: string;
  tag: 'files' | 'apps' | 'jobs' | 'results' | 'operations';
  responses: Record<string, Json>;
  description?: string;
  requestBody?: Json;
  parameters?: Json[];
  /** Not under the API prefix. */
  root?: boolean;
}

const notFound = error('no such file or job (or not the caller\'s)');
const pending = json('JobMessage', 'the job, or the collection of its output, is not finished yet: try again later');
const disposition = { 'Content-Disposition': alwaysSent('attachment; filename="<original name>"') };
const statusTag = (description: string) => ({ ETag: alwaysSent(description) });

function operations(): Operation[] {
  const download = (method: Method, path: string): Operation => ({
    method, path, tag: 'files', summary: 'Download a file under its original name; a single `Range: bytes=a-b` is honoured',
    parameters: [{ name: 'Range', in: 'header', required: false, schema: { type: 'string', examples: ['bytes=0-2879'] } }],
    responses: {
      200: binary('application/fits', 'the whole file', { ...disposition, 'Content-Length': header('bytes', { type: 'integer' }), 'Accept-Ranges': header('bytes') }),
      206: binary('application/fits', 'the requested range', { ...disposition, 'Content-Range': alwaysSent('bytes a-b/size') }),
      404: notFound,
      416: { ...error('the range starts beyond the end of the file'), headers: { 'Content-Range': alwaysSent('bytes */size') } },
    },
  });
  const remove = (method: Method, path: string): Operation => ({
    method, path, tag: 'files', summary: 'Delete a file',
    responses: { 200: json('StatusMessage', 'deleted'), 404: notFound, 409: error('an unfinished job uses the file') },
  });
  const cancel = (method: Method, path: string): Operation => ({
    method, path, tag: 'jobs', summary: 'Cancel a job (idempotent: a finished job answers 200 and says so)',
    responses: { 200: json('JobMessage', 'the state after the cancel request, and what happened'), 404: notFound },
  });
  const result = (path: string, summary: string, ok: Json): Operation => ({
    method: 'get', path: `/job/{id}/${path}`, tag: 'results', summary,
    responses: { 200: ok, 202: pending, 404: error('unknown job, or this run did not produce that output') },
  });
  const openapi = (path: string, root: boolean): Operation => ({
    method: 'get', path, root, tag: 'operations', summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'the OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });

  return [
    {
      method: 'post', path: '/upload', tag: 'files', summary: 'Upload a FITS image (multipart, streamed to disk)',
      description: 'The file is recognised by its content, not its name. Over the gateway\'s maxUploadBytes the answer is 413 and nothing is kept.',
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object', required: ['file'],
              properties: {
                file: { type: 'string', contentMediaType: 'application/fits', description: 'the FITS image' },
                tag: { type: 'string', description: 'a label of the caller\'s choice' },
              },
            },
          },
        },
      },
      responses: {
        200: json('Upload', 'stored'), 400: error('no `file` field, or an unreadable body'),
        413: error('larger than the gateway accepts, or over the caller\'s storage quota'), 415: error('not multipart/form-data, or the file is not FITS'),
      },
    },
    download('get', '/download/{uuid}'), download('post', '/download/{uuid}'),
    download('get', '/download-id/{uuid}'), download('post', '/download-id/{uuid}'),
    { method: 'get', path: '/fileids', tag: 'files', summary: 'The caller\'s files', responses: { 200: json('FileList', 'the files') } },
    remove('get', '/delete/{uuid}'), remove('post', '/delete/{uuid}'), remove('delete', '/file/{uuid}'),
    { method: 'get', path: '/apps', tag: 'apps', summary: 'The registered apps', responses: { 200: json('AppList', 'app names') } },
    {
      method: 'get', path: '/app/{name}/describe', tag: 'apps', summary: 'Every option of an app: type, default, range or allowed values, category, description',
      responses: { 200: json('AppDescription', 'options by name'), 400: error('unknown app') },
    },
    {
      method: 'post', path: '/job', tag: 'jobs', summary: 'Submit a job',
      description: 'Every option in job_inputs is validated (kind, range, enum label, flags as booleans; unknown options refused); the job is persisted, then submitted to Slurm in the background — also while the cluster is unreachable.',
      parameters: [{
        name: 'Idempotency-Key', in: 'header', required: false,
        description: 'Makes retries safe: the same key with the same request answers with the first job; with another request, 422',
        schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
      }, {
        name: 'Prefer', in: 'header', required: false,
        description: `RFC 7240. With wait=<seconds> (at most ${MAX_WAIT_SECONDS}; more counts as ${MAX_WAIT_SECONDS}) the answer is held until the job has its Slurm id (pid) or has ended, or the wait is over; a malformed preference is ignored`,
        schema: { type: 'string', example: 'wait=10' },
      }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('JobRequest') } } },
      responses: {
        202: json('JobAccepted', 'accepted (or, with a reused Idempotency-Key, the job it created)', {
          'Idempotent-Replayed': header('"true" when the answer is the job an earlier request with this Idempotency-Key created'),
          'Preference-Applied': header('wait=<seconds> when a Prefer: wait was honoured'),
          ...statusTag('the tag of the job\'s status as answered (GET /job/{id}/status): send it as If-None-Match with ?wait= to wait for the next change'),
        }),
        400: error('invalid request: every offending option is named in error.details'),
        415: error('the body is not application/json'),
        422: error('the Idempotency-Key was already used for a different request'),
        429: error('over the caller\'s active-job or submission-rate limit; see the Retry-After header'),
      },
    },
    {
      method: 'get', path: '/jobs', tag: 'jobs', summary: 'The caller\'s jobs, newest first, with filters and keyset paging',
      parameters: queryParameters(listQuerySchema),
      responses: {
        200: json('JobList', 'one page', {
          'X-Next-Cursor': header('present when the page is full: pass it as `after` for the next page'),
          Link: header('<…?after=…>; rel="next", when there is a next page'),
        }),
        400: error('a bad filter, limit or cursor'),
      },
    },
    { method: 'get', path: '/accounting', tag: 'jobs', summary: 'The caller\'s usage', responses: { 200: json('Accounting', 'usage') } },
    { method: 'get', path: '/appstats', tag: 'jobs', summary: 'Service-wide figures per app', responses: { 200: json('AppStats', 'figures') } },
    {
      method: 'get', path: '/job/{id}/status', tag: 'jobs', summary: 'A job\'s state, exit code, elapsed time and Slurm view; optionally, wait for it to change',
      description: 'Every answer carries the status\'s ETag; with If-None-Match naming it, the answer is 304 without a body. '
        + 'With `wait`, the request is held until the status changes: with If-None-Match, until it is no longer that tag '
        + '(at once if it already is not), answered 200 with the new status, or 304 when the wait ends unchanged; without '
        + 'If-None-Match, until it differs from the status when the request arrived, answered 200 with the status as it is '
        + 'then (changed or not). Gateway shutdown ends waits early, as does a very large number of simultaneous waits.',
      parameters: [
        {
          name: 'wait', in: 'query', required: false,
          description: `seconds to wait for a change: greater than 0, at most ${MAX_WAIT_SECONDS}, decimals allowed; anything else is refused with 400`,
          schema: { type: 'string', pattern: '^\\d+(\\.\\d+)?$', examples: ['30', '2.5'] },
        },
        {
          name: 'If-None-Match', in: 'header', required: false,
          description: 'the ETag of the status the client has (from this endpoint or POST /job); a list or W/ tags are accepted',
          schema: { type: 'string' },
        },
      ],
      responses: {
        200: json('JobStatus', 'the job and its history', statusTag('the tag of this status')),
        304: { description: 'the status is still the one If-None-Match names (at once, or when the wait ended)', headers: statusTag('the tag of the current status') },
        400: error(`a \`wait\` that is not a number of seconds greater than 0 and at most ${MAX_WAIT_SECONDS}`),
        404: notFound,
      },
    },
    {
      method: 'get', path: '/job/{id}/output', tag: 'jobs', summary: 'The job directory as job_<id>.tar.gz, once the job is final',
      responses: {
        200: binary('application/gzip', 'the collected job directory', { ...disposition, 'Content-Length': header('bytes', { type: 'integer' }) }),
        202: pending, 404: error('unknown job, or no output (never ran, or collecting it failed)'),
      },
    },
    cancel('get', '/job/{id}/cancel'), cancel('post', '/job/{id}/cancel'), cancel('delete', '/job/{id}'),
    result('sources', 'The source catalogue (JSON)', json('Catalogue', 'the catalogue')),
    result('source-components', 'The fitted-component catalogue (JSON)', json('Catalogue', 'the catalogue')),
    result('output-sources', 'The source catalogue as sfinder\'s text file', binary('text/plain', 'catalog-<base>.dat', disposition)),
    result('output-components', 'The component catalogue as sfinder\'s text file', binary('text/plain', 'catalog_fitcomp-<base>.dat', disposition)),
    result('output-plot', 'The summary plot', binary('image/png', 'PNG')),
    result('preview', 'The summary plot, base64 in JSON', json('Preview', 'the plot')),
    { method: 'get', path: '/healthz', root: true, tag: 'operations', summary: 'Liveness: 200 while the process runs', responses: { 200: json('Health', 'alive') } },
    {
      method: 'get', path: '/readyz', root: true, tag: 'operations', summary: 'Readiness: the database answers and every cluster\'s SSH is reachable',
      responses: { 200: json('Readiness', 'ready'), 503: json('Readiness', 'a dependency failed: see checks') },
    },
    {
      method: 'get', path: '/metrics', root: true, tag: 'operations', summary: 'Prometheus metrics (text exposition format)',
      responses: { 200: binary('text/plain', 'caesar_* metrics and process metrics') },
    },
    openapi('/openapi.json', true), openapi('/openapi.json', false),
  ];
}

/** One query parameter per property of a zod object (as the route parses the query). */
function queryParameters(schema: z.ZodObject): Json[] {
  const generated = z.toJSONSchema(schema, { io: 'input' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(generated.properties ?? {}).map(([name, property]) => ({
    name, in: 'query', required: generated.required?.includes(name) ?? false, schema: property,
  }));
}

function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(apiSchemas, { uri: (id) => `#/components/schemas/${id}`, metadata: apiSchemas }) as { schemas: Record<string, Json> };
  const out: Record<string, Json> = {};
  // Component schemas live inside the document: no $schema or fragment $id of their own.
  const embedded = (schema: Json): Json => Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema' && k !== '$id'));
  for (const [id, schema] of Object.entries(schemas)) out[id] = embedded(schema);
  // The request body: the schema POST /job parses with (input side: unknown keys are ignored).
  out.JobRequest = {
    ...embedded(z.toJSONSchema(jobRequestSchema, { io: 'input' })),
    description: '`job_inputs` holds the app\'s options (see /app/{name}/describe); `data_inputs` or job_inputs.inputfile names the input upload; `cluster` defaults to the configured default cluster',
  };
  return out;
}

function gatewayVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

let cached: { prefix: string; document: Json } | undefined;

/** The document, built once per prefix. */
export function openApiDocument(prefix: string): Json {
  if (cached?.prefix === prefix) return cached.document;
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations()) {
    const fullPath = op.root ? op.path : `${prefix}${op.path}`;
    const params = [...(op.path.match(/\{(\w+)\}/g) ?? [])].map((p) => pathParams[p.slice(1, -1)]!);
    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      responses[status] = { ...response, headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' }, ...(response.headers as Json | undefined) } };
    }
    if (!op.root) {
      responses['401'] = { $ref: '#/components/responses/Unauthorized' };
      responses['500'] = { $ref: '#/components/responses/Internal' };
    }
    (paths[fullPath] ??= {})[op.method] = {
      operationId: operationId(op.method, fullPath),
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      parameters: [...params, ...(op.parameters ?? []), { $ref: '#/components/parameters/RequestId' }],
      ...(op.requestBody ? { requestBody: op.requestBody } : {}),
      // A bearer token when the gateway runs with auth.mode "tokens"; none in anonymous mode.
      ...(op.root ? { security: [] } : {}),
      responses,
    };
  }
  const document: Json = {
    openapi: '3.1.0',
    info: {
      title: 'caesar-gateway',
      version: gatewayVersion(),
      summary: 'Runs the CAESAR source finder (sfinder) on Slurm clusters; caesar-rest v1.0 compatible',
      license: { name: 'GPL-3.0-or-later', identifier: 'GPL-3.0-or-later' },
    },
    tags: [
      { name: 'files', description: 'Uploads and downloads' }, { name: 'apps', description: 'The app registry' },
      { name: 'jobs', description: 'Submitting and following jobs' }, { name: 'results', description: 'Outputs of a finished job' },
      { name: 'operations', description: 'Health, readiness, metrics, this document' },
    ],
    security: [{ bearer: [] }, {}],
    paths,
    components: {
      schemas: componentSchemas(),
      parameters: {
        RequestId: {
          name: 'X-Request-Id', in: 'header', required: false,
          description: 'Correlates the request with the gateway\'s logs; up to 128 of A-Z a-z 0-9 . _ - (anything else is replaced by a new id)',
          schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
        },
      },
      headers: {
        RequestId: { description: 'The request\'s id: the caller\'s X-Request-Id, or one the gateway made', required: true, schema: { type: 'string' } },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from `npm run admin -- token create` (auth.mode "tokens")' },
      },
      responses: {
        Unauthorized: {
          ...error('no valid bearer token (only when the gateway runs with auth.mode "tokens")'),
          headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' }, 'WWW-Authenticate': header('Bearer realm="caesar-gateway"') },
        },
        Internal: { ...error('an internal error; the details are in the gateway\'s log under the X-Request-Id'), headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } } },
      },
    },
  };
  cached = { prefix, document };
  return document;
}

function operationId(method: Method, path: string): string {
  const words = path.split(/[/{}.-]+/).filter(Boolean).map((w) => w.replace(/^v1$/, 'V1').replace(/^\d+$/, ''));
  return [method, ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}
