// Every remote command is a shell string (that is what an SSH exec request carries), so every
// argument is single-quoted here and nowhere else.

/** Quote one word for a POSIX shell. A single quote cannot appear inside '…', so it is closed,
 *  escaped, and reopened. NUL cannot be passed through a shell at all, so it is refused. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}
