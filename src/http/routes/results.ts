// Catalogues and plots of a finished job, read from its collected output:
// 202 while the job (or its collection) is not finished, 404 when the run produced no such file.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AppRegistry } from '../../apps/registry.ts';
import type { JobRow } from '../../db/rows.ts';
import { readOutputMember } from '../../jobs/outputFiles.ts';
import { isFinal } from '../../jobs/states.ts';
import { notFound } from '../httpError.ts';
import type { OwnedJobLookup } from './jobs.ts';

type Delivery = 'json' | 'attachment' | 'png' | 'base64';

const RESULTS: Array<{ path: string; role: string; delivery: Delivery }> = [
  { path: 'sources', role: 'sources', delivery: 'json' },
  { path: 'source-components', role: 'components', delivery: 'json' },
  { path: 'output-sources', role: 'sourcesDat', delivery: 'attachment' },
  { path: 'output-components', role: 'componentsDat', delivery: 'attachment' },
  { path: 'output-plot', role: 'plot', delivery: 'png' },
  { path: 'preview', role: 'plot', delivery: 'base64' },
];

export function resultRoutes(apps: AppRegistry, ownedJob: OwnedJobLookup): Router {
  const router = new Router();
  for (const result of RESULTS) {
    router.get(`/job/:id/${result.path}`, async (ctx) => {
      const job = await ownedJob(ctx);
      if (!isFinal(job.state) || job.output_phase === 'pending') {
        ctx.status = 202;
        ctx.body = { job_id: job.id, state: job.state, status: `Job ${job.id} not yet completed; its ${result.path} are not available yet` };
        return;
      }
      const name = memberName(apps, job, result.role);
      const bytes = name && job.output_phase === 'done' && job.output_path ? await readOutputMember(job.output_path, name) : undefined;
      if (!bytes) throw notFound(`Job ${job.id} has no ${result.path} output (${name ?? result.role} was not produced by this run)`);
      deliver(ctx, result.delivery, name!, bytes);
    });
  }
  return router;
}

function memberName(apps: AppRegistry, job: JobRow, role: string): string | undefined {
  const pattern = apps.get(job.app)?.outputs[role];
  const { base } = JSON.parse(job.resources) as { base?: string };
  return pattern && base ? pattern.replaceAll('{base}', base) : undefined;
}

function deliver(ctx: Context, delivery: Delivery, name: string, bytes: Buffer): void {
  switch (delivery) {
    case 'json':
      ctx.type = 'application/json';
      ctx.body = bytes;
      break;
    case 'attachment':
      ctx.attachment(name);
      ctx.type = 'text/plain';
      ctx.body = bytes;
      break;
    case 'png':
      ctx.type = 'image/png';
      ctx.body = bytes;
      break;
    case 'base64':
      ctx.body = { status: 'Preview image of the job output', image: bytes.toString('base64') };
      break;
  }
}
