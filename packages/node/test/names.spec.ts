import { describe, expect, it } from 'vitest'
import { functionNameProblem, ownerNameProblem } from '../src/names.js'

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
})
