/**
 * What every command shares: the process around it (`CliIo`, injected so tests run the CLI
 * in process), its exit codes, the error that means "called wrongly", and how a failure or
 * a JSON answer is printed.
 */
import type { startPeer } from '../peer.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /** Default: `startPeer` from `../peer.js`, loaded only by `chorus start`. */
  readonly startPeer?: typeof startPeer
  /** Calls `listener` on SIGINT and SIGTERM; returns the function that stops it. Default: the process's signals. */
  readonly onSignal?: (listener: (signal: 'SIGINT' | 'SIGTERM') => void) => () => void
  /** Ends the process (`chorus start` only). Default: `process.exit`. */
  readonly exit?: (code: number) => void
  /** Whether stderr is a terminal: `chorus start` then logs `pretty` by default. Default false. */
  readonly stderrIsTTY?: boolean
  /**
   * Where `chorus start` writes the peer's log lines: a stream, or a file descriptor (2 for
   * the process's stderr). Default: a stream onto `stderr`.
   */
  readonly logDestination?: NodeJS.WritableStream | number
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'UsageError'
  }
}

/** Writes a failure on stderr after `prefix` (`chorus invoke`); its exit code. */
export function report(io: CliIo, prefix: string, err: unknown): number {
  io.stderr(`${prefix}: ${messageOf(err)}\n`)
  return err instanceof UsageError ? EXIT.usage : EXIT.failed
}

/** Prints `value` as indented JSON (what `--json` prints); exit code 0. */
export function printJson(io: CliIo, value: unknown): number {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`)
  return EXIT.ok
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** A bug's description: its stack when it has one. */
export function describeBug(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}
