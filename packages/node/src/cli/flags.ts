/**
 * The one way the CLI reads flags: `node:util` `parseArgs`, strict, with its refusals turned
 * into one short sentence (a `UsageError`: exit code 2). Every command, `chorus start`'s
 * configuration included, parses through `parseFlags`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './io.js'

/** The flags a command takes, as `parseArgs` wants them. */
export type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>

/** `-h` / `--help`, which every command takes. */
export const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const

/** What `parseFlags` gives back: each flag's value(s), and the arguments that are not flags. */
export interface ParsedFlags<O extends ParseArgsOptionsConfig> {
  readonly values: FlagValues<O>
  readonly positionals: string[]
}

/** A flag's value: a string (or strings, for `multiple`), or true for a boolean one. */
export type FlagValues<O extends ParseArgsOptionsConfig> = {
  readonly [K in keyof O]?: O[K] extends { type: 'boolean' }
    ? boolean
    : O[K] extends { multiple: true }
      ? string[]
      : string
}

/**
 * Parses `args` against `options`. `command` (`chorus invoke`) names the help to point at.
 * Throws `UsageError` for an unknown flag, a missing or unwanted value, and, unless
 * `allowPositionals`, any argument that is not a flag.
 */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: O,
  command: string,
  { allowPositionals = true }: { allowPositionals?: boolean } = {},
): ParsedFlags<O> {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals,
    })
    return { values, positionals }
  } catch (err) {
    throw new UsageError(flagError(err, `${command} --help`))
  }
}

/** A clear one-line message for what `parseArgs` refused (its own are long and vary by Node version). */
export function flagError(err: unknown, help: string): string {
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? ''
  const flag = quoted.split(' ')[0] ?? quoted
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (see ${help})`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quote(quoted)} (see ${help})`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return `${flag} takes no value`
      if (/ambiguous/.test(message))
        return `${flag} needs a value; write ${flag}=VALUE for one that starts with '-'`
      return `${flag} needs a value`
    default:
      return message.split('\n')[0] ?? message
  }
}

/** `text` as a JSON string, cut at 100 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text)
}
