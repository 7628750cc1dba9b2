/**
 * Waits until every dashboard the API lists has a summary generated at or after a given instant, then prints the
 * headlines. Used by scripts/start.sh to show that the freshly started system works.
 *   node dist/scripts/await-summaries.js <api base url> <ISO instant> [timeout seconds]
 */
interface Listing {
  dashboards: { id: string; summary: { generatedAt: string; headline: string } | null }[];
}

async function fetchListing(baseUrl: string): Promise<Listing | undefined> {
  try {
    const key = process.env.PRECIS_API_KEY;
    const response = await fetch(
      `${baseUrl}/v1/dashboards`,
      key ? { headers: { authorization: `Bearer ${key}` } } : {},
    );
    return response.ok ? ((await response.json()) as Listing) : undefined;
  } catch {
    return undefined; // the API is not listening yet
  }
}

async function main(): Promise<void> {
  const [baseUrl = 'http://127.0.0.1:8080', since = new Date().toISOString(), timeoutS = '120'] =
    process.argv.slice(2);
  const deadline = Date.now() + Number(timeoutS) * 1000;
  while (Date.now() < deadline) {
    const listing = await fetchListing(baseUrl);
    const fresh = listing?.dashboards.every((d) => d.summary !== null && d.summary.generatedAt >= since);
    if (listing && fresh) {
      for (const d of listing.dashboards) console.log(`  ${d.id}: ${d.summary?.headline}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.error(`no fresh summaries for every dashboard within ${timeoutS} s`);
  process.exit(1);
}

void main();
