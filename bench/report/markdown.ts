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

/** How the figures are obtained, so a reader can judge them. */
const METHOD = [
  '## How it is measured',
  '',
  '- **Processes.** precis runs as its own entry points (pipeline worker, LLM worker, ingest, API), started by the ' +
    'benchmark as child processes with every shared name (topics, consumer group, Redis prefix, task queues, ' +
    'workflow ids) unique to the run, logs at `warn` in files, stopped with SIGTERM at the end. Baselines run in the ' +
    'same run, on the same engines: the bare Temporal worker in its own process, the bare consumers and the bare ' +
    'Fastify route in the benchmark process.',
  '- **Workload.** Generated from one seeded PRNG (`bench/workload.ts`): 100 dashboards of three `demo` widgets ' +
    '(two time series, one breakdown) and 100 of three `inline` widgets whose data the events carry. Event ids are ' +
    '`<scenario>~<dashboard>~<seq>`: a record covers event seq s when it names an id of that dashboard with seq ≥ s.',
  '- **Readable in the API.** Every new summary is announced on `<prefix>summaries:<id>` right after the write the API ' +
    'reads, and every freshness check (no new version needed) on `<prefix>freshness:<id>` (also polled from its key). ' +
    'The benchmark subscribes and takes the arrival of the announcement; freshness = arrival − the time taken just ' +
    'before the event was sent to Kafka.',
  '- **Throughput.** Completed pipeline runs (new summary versions + freshness checks) per second after the warm-up, ' +
    'while every dashboard has events pending; the bare rate is one-activity workflows completed per second with a ' +
    'bounded number in flight.',
  '- **Absorption.** Events are written while ingest is stopped; ingest then starts and the consumer group’s ' +
    'committed offsets (committed only after Temporal accepted every signal of a batch) are polled every 100 ms; rate = ' +
    'events ÷ (time the last offset was committed − the last poll before the first commit).',
  '- **Memory.** `/proc/<pid>/status` every second: VmHWM (the kernel’s own peak) and VmRSS, per process, per scenario.',
  '- **Noise.** The machine may be shared; ratios are measured in the same run, so noise falls on precis and its ' +
    'baseline alike as far as possible (baselines run right before precis, reads alternate rounds).',
  '',
];

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
      [
        'load average (1 min)',
        `${machine.loadAverage.start} at the start, ${machine.loadAverage.end ?? 'n/a'} at the end (${machine.cpus} CPUs; the machine may be shared)`,
      ],
      ...Object.entries(versions),
    ]),
    '## Run settings',
    '',
    ...settingsTable(report.settings),
  ];
  for (const scenario of report.scenarios) lines.push(...scenarioSection(scenario));
  lines.push(...METHOD);
  return `${lines.join('\n')}\n`;
}
