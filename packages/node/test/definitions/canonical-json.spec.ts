import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addHash64,
  canonicalJson,
  hash64,
  hash64Hex,
  jsonValueProblem,
  subtractHash64,
  utf8Length,
} from '../../src/definitions/canonical-json.js'

describe('canonical JSON', () => {
  it('sorts keys at every depth and parses back to the same value', () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }] })).toBe(
      '{"a":[{"c":"x","d":null}],"b":1}',
    )
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonValueProblem(value)).toBeUndefined()
        const text = canonicalJson(value)
        expect(canonicalJson(JSON.parse(text))).toBe(text)
      }),
    )
  })

  it('gives the same text for the same value whatever its key order', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(
      canonicalJson({ y: { q: 2, p: 1 }, x: 1 }),
    )
  })

  it('counts UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
      }),
    )
  })

  it('combines hashes in any order, and undoes a combination', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(hash64) as [
      ReturnType<typeof hash64>,
      ReturnType<typeof hash64>,
      ReturnType<typeof hash64>,
    ]
    expect(addHash64(addHash64(a, b), c)).toEqual(addHash64(addHash64(c, a), b))
    expect(subtractHash64(addHash64(a, b), b)).toEqual(a)
    expect(hash64Hex(a)).toMatch(/^[0-9a-f]{16}$/)
    expect(hash64Hex(a)).not.toBe(hash64Hex(b))
  })
})
