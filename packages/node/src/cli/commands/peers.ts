/** `chorus peers`: the members a peer knows, their state, and their addresses. */
import type { Command } from '../command.js'
import { formatAge } from '../format.js'
import { formatTable } from '../format-table.js'
import { EXIT, printJson, type CliIo } from '../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../peer-session.js'

export const peers: Command = {
  help: () => `Usage: chorus peers [flags]

Lists the peers the asked peer knows: their id, membership state (alive, suspect, dead,
left), how long ago it last heard from them, and their libp2p addresses.

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus peers
  chorus peers --peer http://10.0.0.1:7070 --json
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, { name: 'peers', help: peers.help, flags: {} })
  if (parsed === undefined) return EXIT.ok
  const answer = await parsed.peer.ask((client) => client.peers())
  if (parsed.json) return printJson(io, answer)
  if (answer.peers.length === 0) {
    io.stdout('no peers\n')
    return EXIT.ok
  }
  const rows = answer.peers.map((p) => [
    p.peerId === answer.self ? `${p.peerId} (self)` : p.peerId,
    p.state,
    formatAge(p.lastSeenMs),
    p.addrs.join(' '),
  ])
  io.stdout(
    formatTable(['PEER', 'STATE', 'LAST SEEN', 'ADDRESSES'], rows, ['left', 'left', 'right']),
  )
  return EXIT.ok
}
