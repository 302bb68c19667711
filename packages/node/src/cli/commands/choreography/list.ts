/** `chorus choreography list`: an owner's choreographies. */
import { onePositional, ownerArgument } from '../../arguments.js'
import type { Command } from '../../command.js'
import { formatTime } from '../../format.js'
import { formatTable } from '../../format-table.js'
import { EXIT, printJson, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../../peer-session.js'

export const choreographyList: Command = {
  help: () => `Usage: chorus choreography list <owner> [flags]

Lists the owner's choreographies: name, version, revision and when it was deployed.

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus choreography list acme
  chorus choreography list acme --json | jq '.choreographies[].name'
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'choreography list',
    help: choreographyList.help,
    flags: {},
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const owner = ownerArgument(onePositional(parsed.positionals, '<owner>'))
  // An owner the mesh does not know is an error here, not an empty list.
  const list = await parsed.peer.ask((client) =>
    client.forOwner(owner).choreographies({ strict: true }),
  )
  if (parsed.json) return printJson(io, { choreographies: list })
  if (list.length === 0) {
    io.stdout(`no choreographies for ${owner}\n`)
    return EXIT.ok
  }
  const rows = [...list]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => [c.name, String(c.version), c.revision, formatTime(c.deployedAt)])
  io.stdout(formatTable(['NAME', 'VERSION', 'REVISION', 'DEPLOYED'], rows, ['left', 'right']))
  return EXIT.ok
}
