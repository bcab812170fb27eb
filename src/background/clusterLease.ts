// Exactly one gateway instance works a cluster at a time (submits to it, polls it, collects from
// it): the one holding that cluster's lease, a row in cluster_leases. Taking or renewing it is one
// atomic statement — an upsert whose update applies only when the row is ours or has expired — so
// two instances racing for an expired lease cannot both win: PostgreSQL locks the row and
// re-checks the condition on the winner's version, SQLite has a single writer.
//
// Clocks. Expiry is decided by the database server's clock alone (PostgreSQL's now()), written and
// compared in the same statement, so the clocks of the gateway machines never meet and may be
// skewed by any amount. The holder needs no wall clock either: it counts its lease as valid for
// less than the TTL from the moment it *sent* the renewal (a monotonic clock), and the database
// set the expiry TTL after a moment that came later, so the holder stops believing it holds the
// lease before anybody else can take it. On SQLite (one gateway process) the process's own clock
// is the database clock.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { dialectOf, type Database } from '../db/database.ts';
import { asError } from '../remote/errors.ts';

export interface ClusterLeaseOptions {
  db: Database;
  /** A holder that dies loses its lease after this long. */
  ttlSeconds: number;
  logger: Logger;
  /** Unique per process. Default: hostname:pid:random on PostgreSQL; on SQLite, which one gateway
   *  uses alone, the same name for every process, so a gateway restarted on the file (after a crash)
   *  takes its leases back at once instead of waiting for its dead predecessor's to lapse. */
  holder?: string;
}

/** The holder believes in its lease for this share of the TTL only (slack for clock rates). */
const TRUST = 0.8;

export class ClusterLease {
  readonly holder: string;
  private readonly ttlMs: number;
  /** cluster → performance.now() until which this process may act as the holder. */
  private readonly validUntil = new Map<string, number>();
  private keeper: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: ClusterLeaseOptions) {
    this.holder = options.holder ?? (dialectOf(options.db) === 'sqlite'
      ? 'sqlite-single-gateway'
      : `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`);
    this.ttlMs = options.ttlSeconds * 1000;
  }

  /** Whether this process holds the cluster's lease now (no database round trip). */
  holds(cluster: string): boolean {
    return (this.validUntil.get(cluster) ?? 0) > performance.now();
  }

  /** Renew the lease if it is ours, take it if it has expired (or never existed). */
  async tryAcquire(cluster: string): Promise<boolean> {
    if (this.stopped) return false;
    const { db, logger } = this.options;
    const sent = performance.now();
    const held = this.holds(cluster);
    let rows: Array<{ holder: string }>;
    const upsert = this.upsert(db, cluster);
    this.inFlight.add(upsert);
    try {
      rows = await upsert;
    } catch (err) {
      // No answer: keep what we believed; it lapses on its own if the database stays away.
      logger.warn({ cluster, err: asError(err).message }, 'cluster lease: renewal failed');
      return false;
    } finally {
      this.inFlight.delete(upsert);
    }
    const ours = rows.length === 1 && rows[0]!.holder === this.holder;
    if (ours && !this.stopped) {
      this.validUntil.set(cluster, sent + this.ttlMs * TRUST);
      if (!held) logger.info({ cluster, holder: this.holder, ttlSeconds: this.ttlMs / 1000 }, 'cluster lease acquired: this gateway works the cluster');
      this.startKeeper();
      return true;
    }
    if (this.validUntil.delete(cluster)) logger.warn({ cluster, holder: this.holder }, 'cluster lease lost to another gateway');
    return false;
  }

  /** Give every lease back (graceful stop): another instance takes over at its next cycle. */
  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.keeper);
    this.keeper = undefined;
    // A renewal still on its way would write the lease back after the delete.
    await Promise.allSettled([...this.inFlight]);
    const clusters = [...this.validUntil.keys()];
    this.validUntil.clear();
    if (clusters.length === 0) return;
    try {
      await this.options.db('cluster_leases').where({ holder: this.holder }).delete();
      this.options.logger.info({ clusters, holder: this.holder }, 'cluster leases released');
    } catch (err) {
      // The leases then lapse after their TTL, as a crashed holder's do.
      this.options.logger.warn({ clusters, err: asError(err).message }, 'cluster leases not released');
    }
  }

  /** The current holder per cluster, by the database (tests, diagnostics). */
  async holders(): Promise<Map<string, { holder: string; expiresAt: number }>> {
    const rows = await this.options.db('cluster_leases').select<Array<{ cluster: string; holder: string; expires_at: number }>>('cluster', 'holder', 'expires_at');
    return new Map(rows.map((r) => [r.cluster, { holder: r.holder, expiresAt: Number(r.expires_at) }]));
  }

  private async upsert(db: Database, cluster: string): Promise<Array<{ holder: string }>> {
    // now: the server's clock on PostgreSQL (now() is fixed for the statement), ours on SQLite.
    const postgres = dialectOf(db) === 'postgres';
    const now = postgres ? '(extract(epoch from now()) * 1000)::bigint' : '?';
    const nowBindings = postgres ? [] : [Date.now()];
    const sql = `
      INSERT INTO cluster_leases (cluster, holder, expires_at, acquired_at)
      VALUES (?, ?, ${now} + ?, ${now})
      ON CONFLICT (cluster) DO UPDATE SET
        holder = excluded.holder,
        expires_at = excluded.expires_at,
        acquired_at = CASE WHEN cluster_leases.holder = excluded.holder
                           THEN cluster_leases.acquired_at ELSE excluded.acquired_at END
      WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_at < excluded.acquired_at
      RETURNING holder`;
    const bindings = [cluster, this.holder, ...nowBindings, this.ttlMs, ...nowBindings];
    const result: unknown = await db.raw(sql, bindings);
    // pg answers { rows }, better-sqlite3 the rows themselves.
    return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ holder: string }>;
  }

  /** Renew held leases a few times per TTL, so a long cycle (a slow sacct, a big output) keeps them. */
  private startKeeper(): void {
    if (this.keeper || this.stopped) return;
    this.keeper = setInterval(() => {
      for (const cluster of this.validUntil.keys()) void this.tryAcquire(cluster);
    }, Math.max(200, this.ttlMs / 4));
    this.keeper.unref();
  }
}
