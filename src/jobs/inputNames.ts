// Where a job's input image lives on the cluster, and the name CAESAR sees it under.
//
// CAESAR names some outputs after its input (the summary plot, plot_<base>.png, has no config
// key), so the image must reach it under the user's own file name. Each upload is staged once
// per cluster as <remoteRoot>/inputs/<file id>/<that name>, and every job's config points to
// it there, relative to the job directory: nothing is written per job for the input, and the
// path stays right whatever the remote root is when the job runs.
//
// Gateways before this layout staged inputs as <remoteRoot>/inputs/<file id>.fits and linked
// each job's input into its directory under the name. A copy staged that way is still used,
// and still linked.
import path from 'node:path';
import type { FileRow } from '../db/rows.ts';

type NamedFile = Pick<FileRow, 'filename_orig' | 'id'>;

/** The input's name as CAESAR sees it: the original name reduced to safe characters, and its
 *  `<base>` (the name without the extension), which the config's output names are built from. */
export function inputNameFor(file: NamedFile): { inputName: string; base: string } {
  const stem = file.filename_orig.replace(/\.(fits?|fts)(\.gz)?$/i, '');
  const safe = stem.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.-]+/, '').slice(0, 80);
  const base = safe || `input_${file.id.slice(0, 8)}`;
  return { inputName: `${base}.fits`, base };
}

/** The staged copy's place under the remote root. */
function stagedUnderRoot(file: NamedFile): string {
  return path.posix.join('inputs', file.id, inputNameFor(file).inputName);
}

/** Where an upload is staged on a cluster. */
export function stagedInputPath(remoteRoot: string, file: NamedFile): string {
  return path.posix.join(remoteRoot, stagedUnderRoot(file));
}

/** A recorded staged copy, if jobs under `remoteRoot` may use it: one under another remote root
 *  (the setting changed since) is staged again, so that every job finds its input under its own root. */
export function usableStagedCopy(stagedPath: string | undefined, remoteRoot: string): string | undefined {
  return stagedPath?.startsWith(`${remoteRoot.replace(/\/+$/, '')}/`) ? stagedPath : undefined;
}

/**
 * How a job's config names its input. `stagedPath`: the usable staged copy, if there is one yet.
 * `linked`: the copy has another name (the older layout), so the job directory gets a link to it
 * under `inputName`, which the config names. Otherwise the config names the copy itself, relative
 * to the job directory (<remoteRoot>/jobs/<id>), where the stager puts it if it is not there yet.
 */
export function configInputFile(file: NamedFile, stagedPath: string | undefined): { inputFile: string; linked: boolean } {
  const { inputName } = inputNameFor(file);
  if (stagedPath !== undefined && path.posix.basename(stagedPath) !== inputName) return { inputFile: inputName, linked: true };
  return { inputFile: path.posix.join('..', '..', stagedUnderRoot(file)), linked: false };
}

/** What to remove on the cluster to delete a staged copy: its directory, or the older layout's file. */
export function stagedCopyToRemove(stagedPath: string, fileId: string): string {
  const dir = path.posix.dirname(stagedPath);
  return path.posix.basename(dir) === fileId ? dir : stagedPath;
}
