/** `chorus choreography invoke`: invokes a choreography and prints its output and step trace. */
import { choreographyTarget } from '../../arguments.js'
import type { Command } from '../../command.js'
import {
  INVOKE_FLAGS,
  INVOKE_FLAGS_HELP,
  printInvocation,
  submission,
  submittedView,
} from '../../invocation-flags.js'
import { EXIT, UsageError, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../../peer-session.js'

export const choreographyInvoke: Command = {
  help: () => `Usage: chorus choreography invoke <owner>/<name> [input-json] [flags]

Invokes a choreography through the asked peer and, unless --no-wait, waits for it to end,
then prints its status, output or error, and one line per step: its name (or its path in
the definition), status, duration in ms and the peer its function last ran on. The input is
the argument after the name, or --input. Exits 1 if the invocation failed.

Flags:
${INVOKE_FLAGS_HELP}${CLIENT_FLAGS_HELP}
Examples:
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'
  chorus choreography invoke acme/ingest --input '{"images": []}' --priority 0 --json
  chorus choreography invoke acme/nightly --no-wait --idempotency-key nightly-2024-06-01
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'choreography invoke',
    help: choreographyInvoke.help,
    flags: INVOKE_FLAGS,
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { values } = parsed
  const [target, input, ...extra] = parsed.positionals
  if (target === undefined) throw new UsageError('missing <owner>/<name>')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  if (input !== undefined && values.input !== undefined) {
    throw new UsageError('give the input as an argument or with --input, not both')
  }
  const { owner, name } = choreographyTarget(target)
  const submit = submission(
    values,
    input === undefined
      ? { text: values.input, what: '--input' }
      : { text: input, what: 'the input' },
  )
  const handle = await parsed.peer.ask((client) =>
    client.forOwner(owner).choreography(name).submit(submit.input, submit.options),
  )
  return printInvocation(io, submittedView(handle), parsed.json, submit.options.wait)
}
