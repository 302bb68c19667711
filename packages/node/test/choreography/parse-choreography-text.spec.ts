import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  ChoreographyTextError,
  MAX_CHOREOGRAPHY_TEXT,
  parseChoreographyText,
  validateChoreography,
} from '../../src/choreography/index.js'
import { context } from './helpers.js'

const yaml = `
name: pipeline
definition:
  sequence:
    - function: classify
      retries: 2
    - choice:
        - when: $.kind == "album" && $.images[0] != null
          then:
            map: { function: resize }
            items: $.images
            maxConcurrency: 4
      otherwise:
        function: store
`

const json = {
  name: 'pipeline',
  definition: {
    sequence: [
      { function: 'classify', retries: 2 },
      {
        choice: [
          {
            when: '$.kind == "album" && $.images[0] != null',
            then: { map: { function: 'resize' }, items: '$.images', maxConcurrency: 4 },
          },
        ],
        otherwise: { function: 'store' },
      },
    ],
  },
}

function errorOf(text: string): ChoreographyTextError {
  try {
    parseChoreographyText(text)
  } catch (err) {
    if (err instanceof ChoreographyTextError) return err
    throw err
  }
  throw new Error('expected a ChoreographyTextError')
}

describe('parseChoreographyText', () => {
  it('reads YAML into the same value as the JSON', () => {
    expect(parseChoreographyText(yaml)).toEqual(json)
    expect(parseChoreographyText(JSON.stringify(json, null, 2))).toEqual(json)
    expect(validateChoreography(parseChoreographyText(yaml), context()).ok).toBe(true)
  })

  it('keeps YAML scalars JSON-like (core schema)', () => {
    expect(parseChoreographyText('a: 010\nb: yes\nc: ~\nd: 1e3\ne: "1"')).toEqual({
      a: 10,
      b: 'yes',
      c: null,
      d: 1000,
      e: '1',
    })
  })

  it('says where bad JSON is', () => {
    const error = errorOf('{\n  "name": "p",\n  "definition": { "function": "f" ]\n}')
    expect(error.message).toMatch(/^bad JSON: /)
    expect(error.line).toBe(3)
    expect(error.column).toBe(35)
  })

  it('reads flow-style YAML that starts like JSON', () => {
    expect(parseChoreographyText('{ name: p, definition: { function: f } }')).toEqual({
      name: 'p',
      definition: { function: 'f' },
    })
  })

  it('reads the examples of the README alike', () => {
    const readme = readFileSync(
      new URL('../../src/choreography/README.md', import.meta.url),
      'utf8',
    )
    const block = (lang: string) => {
      const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme)
      if (!match?.[1]) throw new Error(`no ${lang} block in the README`)
      return match[1]
    }
    const fromJson = parseChoreographyText(block('json'))
    expect(parseChoreographyText(block('yaml'))).toEqual(fromJson)
    expect(validateChoreography(fromJson, context()).ok).toBe(true)
  })

  it('says where bad YAML is', () => {
    const error = errorOf('name: p\ndefinition:\n  sequence: [a, b\n')
    expect(error.message).toMatch(/^bad YAML: /)
    expect(error.line).toBeGreaterThanOrEqual(3)
  })

  it('refuses duplicate keys', () => {
    expect(errorOf('name: a\nname: b\n').message).toMatch(/bad YAML: .*unique/i)
  })

  it('refuses empty, oversized and non-string text', () => {
    expect(errorOf('  \n').message).toBe('choreography text is empty')
    expect(errorOf('x'.repeat(MAX_CHOREOGRAPHY_TEXT + 1)).message).toMatch(/longer than/)
    expect(errorOf(42 as unknown as string).message).toBe('choreography text must be a string')
  })

  it('bounds alias expansion (a "billion laughs" document)', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i)
      const next = String.fromCharCode(97 + i)
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`)
    }
    expect(errorOf(lines.join('\n')).message).toMatch(/^bad YAML: /)
  })
})
