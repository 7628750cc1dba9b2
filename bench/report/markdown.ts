/**
 * Renders a run's JSON report as Markdown: a summary table (every scenario's figure, its same-run baseline, the
 * ratio and the targets met or missed), the machine, versions and settings, then each scenario in detail with its
 * checks, tables and charts.
 */
import type { BenchReport, Figure, ScenarioResult, Setting, Target } from './types';

function cell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return 'n/a';
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(rows: (string | number)[][]): string[] {
  const [header, ...body] = rows;
  if (!header) return [];
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...body.map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
  ];
}

function figure(value: Figure, unit = ''): string {
  if (value === null) return 'n/a';
  const text = Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : String(value);
  return unit ? `${text} ${unit}` : text;
}

function verdict(target: Target): string {
  if (target.met === null) return 'not measured';
  return target.met ? '✅ met' : '❌ missed';
}

function settingsTable(settings: Record<string, Setting>): string[] {
  return table([['setting', 'value'], ...Object.entries(settings).map(([k, v]) => [k, String(v)])]);
}

function scenarioSection(s: ScenarioResult): string[] {
  const lines = [`## ${s.title}`, ''];
  if (s.error) lines.push(`> **The scenario failed:** ${s.error}`, '');
  lines.push(
    `**precis:** ${figure(s.value, s.unit)} · **baseline** (${s.baseline.name}): ${figure(s.baseline.value, s.baseline.unit)} · ` +
      `**ratio:** ${figure(s.ratio)} (${s.ratioMeaning}) · took ${(s.durationMs / 1000).toFixed(1)} s`,
    '',
    `Baseline: ${s.baseline.description}`,
    '',
  );
  if (s.targets.length > 0) {
    lines.push(
      ...table([
        ['target', 'measured', 'bound', 'verdict'],
        ...s.targets.map((t) => [t.description, figure(t.actual), `${t.comparison} ${t.bound}`, verdict(t)]),
      ]),
    );
  }
  if (s.checks.length > 0) {
    lines.push(
      '**Correctness**',
      '',
      ...table([['check', 'ok', 'detail'], ...s.checks.map((c) => [c.name, c.ok ? '✅' : '❌', c.detail])]),
    );
  }
  for (const [name, rows] of Object.entries(s.tables)) lines.push(`**${name}**`, '', ...table(rows));
  const figures = Object.entries(s.figures);
  if (figures.length > 0) {
    lines.push(
      '<details><summary>All figures</summary>',
      '',
      ...table([['figure', 'value'], ...figures.map(([k, v]) => [k, figure(v)])]),
      '</details>',
      '',
    );
  }
  lines.push('<details><summary>Settings</summary>', '', ...settingsTable(s.settings), '</details>', '');
  for (const chart of s.charts) lines.push(`![${chart.title}](${chart.file})`, '');
  for (const note of s.notes) lines.push(`- ${note}`);
  if (s.notes.length > 0) lines.push('');
  return lines;
}

export function renderMarkdown(report: BenchReport): string {
  const { machine, versions } = report.environment;
  const minutes = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 60_000;
  const lines = [
    `# precis benchmark${report.smoke ? ' (smoke run: seconds-long, figures not meaningful)' : ''}`,
    '',
    `Run \`${report.runId}\`, ${report.startedAt} → ${report.finishedAt} (${minutes.toFixed(1)} min), \`npm run bench\`. ` +
      'Every ratio is against a baseline measured in this same run on the same machine and engines.',
    '',
    '## Summary',
    '',
    ...table([
      ['scenario', 'precis', 'baseline (same run)', 'ratio', 'targets'],
      ...report.scenarios.map((s) => [
        s.title,
        figure(s.value, s.unit),
        `${figure(s.baseline.value, s.baseline.unit)} (${s.baseline.name})`,
        figure(s.ratio),
        s.error
          ? `failed: ${s.error}`
          : s.targets.map((t) => `${t.description}: ${verdict(t)}`).join('; ') || '–',
      ]),
    ]),
    '## Machine and versions',
    '',
    ...table([
      ['item', 'value'],
      ['CPUs', `${machine.cpus} × ${machine.cpuModel}`],
      ['memory', `${machine.memoryGiB} GiB`],
      ['OS', `${machine.os} (kernel ${machine.kernel})`],
      ['Node.js', machine.node],
      ...Object.entries(versions),
    ]),
    '## Run settings',
    '',
    ...settingsTable(report.settings),
  ];
  for (const scenario of report.scenarios) lines.push(...scenarioSection(scenario));
  return `${lines.join('\n')}\n`;
}
