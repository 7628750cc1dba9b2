import { join } from 'node:path';
import { DashboardDefinitionError, DashboardRegistry, parseDashboard } from '../../src/domain/registry';

const minimal = `
id: ops
title: Ops
widgets:
  - id: latency
    title: Latency
    source: { type: demo }
`;

describe('dashboard registry', () => {
  it('loads the shipped demo dashboards', () => {
    const registry = DashboardRegistry.fromDirectory(join(__dirname, '../../dashboards'));
    const ids = registry.list().map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['marketing-funnel', 'sre-checkout', 'social-listening']));
    for (const dashboard of registry.list()) expect(dashboard.widgets.length).toBeGreaterThan(0);
  });

  it('applies defaults to a minimal definition', () => {
    const dashboard = parseDashboard('ops.yaml', minimal);
    expect(dashboard.widgets[0]).toMatchObject({
      kind: 'timeseries',
      polarity: 'neutral',
      comparisonWindow: '7d',
    });
  });

  it('rejects a bad definition naming the file and the field path', () => {
    const bad = minimal.replace('type: demo', 'type: ftp');
    expect(() => parseDashboard('dashboards/ops.yaml', bad)).toThrow(DashboardDefinitionError);
    expect(() => parseDashboard('dashboards/ops.yaml', bad)).toThrow(
      /dashboards\/ops\.yaml: widgets\.0\.source\.type/,
    );
  });

  it('rejects duplicate widget ids and unknown fields', () => {
    const duplicate = `${minimal}  - id: latency\n    title: Again\n    source: { type: demo }\n`;
    expect(() => parseDashboard('d.yaml', duplicate)).toThrow(
      /widgets\.1\.id: duplicate widget id "latency"/,
    );
    expect(() => parseDashboard('d.yaml', `${minimal}colour: red\n`)).toThrow(/d\.yaml: \(root\): .*colour/);
  });

  it('rejects malformed YAML and JSON with the file name', () => {
    expect(() => parseDashboard('x.json', '{nope')).toThrow(/x\.json: not valid JSON/);
    expect(() => parseDashboard('x.yaml', 'a: [')).toThrow(/x\.yaml: not valid YAML/);
  });

  it('rejects two dashboards with the same id', () => {
    const dashboard = parseDashboard('a.yaml', minimal);
    expect(() => new DashboardRegistry([dashboard, dashboard])).toThrow(/duplicate dashboard id "ops"/);
  });
});
