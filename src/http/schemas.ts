// What the API answers, as zod schemas: the single source of the OpenAPI document's response
// schemas (src/http/openapi.ts turns them into JSON Schema) and of the types some routes shape
// their bodies with. test/integration/openapi.test.ts checks real responses against them.
import { z } from 'zod';
import { JOB_STATES } from '../jobs/states.ts';

/** Every named schema, by component name; openapi.ts emits them under #/components/schemas. */
export const apiSchemas = z.registry<{ id?: string; description?: string }>();

function named<T extends z.ZodType>(id: string, description: string, schema: T): T {
  apiSchemas.add(schema, { id, description });
  return schema;
}

/** A described copy of a schema (descriptions live in apiSchemas, not zod's global registry). */
function desc<T extends z.ZodType>(schema: T, description: string): T {
  const copy = schema.clone();
  apiSchemas.add(copy, { description });
  return copy;
}

const nullableString = z.string().nullable();
const timestamp = desc(z.string(), 'ISO 8601 date-time');

export const ErrorBody = named('Error', 'Every 4xx/5xx answer: `status` is the message caesar-rest clients read; `error` is the same, structured', z.object({
  status: z.string(),
  error: z.object({
    code: desc(z.string(), 'machine-readable: bad_request, invalid_request, invalid_job_request, not_found, in_use, too_large, unsupported_media_type, range_not_satisfiable, method_not_allowed, internal, …'),
    message: z.string(),
    details: desc(z.unknown().optional(), 'per-field or per-option problems, when there are several'),
  }),
}));

export const StatusMessage = named('StatusMessage', 'A plain confirmation', z.object({ status: z.string() }));

export const Upload = named('Upload', 'The stored upload (caesar-rest fields)', z.object({
  uuid: desc(z.string().regex(/^[0-9a-f]{32}$/), 'the file id used by every other endpoint'),
  filename_orig: z.string(),
  format: z.string(),
  size: desc(z.number(), 'size in MB (10^6 bytes)'),
  date: timestamp,
  tag: nullableString,
  path: desc(z.string(), 'where the gateway stored it; accepted as job input like the uuid'),
  status: z.string(),
}));

export const FileInfo = named('FileInfo', 'One of the caller\'s files', z.object({
  fileid: z.string().regex(/^[0-9a-f]{32}$/),
  filename_orig: z.string(),
  fileext: z.string(),
  filesize: desc(z.number(), 'size in MB (10^6 bytes)'),
  filedate: timestamp,
  tag: nullableString,
}));

export const FileList = named('FileList', 'The caller\'s files', z.array(FileInfo));

export const AppList = named('AppList', 'Registered apps', z.object({ apps: z.array(z.string()) }));

const describedBase = {
  mandatory: z.literal(false),
  description: z.string(),
  advanced: z.union([z.literal(0), z.literal(1)]),
  category: z.string(),
  subcategory: z.string(),
};

export const OptionDescription = named('OptionDescription', 'One option: flags are type "none", enums type "str" with allowed_values', z.union([
  z.object({ ...describedBase, type: z.literal('none'), enum: z.literal(false), default: z.literal(false) }),
  z.object({
    ...describedBase, type: z.enum(['int', 'float']), enum: z.literal(false), default: z.number(),
    min: desc(z.number().nullable(), 'null: unbounded'), max: desc(z.number().nullable(), 'null: unbounded'),
  }),
  z.object({ ...describedBase, type: z.literal('str'), enum: z.literal(true), default: z.string(), allowed_values: z.array(z.string()) }),
]));

export const AppDescription = named('AppDescription', 'Every option of the app, by name, in table order', z.record(z.string(), OptionDescription));

const jobState = z.enum(JOB_STATES);

export const JobAccepted = named('JobAccepted', 'The job as accepted: persisted, submitted to Slurm by the background submitter', z.object({
  job_id: z.uuid(),
  app: z.string(),
  job_inputs: z.record(z.string(), z.unknown()),
  data_inputs: desc(z.string(), 'the input file\'s uuid'),
  tag: nullableString,
  state: jobState,
  status: z.string(),
  submit_date: timestamp,
  pid: desc(nullableString, 'the Slurm job id once the job has one: usually null, unless the request sent Prefer: wait=<s>'),
}));

export const Job = named('Job', 'A job as clients see it: both caesar-rest generations\' fields plus the raw Slurm view', z.object({
  job_id: z.uuid(),
  app: z.string(),
  cluster: z.string(),
  state: jobState,
  status: z.string(),
  exit_status: z.int().nullable(),
  exit_code: z.int().nullable(),
  elapsed_time: desc(z.number().nullable(), 'seconds'),
  pid: desc(nullableString, 'the Slurm job id'),
  tag: nullableString,
  job_inputs: z.record(z.string(), z.unknown()),
  data_inputs: z.string(),
  submit_date: timestamp,
  end_date: nullableString,
  output_available: z.boolean(),
  slurm: z.object({
    job_id: nullableString,
    state: nullableString,
    reason: nullableString,
    exit_code: desc(nullableString, 'Slurm\'s "status:signal"'),
    node_list: nullableString,
    partition: nullableString,
    submit: nullableString,
    start: nullableString,
    end: nullableString,
  }),
}));
export type JobView = z.output<typeof Job>;

export const JobStatus = named('JobStatus', 'A job with its state history (oldest first)', Job.extend({
  history: z.array(z.object({
    at: timestamp,
    from: jobState.nullable(),
    to: jobState,
    reason: z.string(),
  })),
}));

export const JobList = named('JobList', 'Newest first; X-Next-Cursor names the next page when this one is full', z.array(Job));

export const JobMessage = named('JobMessage', 'A job\'s state with a message: not finished yet (202), or the outcome of a cancel', z.object({
  job_id: z.uuid(),
  state: jobState,
  status: z.string(),
}));

const countsByState = z.record(z.string(), z.int());

export const Accounting = named('Accounting', 'The caller\'s usage', z.object({
  user: z.string(),
  jobs: z.int(),
  jobs_by_state: countsByState,
  runtime_seconds: z.number(),
  completed_runtime_seconds: z.number(),
  files: z.int(),
  bytes_uploaded: z.number(),
  bytes_outputs: z.number(),
  bytes_stored: z.number(),
}));

export const AppStats = named('AppStats', 'Service-wide figures per app', z.object({
  apps: z.record(z.string(), z.object({ jobs: z.int(), jobs_by_state: countsByState, runtime_seconds: z.number() })),
  users: z.int(),
}));

export const Catalogue = named('Catalogue', 'The JSON catalogue sfinder wrote, passed through unchanged', z.record(z.string(), z.unknown()));

export const Preview = named('Preview', 'The job\'s summary plot', z.object({
  status: z.string(),
  image: desc(z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/), 'PNG, base64'),
}));

export const Health = named('Health', 'The process is alive', z.object({ status: z.literal('ok') }));

export const ReadinessCheck = named('ReadinessCheck', 'One dependency\'s answer', z.object({
  ok: z.boolean(),
  ms: desc(z.number(), 'how long the check took'),
  error: z.string().optional(),
}));
export type ReadinessCheck = z.output<typeof ReadinessCheck>;

export const Readiness = named('Readiness', 'The database and every cluster\'s SSH', z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.object({ database: ReadinessCheck, clusters: z.record(z.string(), ReadinessCheck) }),
}));
export type Readiness = z.output<typeof Readiness>;
