/** `chorus schedulers`: where the schedulers of the mesh live, and their load. */
import type { Command } from '../command.js'
import { formatTable } from '../format-table.js'
import { EXIT, printJson, type CliIo } from '../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../peer-session.js'

export const schedulers: Command = {
  help: () => `Usage: chorus schedulers [--local] [flags]

Lists the schedulers the asked peer knows of, mesh-wide: each (owner, provider) shard, the
peer responsible for it and its epoch, its capacity, and its pending and in-flight work.

Flags:
  --local      only the schedulers the asked peer hosts itself
${CLIENT_FLAGS_HELP}
Examples:
  chorus schedulers
  chorus schedulers --local --peer http://10.0.0.2:7070
`,
  run,
}

const FLAGS = { local: { type: 'boolean' } } as const

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'schedulers',
    help: schedulers.help,
    flags: FLAGS,
  })
  if (parsed === undefined) return EXIT.ok
  const local = parsed.values.local === true
  const list = await parsed.peer.ask((client) => client.schedulers({ local }))
  if (parsed.json) return printJson(io, { schedulers: list })
  if (list.length === 0) {
    io.stdout(local ? 'no schedulers on this peer\n' : 'no schedulers\n')
    return EXIT.ok
  }
  const sorted = [...list].sort(
    (a, b) => a.owner.localeCompare(b.owner) || a.provider.localeCompare(b.provider),
  )
  const rows = sorted.map((s) => [
    s.owner,
    s.provider,
    s.peerId,
    String(s.epoch),
    String(s.capacity),
    String(s.pending),
    String(s.inflight),
    s.guid,
  ])
  const header = ['OWNER', 'PROVIDER', 'PEER', 'EPOCH', 'CAPACITY', 'PENDING', 'INFLIGHT', 'GUID']
  const align = ['left', 'left', 'left', 'right', 'right', 'right', 'right'] as const
  io.stdout(formatTable(header, rows, align))
  return EXIT.ok
}
