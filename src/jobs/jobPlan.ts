// Turns a job request into everything needed to submit it — validated options, resources, the
// CAESAR config file and the sbatch script — or into the complete list of what is wrong with it.
// Pure apart from looking up the caller's input file, so nothing is persisted for a bad request.
import { z } from 'zod';
import type { AppDescriptor, OptionError, OptionValue } from '../apps/types.ts';
import type { AppRegistry } from '../apps/registry.ts';
import { renderAppConfig } from '../apps/renderConfig.ts';
import { validateAppOptions } from '../apps/validateOptions.ts';
import type { ClusterConfig } from '../config.ts';
import type { ClusterAccess } from '../users/clusterAccess.ts';
import type { FileRow } from '../db/rows.ts';
import type { StagedInput } from '../files/fileRepository.ts';
import { renderTemplate } from '../sbatch/renderTemplate.ts';
import { configInputFile, inputNameFor, usableStagedCopy } from './inputNames.ts';
import { RUN_CONTROL_KEYS, resolveResources, type Resources } from './runOptions.ts';

export const jobRequestSchema = z.object({
  app: z.string({ error: "'app' is required: the application to run, e.g. \"caesar\"" }),
  job_inputs: z.record(z.string(), z.unknown(), { error: "'job_inputs' is required: an object of option → value (may be {})" }),
  data_inputs: z.string().optional(),
  tag: z.string().max(128).regex(/^[^\p{Cc}]*$/u, 'tag must not contain control characters').optional(),
  cluster: z.string().optional(),
});
export type JobRequest = z.infer<typeof jobRequestSchema>;

export interface JobPlan {
  app: AppDescriptor;
  cluster: ClusterConfig;
  file: FileRow;
  /** Where `file` already is on the cluster, usable by this job (undefined: the submitter stages it first). */
  stagedPath: string | undefined;
  values: Map<string, OptionValue>;
  resources: Resources;
  /** The input's name as CAESAR sees it; `base` names every CAESAR output. */
  inputName: string;
  /** The staged copy has another name (see inputNames.ts): the job directory links it as `inputName`. */
  inputLinked: boolean;
  base: string;
  appConfig: string;
  configFileName: string;
}

export class JobRequestError extends Error {
  constructor(readonly errors: OptionError[], message?: string) {
    super(message ?? errors.map((e) => e.message).join('; '));
  }
}

export interface PlanContext {
  apps: AppRegistry;
  /** Names clients may ask for, for the error message. */
  clusterNames: string[];
  /** The connection target and the user's Slurm defaults for a requested (or the default) cluster. */
  resolveCluster(requested: string | undefined): ClusterAccess | undefined;
  /** Finds one of the caller's own files by uuid or by the `path` upload returned, with where
   *  it is staged on the cluster. */
  findInput(reference: string, cluster: string): Promise<StagedInput | undefined>;
}

export async function planJob(request: JobRequest, context: PlanContext): Promise<JobPlan> {
  const app = context.apps.get(request.app);
  if (!app) throw new JobRequestError([{ option: 'app', message: `Unknown app ${request.app}! Known apps: ${context.apps.names().join(', ')}` }]);
  const resolved = context.resolveCluster(request.cluster);
  if (!resolved) {
    throw new JobRequestError([{ option: 'cluster', message: `unknown cluster '${request.cluster}'; use one of ${context.clusterNames.join(', ')}` }]);
  }
  const { cluster, access } = resolved;

  const errors: OptionError[] = [];
  const runControl: Record<string, unknown> = {};
  const appInputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request.job_inputs)) {
    if ((RUN_CONTROL_KEYS as readonly string[]).includes(key)) runControl[key] = value;
    else appInputs[key] = value;
  }
  const input = await resolveInput(request, runControl.inputfile, cluster.name, context, errors);
  const file = input?.file;
  const validated = validateAppOptions(appInputs, app.options, app.name);
  const values = validated.ok ? validated.values : new Map<string, OptionValue>();
  if (!validated.ok) errors.push(...validated.errors);
  const resources = resolveResources(runControl, values, cluster, errors, access);
  if (errors.length > 0 || !file || !resources) throw new JobRequestError(errors);

  const { inputName, base } = inputNameFor(file);
  const stagedPath = usableStagedCopy(input?.stagedPath, cluster.remoteRoot);
  const { inputFile, linked: inputLinked } = configInputFile(file, stagedPath);
  const appConfig = renderAppConfig(app, values, { inputFile, base });
  const configFileName = (app.outputs.config ?? 'config_{base}.cfg').replaceAll('{base}', base);
  return { app, cluster, file, stagedPath, values, resources, inputName, inputLinked, base, appConfig, configFileName };
}

async function resolveInput(
  request: JobRequest, inputfile: unknown, cluster: string, context: PlanContext, errors: OptionError[],
): Promise<StagedInput | undefined> {
  const reference = request.data_inputs ?? inputfile;
  if (reference === undefined || reference === '') {
    errors.push({ option: 'data_inputs', message: "no input image: pass the uuid returned by POST /upload as 'data_inputs' (or as job_inputs.inputfile)" });
    return undefined;
  }
  if (typeof reference !== 'string') {
    errors.push({ option: 'inputfile', message: `option 'inputfile': expected the uuid or path returned by POST /upload, got ${JSON.stringify(reference)}` });
    return undefined;
  }
  const found = await context.findInput(reference, cluster);
  if (!found) {
    const option = request.data_inputs !== undefined ? 'data_inputs' : 'inputfile';
    errors.push({ option, message: `input file ${JSON.stringify(reference)} is not one of your uploads; upload it with POST /upload and pass the uuid it returns` });
  }
  return found;
}

export interface ScriptContext {
  jobId: string;
  executable: string;
}

export function renderJobScript(template: string, plan: JobPlan, context: ScriptContext): string {
  const { resources } = plan;
  const logRedirect = plan.values.get('no-logredir') !== true;
  return renderTemplate(template, {
    gatewayJobId: context.jobId,
    partition: resources.partition,
    timeLimitMinutes: resources.timeLimitMinutes,
    nodes: resources.nodes,
    tasksPerNode: resources.tasksPerNode,
    cpusPerTask: resources.cpusPerTask,
    memoryMB: resources.memoryMB,
    account: resources.account,
    qos: resources.qos,
    envfile: resources.envfile,
    mpi: resources.mpi,
    executable: context.executable,
    configFile: plan.configFileName,
    logFile: logRedirect ? (plan.app.outputs.log ?? 'output_{base}.log').replaceAll('{base}', plan.base) : undefined,
  });
}
