import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Dashboard, dashboardSchema } from './dashboard';

export class DashboardDefinitionError extends Error {
  override readonly name = 'DashboardDefinitionError';
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function describeIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => `${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('\n');
}

/** Parses one definition; throws DashboardDefinitionError naming the file and the field path. */
export function parseDashboard(file: string, text: string): Dashboard {
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new DashboardDefinitionError(
      `${file}: not valid ${extname(file).slice(1).toUpperCase()}: ${(error as Error).message}`,
    );
  }
  const parsed = dashboardSchema.safeParse(raw);
  if (!parsed.success) throw new DashboardDefinitionError(describeIssues(file, parsed.error));
  return parsed.data;
}

/** The dashboards precis knows, loaded once from a folder of YAML/JSON definitions. */
export class DashboardRegistry {
  private readonly byId: ReadonlyMap<string, Dashboard>;

  constructor(dashboards: Iterable<Dashboard>) {
    const byId = new Map<string, Dashboard>();
    for (const dashboard of dashboards) {
      if (byId.has(dashboard.id))
        throw new DashboardDefinitionError(`duplicate dashboard id "${dashboard.id}"`);
      byId.set(dashboard.id, dashboard);
    }
    this.byId = byId;
  }

  static fromDirectory(dir: string): DashboardRegistry {
    let files: string[];
    try {
      files = readdirSync(dir)
        .filter((name) => EXTENSIONS.has(extname(name)))
        .sort();
    } catch (error) {
      throw new DashboardDefinitionError(`cannot read dashboards folder ${dir}: ${(error as Error).message}`);
    }
    const dashboards = files.map((name) => {
      const file = join(dir, name);
      return parseDashboard(file, readFileSync(file, 'utf8'));
    });
    return new DashboardRegistry(dashboards);
  }

  get(id: string): Dashboard | undefined {
    return this.byId.get(id);
  }

  list(): Dashboard[] {
    return [...this.byId.values()];
  }
}
