// A diagnostic for the upload benchmark: Debian's nginx receiving the same multipart body and
// writing it to a file (client_body_in_file_only), then answering 200 once it is on disk. It is an
// HTTP receiver written in C, so it shows what receiving over HTTP costs here outside Node.
// nginx removes each body file itself when the request ends (`clean`).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/support/freePort.ts';
import type { Cleanup } from './cleanup.ts';
import { stopChild } from './gateway.ts';
import { sleep } from './stats.ts';

const NGINX = '/usr/sbin/nginx';
/** nginx's read buffer for the body before each write to the file: cat's own buffer size. */
const BODY_BUFFER = '128k';

function config(prefix: string, port: number): string {
  const backend = `unix:${prefix}/answer.sock`;
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${prefix}/${kind};`),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      client_max_body_size 0;',
    '      client_body_in_file_only clean;',
    `      client_body_buffer_size ${BODY_BUFFER};`,
    // The body is read to its file before the request goes on; the answer comes from a second
    // server on a Unix socket, which is sent no body.
    '      proxy_pass_request_body off;',
    '      proxy_set_header Content-Length "";',
    `      proxy_pass http://${backend}:/;`,
    '    }',
    '  }',
    `  server { listen ${backend}; location / { return 200 '{}'; } }`,
    '}',
    '',
  ].join('\n');
}

/** Starts nginx on a free port; undefined when Debian's nginx is not installed. */
export async function startNginxBodyWriter(cleanup: Cleanup): Promise<{ port: number } | undefined> {
  if (!existsSync(NGINX)) return undefined;
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'caesar-bench-nginx-'));
  cleanup.defer(`remove ${prefix}`, () => rmSync(prefix, { recursive: true, force: true }));
  chmodSync(prefix, 0o755); // nginx's workers run unprivileged and write the body files under it
  mkdirSync(path.join(prefix, 'client_body'));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, config(prefix, port));
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', `${prefix}/error.log`], { stdio: ['ignore', 'ignore', 'inherit'] });
  cleanup.defer('stop nginx', () => stopChild(child));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await fetch(`http://127.0.0.1:${port}/`).then((res) => res.ok, () => false)) return { port };
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(`${prefix}/error.log`) ? readFileSync(`${prefix}/error.log`, 'utf8') : '';
      throw new Error(`nginx did not come up on port ${port}: ${log}`);
    }
    await sleep(100);
  }
}
