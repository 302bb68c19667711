/** `chorus status`: an invocation's status and result (and a choreography's steps). */
import { onePositional } from '../arguments.js'
import type { Command } from '../command.js'
import { formatInvocation } from '../format-invocation.js'
import { EXIT, printJson, type CliIo } from '../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../peer-session.js'

export const status: Command = {
  help: () => `Usage: chorus status <invocation-id> [flags]

Shows an invocation's status (queued, running, succeeded, failed), where it ran, and its
output or error, wherever in the mesh it lives. For a choreography's invocation it also
shows each step: its status, how long it took (ms) and the peer it ran on.

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus status 7f3c2a
  chorus status 7f3c2a --json | jq .output
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'status',
    help: status.help,
    flags: {},
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const id = onePositional(parsed.positionals, '<invocation-id>')
  const view = await parsed.peer.ask((client) => client.invocation(id).status())
  if (parsed.json) return printJson(io, view)
  io.stdout(formatInvocation(view))
  return EXIT.ok
}
