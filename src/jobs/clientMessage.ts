// Messages from the cluster (sbatch's stderr, tar's complaints) are shown to clients, but no
// response may reveal a server path: absolute paths are replaced by a placeholder.
export function withoutPaths(message: string): string {
  return message.replace(/(^|[\s'"`(=:])\/[^\s'"`):,;]+/g, '$1<path>');
}
