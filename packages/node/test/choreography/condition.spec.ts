import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ConditionSyntaxError,
  MAX_CONDITION_DEPTH,
  evaluateCondition,
  parseCondition,
} from '../../src/choreography/index.js'

const holds = (text: string, input: unknown) => evaluateCondition(parseCondition(text), input)

describe('conditions', () => {
  describe('parser', () => {
    it('parses into an AST', () => {
      expect(parseCondition('$.size > 1000 && ($.kind == "image" || !$.tags[0])')).toEqual({
        type: 'and',
        operands: [
          {
            type: 'compare',
            op: '>',
            left: { type: 'path', path: { text: '$.size', segments: ['size'] } },
            right: { type: 'literal', value: 1000 },
          },
          {
            type: 'or',
            operands: [
              {
                type: 'compare',
                op: '==',
                left: { type: 'path', path: { text: '$.kind', segments: ['kind'] } },
                right: { type: 'literal', value: 'image' },
              },
              {
                type: 'not',
                operand: { type: 'path', path: { text: '$.tags[0]', segments: ['tags', 0] } },
              },
            ],
          },
        ],
      })
    })

    it('reads numbers, strings and keywords like JSON', () => {
      const literal = (text: string) => (parseCondition(text) as { value: unknown }).value
      expect(literal('-1.5e3')).toBe(-1500)
      expect(literal('0')).toBe(0)
      expect(literal("'it\\'s'")).toBe("it's")
      expect(literal('"a\\"b\\\\c\\n\\u00e9"')).toBe('a"b\\c\né')
      expect(literal('true')).toBe(true)
      expect(literal('false')).toBe(false)
      expect(literal('null')).toBe(null)
    })

    it('binds || loosest, then &&, then comparisons, then !', () => {
      expect(parseCondition('true || false && false')).toMatchObject({
        type: 'or',
        operands: [{ type: 'literal' }, { type: 'and' }],
      })
      expect(parseCondition('!$.a == true')).toMatchObject({
        type: 'compare',
        left: { type: 'not' },
      })
      expect(parseCondition('!($.a == true)')).toMatchObject({
        type: 'not',
        operand: { type: 'compare' },
      })
    })

    it.each([
      ['', 0, 'empty condition'],
      ['   ', 0, 'empty condition'],
      ['$.size >', 8, "expected a path, a value or '(', got the end of the condition"],
      ['$.a = 1', 4, "use '==' to compare"],
      ['$.a & $.b', 4, "use '&&'"],
      ['$.a | $.b', 4, "use '||'"],
      ['1 < $.a < 3', 8, 'comparisons do not chain'],
      ['($.a', 4, "expected ')' to close the '(' at offset 0"],
      ['$.a)', 3, "unexpected ')'"],
      ['$.a $.b', 4, 'unexpected the path $.b'],
      ['size > 3', 0, 'unknown word "size"'],
      ['$.a == "x', 7, 'unterminated string'],
      ['$.a == "\\x"', 8, 'bad escape'],
      ['$.a == 01', 8, 'unexpected a value'],
      ['$.a == 1e999', 7, 'number out of range'],
      ['$.a == -', 7, 'expected a number'],
      ['$.', 2, 'expected a field name'],
      ['$.a[x]', 4, 'expected an index'],
      ['$.a # 1', 4, 'unexpected "#"'],
      ['$.tags == ["x"]', 10, 'unexpected "["'],
      ['&&', 0, "expected a path, a value or '(', got '&&'"],
      [
        `${'('.repeat(MAX_CONDITION_DEPTH + 1)}true${')'.repeat(MAX_CONDITION_DEPTH + 1)}`,
        MAX_CONDITION_DEPTH,
        'nests at most 32 levels',
      ],
      [
        `${'!'.repeat(MAX_CONDITION_DEPTH + 1)}true`,
        MAX_CONDITION_DEPTH,
        'nests at most 32 levels',
      ],
      ['$.a == 1 || '.repeat(100) + 'true', 1000, 'at most 1000 characters'],
    ])('refuses %j at offset %i', (text, position, message) => {
      let error: unknown
      try {
        parseCondition(text)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(ConditionSyntaxError)
      expect(error).toMatchObject({ position, text, code: 'ERR_CONDITION_SYNTAX' })
      expect((error as Error).message).toContain(message)
    })

    it('takes the deepest nesting allowed', () => {
      const text = `${'('.repeat(MAX_CONDITION_DEPTH)}true${')'.repeat(MAX_CONDITION_DEPTH)}`
      expect(parseCondition(text)).toEqual({ type: 'literal', value: true })
    })

    it('throws nothing but ConditionSyntaxError on any text, and never evaluates to a non-boolean', () => {
      const pieces = [
        '$',
        '.a',
        '.b',
        '[0]',
        "['x']",
        ' ',
        '==',
        '!=',
        '<',
        '<=',
        '>',
        '>=',
        '&&',
        '||',
        '!',
        '(',
        ')',
        '1',
        '-2.5',
        '"s"',
        "'t'",
        'true',
        'false',
        'null',
        '=',
        '&',
        '|',
        '"',
        '\\',
        'x',
        '#',
      ]
      const text = fc.oneof(
        fc.string(),
        fc.array(fc.constantFrom(...pieces), { maxLength: 16 }).map((ps) => ps.join('')),
      )
      fc.assert(
        fc.property(text, fc.jsonValue(), (t, input) => {
          let parsed
          try {
            parsed = parseCondition(t)
          } catch (err) {
            expect(err).toBeInstanceOf(ConditionSyntaxError)
            return
          }
          expect(typeof evaluateCondition(parsed, input)).toBe('boolean')
        }),
        { numRuns: 3000 },
      )
    })
  })

  describe('evaluator', () => {
    const input = {
      size: 2048,
      kind: 'image',
      name: 'b.png',
      tags: ['x', 'y'],
      empty: [],
      nested: { a: [1, { b: 2 }] },
      zero: 0,
      blank: '',
      no: false,
      nothing: null,
    }

    it.each([
      ['$.size > 1000', true],
      ['$.size >= 2048', true],
      ['$.size < 2048', false],
      ['$.size <= 2048', true],
      ['$.kind == "image"', true],
      ["$.kind == 'image'", true],
      ['$.kind != "image"', false],
      ['$.tags[0] != null', true],
      ['$.tags[5] != null', false],
      ['$.tags[5] == null', true],
      ['$.missing == null', true],
      ['$.nothing == null', true],
    ])('%s is %s', (text, expected) => {
      expect(holds(text, input)).toBe(expected)
    })

    it.each([
      ['$.nested == $.nested', true],
      ['$.nested.a[1] == $.nested.a[1]', true],
      ['$.tags == $.empty', false],
      ['$.name > "a"', true],
      ['$.name < "a"', false],
      ['$.kind > 1', false],
      ['$.kind <= 1', false],
      ['$.missing < 1', false],
      ['$.size == 2048.0', true],
      ['1 == 1 && 2 == 2', true],
      ['1 == 2 || 2 == 2', true],
      ['!($.size > 1000)', false],
      ['!$.missing', true],
      ['$.tags', true],
      ['$.empty', true],
      ['$.nested', true],
      ['$.zero', false],
      ['$.blank', false],
      ['$.no', false],
      ['$.nothing', false],
      ['$.missing', false],
      ['$', true],
      ['$.kind == "image" && ($.size > 4096 || $.tags[1] == "y")', true],
      ['!$.no && !$.zero && !$.blank && !$.nothing', true],
    ])('%s is %s', (text, expected) => {
      expect(holds(text, input)).toBe(expected)
    })

    it('never reaches into prototypes', () => {
      expect(holds('$.constructor == null', {})).toBe(true)
      expect(holds("$['__proto__'] == null", {})).toBe(true)
      expect(holds('$.toString', {})).toBe(false)
      expect(holds('$.length > 0', [1, 2])).toBe(false)
      expect(holds('$.length > 0', 'abc')).toBe(false)
    })

    it('compares deep values without overflowing the stack', () => {
      let deep: unknown = 1
      for (let i = 0; i < 100_000; i++) deep = [deep]
      expect(holds('$.a == $.b', { a: deep, b: deep })).toBe(true)
      expect(holds('$.a != $.b', { a: deep, b: [deep] })).toBe(true)
    })

    it('is the same as a reference evaluation on random inputs', () => {
      const value = fc.oneof(
        fc.integer({ min: -3, max: 3 }),
        fc.constantFrom('a', 'b', '', null, true, false),
      )
      fc.assert(
        fc.property(value, value, (a, b) => {
          const rec = { a, b }
          const ordered =
            (typeof a === 'number' && typeof b === 'number') ||
            (typeof a === 'string' && typeof b === 'string')
          const x = a as number
          const y = b as number
          expect(holds('$.a == $.b', rec)).toBe(a === b)
          expect(holds('$.a != $.b', rec)).toBe(a !== b)
          expect(holds('$.a < $.b', rec)).toBe(ordered && x < y)
          expect(holds('$.a >= $.b', rec)).toBe(ordered && x >= y)
          expect(holds('$.a && $.b', rec)).toBe(Boolean(a) && Boolean(b))
          expect(holds('$.a || !$.b', rec)).toBe(Boolean(a) || !b)
        }),
      )
    })
  })
})
