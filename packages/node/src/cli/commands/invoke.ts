/** `chorus invoke`: invokes a function through a peer and, unless --no-wait, waits for it. */
import { functionTarget, onePositional } from '../arguments.js'
import type { Command } from '../command.js'
import {
  INVOKE_FLAGS,
  INVOKE_FLAGS_HELP,
  printInvocation,
  submission,
  submittedView,
} from '../invocation-flags.js'
import { EXIT, type CliIo } from '../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../peer-session.js'

export const invoke: Command = {
  help: () => `Usage: chorus invoke <owner>/<function> [--input JSON] [flags]

Invokes a function of an owner through the asked peer (which forwards it to the responsible
peer) and, unless --no-wait, waits for the result. Exits 1 if the invocation failed.

Flags:
${INVOKE_FLAGS_HELP}${CLIENT_FLAGS_HELP}
A function name may contain '/': in acme/images/resize the owner is acme, the function
images/resize. Names use letters, digits, '.', '_' and '-', up to 128 characters.

Examples:
  chorus invoke acme/resize --input '{"width": 640}'
  chorus invoke acme/images/resize --input '"cat.png"' --priority 0 --qos latency
  chorus invoke acme/report --no-wait --idempotency-key nightly-2024-06-01 --json
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'invoke',
    help: invoke.help,
    flags: INVOKE_FLAGS,
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { owner, name } = functionTarget(onePositional(parsed.positionals, '<owner>/<function>'))
  const { input, options } = submission(parsed.values, {
    text: parsed.values.input,
    what: '--input',
  })
  const handle = await parsed.peer.ask((client) =>
    client.forOwner(owner).fn(name).submit(input, options),
  )
  return printInvocation(io, submittedView(handle), parsed.json, options.wait)
}
