import { describe, expect, it } from 'vitest'
import { checkUpdate, judgeUpdate, type MemberState, type MemberUpdate } from '../src/index.js'
import { alive, dead, left, suspect } from './helpers.js'

describe('judgeUpdate: SWIM/memberlist merge rules', () => {
  const cur = (state: MemberState, incarnation = 5) => ({ state, incarnation })

  // [known state, update, verdict]
  const table: [MemberState | 'unknown', MemberUpdate, 'apply' | 'confirm' | 'ignore'][] = [
    // alive(i) overrides anything with a lower incarnation, and joins unknown members
    ['unknown', alive('x', 0), 'apply'],
    ['alive', alive('x', 6), 'apply'],
    ['alive', alive('x', 5), 'ignore'],
    ['alive', alive('x', 4), 'ignore'],
    ['suspect', alive('x', 6), 'apply'],
    ['suspect', alive('x', 5), 'ignore'],
    ['dead', alive('x', 6), 'apply'],
    ['dead', alive('x', 5), 'ignore'],
    ['left', alive('x', 6), 'apply'],
    ['left', alive('x', 5), 'ignore'],
    // suspect(i) overrides alive(i' ≤ i); confirms a suspect; never revives the dead
    ['unknown', suspect('x', 5, 'a'), 'ignore'],
    ['alive', suspect('x', 5, 'a'), 'apply'],
    ['alive', suspect('x', 6, 'a'), 'apply'],
    ['alive', suspect('x', 4, 'a'), 'ignore'],
    ['suspect', suspect('x', 5, 'a'), 'confirm'],
    ['suspect', suspect('x', 6, 'a'), 'confirm'],
    ['suspect', suspect('x', 4, 'a'), 'ignore'],
    ['dead', suspect('x', 9, 'a'), 'ignore'],
    ['left', suspect('x', 9, 'a'), 'ignore'],
    // dead(i) overrides alive/suspect with i ≥ current
    ['unknown', dead('x', 5, 'a'), 'ignore'],
    ['alive', dead('x', 5, 'a'), 'apply'],
    ['alive', dead('x', 4, 'a'), 'ignore'],
    ['suspect', dead('x', 5, 'a'), 'apply'],
    ['suspect', dead('x', 6, 'a'), 'apply'],
    ['suspect', dead('x', 4, 'a'), 'ignore'],
    ['dead', dead('x', 5, 'a'), 'ignore'],
    ['dead', dead('x', 6, 'a'), 'apply'],
    ['left', dead('x', 5, 'a'), 'ignore'],
    ['left', dead('x', 6, 'a'), 'apply'],
    // left(i) overrides alive/suspect/dead with i ≥ current
    ['unknown', left('x', 5), 'ignore'],
    ['alive', left('x', 5), 'apply'],
    ['alive', left('x', 4), 'ignore'],
    ['suspect', left('x', 5), 'apply'],
    ['dead', left('x', 5), 'apply'],
    ['dead', left('x', 4), 'ignore'],
    ['left', left('x', 5), 'ignore'],
    ['left', left('x', 6), 'apply'],
  ]

  it.each(table)('known %s, update %j → %s', (state, update, verdict) => {
    expect(judgeUpdate(state === 'unknown' ? undefined : cur(state), update)).toBe(verdict)
  })
})

describe('checkUpdate', () => {
  const long = 'x'.repeat(257)
  it.each([
    ['null', null],
    ['a string', 'alive'],
    ['an unknown kind', { kind: 'zombie', id: 'x', incarnation: 0 }],
    ['no kind', { id: 'x', incarnation: 0 }],
    ['an empty id', { kind: 'left', id: '', incarnation: 0 }],
    ['a numeric id', { kind: 'left', id: 7, incarnation: 0 }],
    ['an over-long id', { kind: 'left', id: long, incarnation: 0 }],
    ['a NaN incarnation', { kind: 'left', id: 'x', incarnation: NaN }],
    ['a negative incarnation', { kind: 'left', id: 'x', incarnation: -1 }],
    ['a fractional incarnation', { kind: 'left', id: 'x', incarnation: 1.5 }],
    ['an infinite incarnation', { kind: 'left', id: 'x', incarnation: Infinity }],
    ['an unsafe incarnation', { kind: 'left', id: 'x', incarnation: 2 ** 53 }],
    ['a string incarnation', { kind: 'left', id: 'x', incarnation: '1' }],
    ['alive without addrs', { kind: 'alive', id: 'x', incarnation: 0 }],
    ['alive with a numeric addr', { kind: 'alive', id: 'x', incarnation: 0, addrs: [1] }],
    [
      'alive with 17 addrs',
      { kind: 'alive', id: 'x', incarnation: 0, addrs: Array(17).fill('/a') },
    ],
    ['alive with an empty addr', { kind: 'alive', id: 'x', incarnation: 0, addrs: [''] }],
    ['suspect without from', { kind: 'suspect', id: 'x', incarnation: 0 }],
    ['dead with an empty from', { kind: 'dead', id: 'x', incarnation: 0, from: '' }],
  ])('refuses %s', (_what, update) => {
    expect(checkUpdate(update)).toEqual(expect.any(String))
  })

  it.each([alive('x', 0), suspect('x', 3, 'y'), dead('x', 3, 'y'), left('x', 2 ** 53 - 1)])(
    'accepts %j',
    (update) => {
      expect(checkUpdate(update)).toBeUndefined()
    },
  )
})
