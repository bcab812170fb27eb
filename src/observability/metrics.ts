// Prometheus metrics (prom-client). One registry per gateway so several gateways in one
// process (tests) do not share counters.
import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JOB_STATES } from '../jobs/states.ts';

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'caesar_http_requests_total', help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'caesar_http_request_duration_seconds', help: 'HTTP request duration',
    labelNames: ['method', 'route'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [this.registry],
  });

  /** Label children by method/route/status: looking them up by label object on every request costs more than the counting. */
  private readonly httpChildren = new Map<string, { count: { inc(): void }; duration: { observe(seconds: number): void } }>();

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let children = this.httpChildren.get(key);
    if (!children) {
      children = { count: this.httpRequests.labels(method, route, String(status)), duration: this.httpDuration.labels(method, route) };
      this.httpChildren.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  readonly slurmCommands = new Counter({
    name: 'caesar_slurm_commands_total', help: 'Slurm commands run on clusters, by kind and outcome',
    labelNames: ['cluster', 'kind', 'outcome'] as const, registers: [this.registry],
  });

  readonly slurmCommandDuration = new Histogram({
    name: 'caesar_slurm_command_duration_seconds', help: 'Slurm command latency over SSH',
    labelNames: ['cluster', 'kind'] as const, buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30], registers: [this.registry],
  });

  readonly sshReconnects = new Gauge({
    name: 'caesar_ssh_connects_total', help: 'SSH connections opened per cluster (more than one means reconnects)',
    labelNames: ['cluster'] as const, registers: [this.registry],
  });

  readonly pollCycleDuration = new Histogram({
    name: 'caesar_poll_cycle_duration_seconds', help: 'Duration of one poll cycle of a cluster',
    labelNames: ['cluster'] as const, buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10], registers: [this.registry],
  });

  readonly jobsByState = new Gauge({
    name: 'caesar_jobs', help: 'Jobs by state (from the database)',
    labelNames: ['state'] as const, registers: [this.registry],
  });

  readonly bytesUploaded = new Counter({ name: 'caesar_bytes_uploaded_total', help: 'Bytes received by /upload', registers: [this.registry] });

  readonly bytesServed = new Counter({ name: 'caesar_bytes_served_total', help: 'Bytes sent by downloads and outputs', labelNames: ['kind'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'caesar_process_' });
  }

  /** Count a download once its last byte has been handed to the socket (not when aborted, not for HEAD). */
  countServed(ctx: { method: string; res: ServerResponse }, kind: 'download' | 'output', bytes: number): void {
    if (ctx.method === 'HEAD' || !(bytes > 0)) return;
    ctx.res.once('finish', () => this.bytesServed.inc({ kind }, bytes));
  }

  /** Set caesar_jobs from a `state, count` grouping; states with no jobs read 0. */
  setJobCounts(counts: ReadonlyArray<{ state: string; n: number | string }>): void {
    this.jobsByState.reset();
    for (const state of JOB_STATES) this.jobsByState.set({ state }, 0);
    for (const { state, n } of counts) this.jobsByState.set({ state }, Number(n));
  }

  /** Total Slurm commands so far, for one cluster or all (benchmarks and tests read this). */
  async slurmCommandCount(cluster?: string): Promise<number> {
    const metric = await this.slurmCommands.get();
    return metric.values.filter((v) => !cluster || v.labels.cluster === cluster).reduce((sum, v) => sum + v.value, 0);
  }
}
