// The failures a remote operation can end in. Callers decide by kind:
// - unreachable: the command never started ("try later, nothing happened");
// - interrupted (incl. timeout): it started and its outcome is unknown ("look before retrying").

export class RemoteUnreachableError extends Error {
  override readonly name: string = 'RemoteUnreachableError';
}

export class HostKeyMismatchError extends RemoteUnreachableError {
  override readonly name: string = 'HostKeyMismatchError';
}

export class RemoteInterruptedError extends Error {
  override readonly name: string = 'RemoteInterruptedError';
}

export class RemoteTimeoutError extends RemoteInterruptedError {
  override readonly name: string = 'RemoteTimeoutError';
}

/** A command as quoted in an error message: long scripts are cut. */
export function summarizeCommand(command: string): string {
  return command.length > 120 ? `${command.slice(0, 117)}...` : command;
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
