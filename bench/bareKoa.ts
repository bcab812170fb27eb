// The status-read baseline: a bare Koa server whose one handler answers a fixed JSON body (the
// gateway's own status answer, passed in BENCH_FIXED_BODY). Prints {"port": N} once listening.
import Koa from 'koa';
import type { AddressInfo } from 'node:net';

const body: unknown = JSON.parse(process.env.BENCH_FIXED_BODY ?? '{}');
const app = new Koa();
app.use((ctx) => {
  ctx.body = body;
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
