// /job, /job/<id>/status, /job/<id>/output, /job/<id>/cancel.
import { withoutPaths } from '../../jobs/clientMessage.ts';
import { fileBody } from '../fileBody.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { JobRow } from '../../db/rows.ts';
import { jobRequestSchema } from '../../jobs/jobPlan.ts';
import type { JobRepository } from '../../jobs/jobRepository.ts';
import type { JobStatusSnapshot } from '../../jobs/jobStatusCache.ts';
import type { JobService } from '../../jobs/jobService.ts';
import { isFinal, JOB_STATES } from '../../jobs/states.ts';
import { decodeCursor, encodeCursor, type JobQueries } from '../../jobs/jobQueries.ts';
import { z } from 'zod';
import { HttpError, badRequest, notFound } from '../httpError.ts';
import { jobView } from '../jobView.ts';
import { ownerOf, scopeOf } from '../owner.ts';
import { routeParam } from '../params.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import { etagOf, ifNoneMatchHas } from '../etag.ts';
import { recordDeliberateWait } from '../requestContext.ts';
import { preferredWaitSeconds } from '../prefer.ts';
import { waitForChange, waitMilliseconds, type StatusWaits, type WaitFor } from '../statusWait.ts';

export interface JobRoutesDeps {
  jobs: JobRepository;
  jobService: JobService;
  jobQueries: JobQueries;
  statusWaits: StatusWaits;
  metrics?: GatewayMetrics;
}

/** A job id as the routes accept it (a UUID); app.ts's fast status route matches the same. */
export const JOB_ID_PATTERN = '[0-9a-f-]{36}';
const JOB_ID = new RegExp(`^${JOB_ID_PATTERN}$`);

export type OwnedJobLookup = (ctx: Context) => Promise<JobRow>;

export const listQuerySchema = z.object({
  state: z.enum(JOB_STATES).optional(),
  tag: z.string().max(128).optional(),
  app: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().max(200).optional(),
});

export function jobRoutes(deps: JobRoutesDeps): Router {
  const router = new Router();

  router.post('/job', async (ctx) => {
    if (!ctx.is('application/json')) {
      throw new HttpError(415, 'unsupported_media_type', 'Send the job request as JSON (Content-Type: application/json)');
    }
    const body = ctx.request.body;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw badRequest('The request body must be a JSON object with "app" and "job_inputs"');
    }
    const request = jobRequestSchema.parse(body);
    const key = ctx.get('idempotency-key') || undefined;
    if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)');
    }
    const owner = ownerOf(ctx);
    const { replayed, status: accepted } = await deps.jobService.submit(owner, request, key);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    const waitSeconds = preferredWaitSeconds(ctx.get('prefer'));
    let status = accepted;
    if (waitSeconds !== undefined) {
      // Prefer: wait=<s>: answer once the job has its Slurm id (or ended, e.g. rejected by Slurm).
      ctx.set('Preference-Applied', `wait=${waitSeconds}`);
      status = await waitInRequest(ctx, deps.statusWaits, {
        id: accepted.job.id, initial: accepted, initialIsCurrent: !replayed, timeoutMs: waitSeconds * 1000,
        changed: (s) => s.job.slurm_job_id !== null || isFinal(s.job.state),
        read: () => deps.jobs.statusOf(owner, accepted.job.id),
      }) ?? accepted;
    }
    const { job } = status;
    // The status's tag, so that the client can wait (?wait=) for the job's next change.
    ctx.set('ETag', renderedStatus(status).etag);
    ctx.status = 202;
    ctx.body = {
      job_id: job.id, app: job.app, job_inputs: JSON.parse(job.job_inputs) as unknown, data_inputs: job.file_id, tag: job.tag,
      state: job.state, status: job.status, submit_date: job.created_at, pid: job.slurm_job_id,
    };
  });

  router.get('/jobs', async (ctx) => {
    const query = listQuerySchema.parse(ctx.query);
    const after = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && !after) throw badRequest("'after' is not a cursor returned by a previous page (X-Next-Cursor)");
    const jobs = await deps.jobQueries.list(scopeOf(ctx), { ...query, after });
    const last = jobs.at(-1);
    if (last && jobs.length === query.limit) {
      const cursor = encodeCursor(last);
      ctx.set('X-Next-Cursor', cursor);
      const next = new URLSearchParams({ ...stringEntries(ctx.query), after: cursor });
      ctx.set('Link', `<${ctx.path}?${next.toString()}>; rel="next"`);
    }
    ctx.body = jobs.map(jobView);
  });

  router.get('/accounting', async (ctx) => {
    ctx.body = await deps.jobQueries.accounting(ownerOf(ctx));
  });

  router.get('/appstats', async (ctx) => {
    ctx.body = await deps.jobQueries.appStats();
  });

  const status = jobStatusHandler(deps);
  router.get(JOB_STATUS_ROUTE, (ctx) => status(ctx, routeParam(ctx, 'id')));

  router.get('/job/:id/output', async (ctx) => {
    const job = await ownedJob(deps.jobs, ctx);
    if (!isFinal(job.state) || job.output_phase === 'pending') {
      ctx.status = 202;
      const why = isFinal(job.state) ? 'its output is being collected from the cluster' : `state ${job.state}`;
      ctx.body = { job_id: job.id, state: job.state, status: `Job ${job.id} not yet completed (${why}); try again later` };
      return;
    }
    if (job.output_phase !== 'done' || !job.output_path) {
      throw notFound(`Job ${job.id} has no output: ${job.output_phase === 'failed' ? `collecting it failed (${withoutPaths(job.last_error ?? 'unknown error')})` : 'it never ran on the cluster'}`);
    }
    ctx.attachment(`job_${job.id}.tar.gz`);
    ctx.type = 'application/gzip';
    if (job.output_bytes !== null) ctx.length = Number(job.output_bytes);
    deps.metrics?.countServed(ctx, 'output', Number(job.output_bytes ?? 0));
    ctx.body = fileBody(job.output_path);
  });

  const cancel = async (ctx: Context) => {
    const outcome = await deps.jobService.cancel(await ownedJob(deps.jobs, ctx));
    ctx.body = { job_id: outcome.job.id, state: outcome.job.state, status: outcome.message };
  };
  router.get('/job/:id/cancel', cancel);
  router.post('/job/:id/cancel', cancel);
  router.delete('/job/:id', cancel);
  return router;
}

export const JOB_STATUS_ROUTE = '/job/:id/status';

/**
 * GET /job/<id>/status: mounted by the router, and ahead of it by app.ts (see fastStatusRoute
 * there). A plain poll (no query, no If-None-Match) costs what it did before tags: one cached
 * read and two header lookups.
 */
export function jobStatusHandler(deps: Pick<JobRoutesDeps, 'jobs' | 'statusWaits'>) {
  return async (ctx: Context, id: string): Promise<void> => {
    const waitMs = ctx.querystring === '' ? undefined : waitMilliseconds(ctx.query.wait);
    const scope = scopeOf(ctx);
    // Another user's job is not found: before any waiting, and on every read while waiting.
    const found = JOB_ID.test(id) ? await deps.jobs.statusOf(scope, id) : undefined;
    if (!found) throw notFound(`Job ${id} not found`);
    const ifNoneMatch = ctx.get('if-none-match');
    let status = renderedStatus(found);
    if (waitMs !== undefined) {
      // With If-None-Match: until the status is not the client's. Without: until it is not the
      // one found now, answered with 200 either way.
      const onArrival = status.etag;
      const changed = ifNoneMatch
        ? (s: RenderedStatus) => !ifNoneMatchHas(ifNoneMatch, s.etag)
        : (s: RenderedStatus) => s.etag !== onArrival;
      if (!changed(status)) {
        const latest = await waitInRequest(ctx, deps.statusWaits, {
          id, initial: status, timeoutMs: waitMs, changed,
          read: async () => { const again = await deps.jobs.statusOf(scope, id); return again && renderedStatus(again); },
        });
        if (!latest) throw notFound(`Job ${id} not found`);
        status = latest;
      }
    }
    ctx.set('ETag', status.etag);
    if (ifNoneMatch && ifNoneMatchHas(ifNoneMatch, status.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json';
    ctx.body = status.body;
  };
}

/** waitForChange() on behalf of this request, whose log then counts the wait as asked for, not as slowness. */
async function waitInRequest<T>(ctx: Context, waits: StatusWaits, w: Omit<WaitFor<T>, 'res'>): Promise<T | undefined> {
  const started = performance.now();
  try {
    return await waitForChange(waits, { ...w, res: ctx.res });
  } finally {
    recordDeliberateWait(ctx, (performance.now() - started) / 1000);
  }
}

interface RenderedStatus {
  body: string;
  etag: string;
}

/** Status bodies and their tags by snapshot: a snapshot served from the status cache is rendered (and hashed) once. */
const renderedStatuses = new WeakMap<JobStatusSnapshot, RenderedStatus>();

function renderedStatus(snapshot: JobStatusSnapshot): RenderedStatus {
  let rendered = renderedStatuses.get(snapshot);
  if (rendered === undefined) {
    const history = snapshot.events.map((e) => ({ at: e.at, from: e.from_state, to: e.to_state, reason: e.reason }));
    const body = JSON.stringify({ ...jobView(snapshot.job), history });
    rendered = { body, etag: etagOf(body) };
    renderedStatuses.set(snapshot, rendered);
  }
  return rendered;
}

function stringEntries(query: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export async function ownedJob(jobs: JobRepository, ctx: Context): Promise<JobRow> {
  const id = routeParam(ctx, 'id');
  const job = JOB_ID.test(id) ? await jobs.findOwned(scopeOf(ctx), id) : undefined;
  if (!job) throw notFound(`Job ${id} not found`);
  return job;
}
