/**
 * Invocation ids name their scheduler, not only the peer that took them:
 * `<owner>~<provider>~<entry peer>.<boot id>.<counter>`. Wherever the scheduler has moved,
 * any peer finds an invocation by asking the key's directory peer who is responsible and
 * then that responsible (whose ledger moved with the scheduler), never by asking every
 * peer. `~` appears in no owner or provider name, so the id splits without doubt; the entry
 * peer keeps a copy of each outcome it was told, for after the scheduler is gone. Pure.
 */

const SEPARATOR = '~'
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{40,60}$/

export interface InvocationIdParts {
  readonly owner: string
  readonly provider: string
  readonly entryPeer: string
  readonly bootId: string
  readonly counter: number
}

export function formatInvocationId(parts: InvocationIdParts): string {
  const local = `${parts.entryPeer}.${parts.bootId}.${parts.counter.toString(36)}`
  return [parts.owner, parts.provider, local].join(SEPARATOR)
}

/** The scheduler key (`owner/provider`) an invocation id names, if it names one. */
export function schedulerKeyOfInvocation(id: string): string | undefined {
  const parts = id.split(SEPARATOR)
  if (parts.length !== 3 || parts[0] === '' || parts[1] === '') return undefined
  return `${parts[0]}/${parts[1]}`
}

/** The peer an invocation id names as where it entered the mesh, if it names one. */
export function entryPeerOfInvocation(id: string): string | undefined {
  const local = id.split(SEPARATOR).at(-1) ?? ''
  const peer = local.split('.')[0] ?? ''
  return PEER_ID.test(peer) ? peer : undefined
}
