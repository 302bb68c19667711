/** What the dispatcher knows of a command: its help, how to run it, and its subcommands. */
import type { CliIo } from './io.js'

export interface Command {
  /** The whole `--help` text: what it does, its flags, examples. */
  readonly help: () => string
  /** Runs it on the arguments after its name; resolves to the exit code. */
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>
  /** Its subcommands by name (`chorus choreography deploy`), for `chorus help <command> <sub>`. */
  readonly subcommands?: Readonly<Record<string, Command>>
}
