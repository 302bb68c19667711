import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  JsonPathSyntaxError,
  parseJsonPath,
  resolveJsonPath,
} from '../../src/choreography/index.js'

describe('JSON paths', () => {
  it.each([
    ['$', []],
    ['$.a', ['a']],
    ['$.a_b.C9', ['a_b', 'C9']],
    ["$['a b']", ['a b']],
    ['$["x.y"]', ['x.y']],
    ["$['it\\'s']", ["it's"]],
    ["$['']", ['']],
    ['$[0]', [0]],
    ['$.tags[12].name', ['tags', 12, 'name']],
    ["$[0]['0'][1]", [0, '0', 1]],
  ])('parses %s', (text, segments) => {
    expect(parseJsonPath(text)).toEqual({ text, segments })
  })

  it.each([
    ['', 0, "a path starts with '$'"],
    ['a.b', 0, "a path starts with '$'"],
    ['$.', 2, 'expected a field name'],
    ['$.1a', 2, 'expected a field name'],
    ['$..a', 2, 'expected a field name'],
    ['$[', 2, 'expected an index'],
    ['$[-1]', 2, 'expected an index'],
    ['$[*]', 2, 'expected an index'],
    ['$[0', 3, "expected ']'"],
    ["$['a'", 5, "expected ']'"],
    ["$['a", 4, 'unterminated string'],
    ["$['a\\n']", 4, 'may be escaped'],
    ['$[99999999999999999999]', 2, 'index is too large'],
    ['$.a b', 3, 'unexpected " "'],
    ['$ ', 1, 'unexpected " "'],
    [`$${'.a'.repeat(300)}`, 0, 'a path is at most 500 characters'],
  ])('refuses %j at offset %i', (text, position, message) => {
    let error: unknown
    try {
      parseJsonPath(text)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(JsonPathSyntaxError)
    expect(error).toMatchObject({ position, text })
    expect((error as Error).message).toContain(message)
  })

  it('throws nothing but JsonPathSyntaxError, whatever the text', () => {
    const text = fc.oneof(
      fc.string(),
      fc
        .array(fc.constantFrom('$', '.', '[', ']', "'", '"', '\\', 'a', '0', ' '), {
          maxLength: 20,
        })
        .map((cs) => cs.join('')),
    )
    fc.assert(
      fc.property(text, (t) => {
        try {
          const path = parseJsonPath(t)
          expect(path.text).toBe(t)
        } catch (err) {
          expect(err).toBeInstanceOf(JsonPathSyntaxError)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('resolves a path, or gives undefined when nothing is there', () => {
    const value = { a: { tags: ['x', 'y'], 'a b': 1, n: null }, list: [[1, 2], { k: true }] }
    const at = (text: string) => resolveJsonPath(parseJsonPath(text), value)
    expect(at('$')).toBe(value)
    expect(at('$.a.tags[1]')).toBe('y')
    expect(at("$.a['a b']")).toBe(1)
    expect(at('$.a.n')).toBeNull()
    expect(at('$.list[0][1]')).toBe(2)
    expect(at('$.list[1].k')).toBe(true)
    expect(at('$.a.tags[2]')).toBeUndefined()
    expect(at('$.a.missing.deeper')).toBeUndefined()
    expect(at('$.a[0]')).toBeUndefined()
    expect(at('$.list.length')).toBeUndefined()
    expect(at('$.a.tags[0].length')).toBeUndefined()
  })

  it('sees only own fields', () => {
    for (const text of ['$.constructor', '$.__proto__', '$.toString', "$['hasOwnProperty']"]) {
      expect(resolveJsonPath(parseJsonPath(text), {})).toBeUndefined()
    }
    expect(resolveJsonPath(parseJsonPath("$['__proto__']"), JSON.parse('{"__proto__": 1}'))).toBe(1)
  })
})
