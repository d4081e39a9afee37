import type { Reporter, TestModule } from 'vitest/node';

/**
 * Lists every skipped test with its reason after the run (vitest's default
 * reporter only counts them), so that `npm test` on a machine without the
 * Debian extras says what to install to run the rest.
 */
export default class SkippedReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows: string[] = [];
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === 'skipped' && t.options.mode !== 'todo') rows.push(`  ${m.relativeModuleId} > ${t.fullName}: ${r.note ?? 'skipped'}`);
      }
    if (rows.length) process.stdout.write(`\nskipped (${rows.length}):\n${rows.join('\n')}\n`);
  }
}
