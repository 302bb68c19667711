import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  entryPeerOfInvocation,
  formatInvocationId,
  schedulerKeyOfInvocation,
} from '../../src/core/invocation-id.js'

const PEER = '12D3KooWGzBkqdMB8VHhxm7QxYqX9pXmxc9sFqVd3T6Ywx2kJHnE'

describe('invocation ids', () => {
  it('name their scheduler and the peer they entered at', () => {
    const id = formatInvocationId({
      owner: 'acme',
      provider: 'mesh',
      entryPeer: PEER,
      bootId: 'b7',
      counter: 35,
    })
    expect(id).toBe(`acme~mesh~${PEER}.b7.z`)
    expect(schedulerKeyOfInvocation(id)).toBe('acme/mesh')
    expect(entryPeerOfInvocation(id)).toBe(PEER)
  })

  it('round-trips any owner and provider name (which never contain ~)', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,30}$/)
    fc.assert(
      fc.property(name, name, fc.nat(), (owner, provider, counter) => {
        const id = formatInvocationId({ owner, provider, entryPeer: PEER, bootId: 'b', counter })
        expect(schedulerKeyOfInvocation(id)).toBe(`${owner}/${provider}`)
        expect(entryPeerOfInvocation(id)).toBe(PEER)
      }),
    )
  })

  it('names nothing for ids of another shape (older ids, garbage)', () => {
    for (const id of ['', 'i1', '~~', 'acme~~x', '~mesh~x', 'a~b~c~d']) {
      expect(schedulerKeyOfInvocation(id)).toBeUndefined()
    }
    expect(entryPeerOfInvocation('acme~mesh~not-a-peer.b.1')).toBeUndefined()
    expect(entryPeerOfInvocation('plain')).toBeUndefined()
  })
})
