// Crash points for the fault-injection tests: the process really dies (SIGKILL, no clean-up)
// at a chosen moment that a test could not otherwise hit reliably. Inert unless configured.
import type { GatewayConfig } from './config.ts';

export type CrashPoint = NonNullable<GatewayConfig['crashAt']>;
export type CrashHook = (point: CrashPoint) => void;

export function crashHook(configured: CrashPoint | undefined): CrashHook {
  if (!configured) return () => undefined;
  return (point) => {
    if (point === configured) process.kill(process.pid, 'SIGKILL');
  };
}
