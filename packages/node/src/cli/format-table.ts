/** Plain-text tables for the CLI: aligned columns, two spaces apart, no trailing spaces. */

export type Align = 'left' | 'right'

/** A header row and rows, each column as wide as its widest cell; ends with a newline. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  const lines = all.map((row) =>
    widths
      .map((width, i) => {
        const cell = row[i] ?? ''
        if (align[i] === 'right') return cell.padStart(width)
        return i === widths.length - 1 ? cell : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd(),
  )
  return `${lines.join('\n')}\n`
}

/**
 * `key  value` lines with the values aligned; a value of several lines keeps them aligned
 * under its first. Ends with a newline.
 */
export function formatPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length))
  const indent = ' '.repeat(width + 2)
  return pairs
    .map(([key, value]) => `${key.padEnd(width)}  ${value.split('\n').join(`\n${indent}`)}\n`)
    .join('')
}
