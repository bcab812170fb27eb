// An upload thread's first module. The TypeScript loader the gateway runs under (tsx) is
// registered per thread in Node 20, so a worker registers it again before loading its .ts code.
import { register } from 'tsx/esm/api';

register();
await import('./uploadThread.ts');
