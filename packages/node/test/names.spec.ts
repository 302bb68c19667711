import { describe, expect, it } from 'vitest'
import { choreographyNameProblem as fromChoreography } from '../src/choreography/index.js'
import { choreographyNameProblem as fromDefinitions } from '../src/definitions/definition-op.js'
import { MAX_NAME_LENGTH as choreographyMax } from '../src/choreography/limits.js'
import {
  choreographyNameProblem,
  functionNameProblem,
  MAX_NAME_LENGTH,
  ownerNameProblem,
} from '../src/names.js'

describe('names', () => {
  it.each(['acme', 'a', 'A-b_c.9', '.hidden', 'x'.repeat(128)])('takes owner %j', (owner) => {
    expect(ownerNameProblem(owner)).toBeUndefined()
  })

  it.each([
    ['', 'owner must not be empty'],
    ['x'.repeat(129), 'owner is longer than 128 characters'],
    ['.', "owner may not be '.'"],
    ['..', "owner may not be '..'"],
    ['a/b', 'owner "a/b" may only contain letters, digits'],
    ['ü', 'owner "ü" may only contain'],
    ['a b', 'may only contain'],
  ])('refuses owner %j', (owner, message) => {
    expect(ownerNameProblem(owner)).toContain(message)
  })

  it.each(['resize', 'images/resize', 'a/b/c', 'v1.2/f_x-y'])('takes function %j', (fn) => {
    expect(functionNameProblem(fn)).toBeUndefined()
  })

  it.each([
    ['', 'function name must not be empty'],
    ['f'.repeat(129), 'function name is longer than 128 characters'],
    ['/f', 'has an empty'],
    ['f/', 'has an empty'],
    ['a//b', 'has an empty'],
    ['a/./b', 'has an empty'],
    ['../b', 'has an empty'],
    ['a:b', "may only contain letters, digits, '.', '_', '-' and '/' between segments"],
  ])('refuses function %j', (fn, message) => {
    expect(functionNameProblem(fn)).toContain(message)
  })

  it.each(['order', 'a', 'A-b_c.9', '.hidden', 'x'.repeat(128)])(
    'takes choreography %j',
    (name) => {
      expect(choreographyNameProblem(name)).toBeUndefined()
    },
  )

  it.each([
    ['', 'choreography name must not be empty'],
    ['x'.repeat(129), 'choreography name is longer than 128 characters'],
    ['.', "choreography name may not be '.'"],
    ['..', "choreography name may not be '..'"],
    ['a/b', "choreography name \"a/b\" may only contain letters, digits, '.', '_' and '-'"],
    ['in?', 'choreography name "in?" may only contain'],
  ])('refuses choreography %j', (name, message) => {
    expect(choreographyNameProblem(name)).toContain(message)
  })

  it('is the one rule wherever names are checked', () => {
    expect(fromDefinitions).toBe(choreographyNameProblem)
    expect(fromChoreography).toBe(choreographyNameProblem)
    expect(choreographyMax).toBe(MAX_NAME_LENGTH)
  })
})
