// How each user reaches each cluster. A user with an SSH identity of their own on a cluster gets
// a connection target of their own ("<cluster>~<user>"): their jobs are submitted, polled and
// collected through it, run as them and charge their allocation. Everything downstream treats a
// target like any cluster, so no other code needs to know.
import type { ClusterConfig, GatewayConfig, UserClusterConfig } from '../config.ts';
import type { UserLimits } from './limits.ts';

const IDENTITY_SEPARATOR = '~';

/** The name clients see: the configured cluster, whichever identity reaches it. */
export function publicClusterName(target: string): string {
  return target.split(IDENTITY_SEPARATOR)[0] ?? target;
}

/** Every SSH connection the gateway keeps: the configured clusters plus users' own identities. */
export function connectionTargets(config: Pick<GatewayConfig, 'clusters' | 'users'>): ClusterConfig[] {
  const targets = [...config.clusters];
  for (const [user, settings] of Object.entries(config.users)) {
    for (const [clusterName, access] of Object.entries(settings.clusters)) {
      const base = config.clusters.find((c) => c.name === clusterName);
      if (!base || !access.sshUser || !access.privateKeyPath) continue;
      targets.push({
        ...base,
        name: `${base.name}${IDENTITY_SEPARATOR}${user}`,
        user: access.sshUser,
        privateKeyPath: access.privateKeyPath,
        remoteRoot: access.remoteRoot ?? base.remoteRoot,
        account: access.account ?? base.account,
      });
    }
  }
  return targets;
}

export interface ClusterAccess {
  /** The connection target the user's jobs on this cluster go through. */
  cluster: ClusterConfig;
  /** The user's Slurm account / partition / QoS defaults there. */
  access: UserClusterConfig;
}

export function clusterAccessResolver(config: Pick<GatewayConfig, 'clusters' | 'users' | 'defaultCluster'>) {
  const targets = new Map(connectionTargets(config).map((c) => [c.name, c]));
  return (user: string, requested: string | undefined): ClusterAccess | undefined => {
    const name = requested ?? config.defaultCluster!;
    if (!config.clusters.some((c) => c.name === name)) return undefined;
    const access = config.users[user]?.clusters[name] ?? {};
    const cluster = (access.sshUser && targets.get(`${name}${IDENTITY_SEPARATOR}${user}`)) || targets.get(name)!;
    return { cluster, access };
  };
}

export function limitsResolver(config: Pick<GatewayConfig, 'users' | 'userLimits'>): (user: string) => UserLimits {
  return (user) => ({ ...config.userLimits, ...config.users[user]?.limits });
}
