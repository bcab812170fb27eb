// Which "request completed" lines reach the info log: routine reads go to debug, slow requests
// stay at info, and a status long-poll's deliberate wait is not counted as slowness.
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import Koa from 'koa';
import pino from 'pino';
import { GatewayMetrics } from '../../../src/observability/metrics.ts';
import { recordDeliberateWait, requestContext } from '../../../src/http/requestContext.ts';

interface Line { level: number; msg: string; path?: string }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('http/requestContext: the level of "request completed"', function () {
  this.timeout(20_000);
  const lines: Line[] = [];
  let server: ReturnType<Koa['listen']>;
  let base: string;

  before(async () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Line); done(); } });
    const logger = pino({ level: 'debug' }, sink);
    const app = new Koa();
    app.use(requestContext(logger, new GatewayMetrics()));
    app.use(async (ctx) => {
      if (ctx.path === '/slow') await sleep(1_100);
      if (ctx.path === '/long-poll') {
        await sleep(1_100);
        recordDeliberateWait(ctx, 1.1);
      }
      ctx.body = { ok: true };
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server?.close(); });

  async function levelOf(path: string): Promise<number> {
    await (await fetch(`${base}${path}`)).arrayBuffer();
    for (let i = 0; i < 100; i += 1) {
      const line = lines.find((l) => l.msg === 'request completed' && l.path === path);
      if (line) return line.level;
      await sleep(10);
    }
    throw new Error(`no "request completed" line for ${path}`);
  }

  it('logs a quick JSON read at debug, a slow one at info, and a long-poll that waited as asked at debug', async () => {
    expect(await levelOf('/quick')).to.equal(20);
    expect(await levelOf('/slow')).to.equal(30);
    expect(await levelOf('/long-poll')).to.equal(20);
  });
});
