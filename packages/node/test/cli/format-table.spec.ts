import { describe, expect, it } from 'vitest'
import { formatPairs, formatTable } from '../../src/cli/format-table.js'

describe('formatTable', () => {
  it('aligns columns two spaces apart, right-aligns where asked, and trims line ends', () => {
    expect(
      formatTable(
        ['NAME', 'N', 'NOTE'],
        [
          ['a', '1', ''],
          ['longer', '100', 'x'],
        ],
        ['left', 'right'],
      ),
    ).toBe('NAME      N  NOTE\na         1\nlonger  100  x\n')
  })

  it('prints just the header with no rows', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B\n')
  })
})

describe('formatPairs', () => {
  it('aligns values, and keeps the lines of a long value under its first', () => {
    expect(
      formatPairs([
        ['id', 'i1'],
        ['output', '{\n  "a": 1\n}'],
      ]),
    ).toBe('id      i1\noutput  {\n          "a": 1\n        }\n')
  })
})
