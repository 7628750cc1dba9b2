/** The baseline's one activity: returns a small string at once, so only the engine's own cost is measured. */
export function createBareActivities() {
  return {
    async echo(input: string): Promise<string> {
      return `ok:${input}`;
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
