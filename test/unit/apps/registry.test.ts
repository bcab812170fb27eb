import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { defaultAppsDir, loadAppRegistry } from '../../../src/apps/registry.ts';

describe('apps/loadAppRegistry: the shipped apps', () => {
  const registry = loadAppRegistry();

  it('lists caesar and resolves its sfinder alias to the same descriptor', () => {
    expect(registry.names()).to.deep.equal(['caesar']);
    const app = registry.get('caesar');
    expect(app?.name).to.equal('caesar');
    expect(registry.get('sfinder')).to.equal(app);
    expect(registry.get('aegean')).to.equal(undefined);
  });

  it('carries the manifest fields and the absolute app directory', () => {
    const app = registry.get('caesar');
    expect(app?.dir).to.equal(join(defaultAppsDir, 'caesar'));
    expect(isAbsolute(app?.dir ?? '')).to.equal(true);
    expect(app?.template).to.equal('caesar.sbatch');
    expect(app?.alwaysSet).to.deep.equal(['save-regions', 'save-catalog-to-json']);
    expect(app?.outputs['sources']).to.equal('catalog-{base}.json');
  });
});

describe('apps/loadAppRegistry: adding or breaking an app folder', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apps-'));
    cpSync(join(defaultAppsDir, 'caesar'), join(dir, 'caesar'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function editManifest(folder: string, edit: (m: Record<string, unknown>) => void): void {
    const path = join(dir, folder, 'app.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(manifest);
    writeFileSync(path, JSON.stringify(manifest));
  }

  it('picks up a second app just by adding its folder', () => {
    cpSync(join(dir, 'caesar'), join(dir, 'caesar2'), { recursive: true });
    editManifest('caesar2', (m) => { m['name'] = 'caesar2'; m['aliases'] = ['sf2']; });
    const registry = loadAppRegistry(dir);
    expect(registry.names()).to.deep.equal(['caesar', 'caesar2']);
    expect(registry.get('sf2')?.dir).to.equal(join(dir, 'caesar2'));
  });

  it('refuses an alias used by two apps', () => {
    cpSync(join(dir, 'caesar'), join(dir, 'other'), { recursive: true });
    editManifest('other', (m) => { m['name'] = 'other'; });
    expect(() => loadAppRegistry(dir)).to.throw(/"sfinder" is used by both caesar and other/);
  });

  it('refuses a manifest whose name does not match its folder, or with unknown fields', () => {
    editManifest('caesar', (m) => { m['name'] = 'caesarx'; });
    expect(() => loadAppRegistry(dir)).to.throw(/must match its folder/);
    editManifest('caesar', (m) => { m['name'] = 'caesar'; m['templat'] = 'x'; });
    expect(() => loadAppRegistry(dir)).to.throw(/app\.json/);
  });

  it('refuses a config line that points at an option the table lacks', () => {
    const path = join(dir, 'caesar', 'config.tsv');
    writeFileSync(path, readFileSync(path, 'utf8').replace('${option:seedthr}', '${option:seedthresh}'));
    expect(() => loadAppRegistry(dir)).to.throw(/seedThr uses unknown option seedthresh/);
  });

  it('names the file and line of a malformed table row', () => {
    const path = join(dir, 'caesar', 'options.tsv');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[4] = lines[4]?.replace('\tflag\t', '\tbool\t') ?? '';
    writeFileSync(path, lines.join('\n'));
    expect(() => loadAppRegistry(dir)).to.throw(/options\.tsv: line 5: kind "bool"/);
  });
});
