import { describe, expect, it } from 'vitest'
import { schedulerKey, splitSchedulerKey } from '../../src/scheduling/scheduler-key.js'

describe('scheduler keys', () => {
  it.each([
    ['acme', 'mesh'],
    ['a.b-c_d', 'choreography'],
    ['x', ''],
  ])('splits the key of (%s, %s) back into its parts', (owner, provider) => {
    expect(splitSchedulerKey(schedulerKey(owner, provider))).toEqual([owner, provider])
  })

  it('makes owner/provider', () => {
    expect(schedulerKey('acme', 'http')).toBe('acme/http')
  })

  it('reads a key without a slash as all owner', () => {
    expect(splitSchedulerKey('acme')).toEqual(['acme', ''])
  })
})
