// Gateway configuration files for tests: the local cluster (from its connection file) plus
// whatever the test needs on top.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type LocalCluster = Record<string, unknown> & {
  user: string;
  remoteRoot: string;
  secondUser: { user: string; privateKeyPath: string; remoteRoot: string };
};

export function localCluster(): LocalCluster {
  const file = process.env.LOCAL_CLUSTER_CONNECTION ?? '/var/lib/caesar-gateway/local-cluster/connection.json';
  return JSON.parse(readFileSync(file, 'utf8')) as LocalCluster;
}

/** Writes `<dir>/gateway.json` with the local cluster and `extra` settings; returns its path. */
export function writeGatewayConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify({ clusters: [localCluster()], ...extra }));
  return file;
}
