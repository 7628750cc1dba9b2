import { withEmptySourceMap } from '../../scripts/bundle-workflows';

const map = {
  version: 3,
  file: 'bundle.js',
  sources: ['workflows/dashboard.ts'],
  names: [],
  mappings: 'AAAA',
};
const inline = (json: object) =>
  `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(json)).toString('base64')}`;

describe('the workflow bundle written at build time', () => {
  it('keeps the code, carries an empty inline map where the SDK looks for one, and hands back the full map', () => {
    const code = `var a = 1;\n${inline(map)}\n`;
    const split = withEmptySourceMap(code, '/dist/workflow-bundle.js');
    expect(split.code.startsWith('var a = 1;\n')).toBe(true);
    expect(JSON.parse(split.map)).toEqual(map);
    // As the SDK reads it (worker.js extractSourceMap): the last sourceMappingURL data comment, base64 after it.
    const at = split.code.lastIndexOf('//# sourceMappingURL=data:');
    const base64 = split.code.indexOf('base64,', at);
    const carried = JSON.parse(Buffer.from(split.code.slice(base64 + 7).trim(), 'base64').toString('utf8'));
    expect(carried).toEqual({
      version: 3,
      file: '/dist/workflow-bundle.js',
      sources: [],
      names: [],
      mappings: '',
    });
  });

  it('refuses a bundle without an inline map (the SDK would refuse to load it)', () => {
    expect(() => withEmptySourceMap('var a = 1;\n', '/dist/workflow-bundle.js')).toThrow(
      /no inline source map/,
    );
  });
});
