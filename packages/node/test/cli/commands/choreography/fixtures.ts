/** A choreography file both as its YAML text and as the definition it holds. */

export const INGEST_YAML = [
  '# the ingest pipeline',
  'name: ingest',
  'definition:',
  '  sequence:',
  '    - { name: classify, function: classify, retries: 2 }',
  '    - map: { function: resize }',
  '      items: $.images',
  '      maxConcurrency: 8',
  '',
].join('\n')

export const INGEST = {
  sequence: [
    { name: 'classify', function: 'classify', retries: 2 },
    { map: { function: 'resize' }, items: '$.images', maxConcurrency: 8 },
  ],
}
