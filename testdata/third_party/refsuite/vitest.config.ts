// The reference memory server's vitest suite (__tests__/, unchanged) run
// against memsnap: '../index.js', the reference's module, is
// memsnap-adapter.ts, which serves the same API from 'memsnap mcp' through
// the official TypeScript MCP client. The tests listed in excluded.json test
// what memsnap does not have (the reference's JSONL file, its path and its
// in-process handlers); they are skipped, and reported as excluded.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = path.dirname(fileURLToPath(import.meta.url));

// excluded.json: full test names (describe blocks and test, space-separated,
// as vitest names them), each with why it is not applicable to memsnap.
const excluded: Record<string, string> = JSON.parse(readFileSync(path.join(here, 'excluded.json'), 'utf8'));

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineConfig({
  resolve: {
    alias: [{ find: /^\.\.\/index\.js$/, replacement: path.join(here, 'memsnap-adapter.ts') }],
  },
  test: {
    globals: true,
    environment: 'node',
    include: ['__tests__/**/*.test.ts'],
    setupFiles: ['./setup.ts'],
    testNamePattern: new RegExp(`^(?!(?:${Object.keys(excluded).map(escape).join('|')})$)`),
    // One file at a time: each test starts memsnap processes; slow machines
    // get a minute per test and hook.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: process.env.REFSUITE_REPORT ?? 'refsuite-report.json' },
  },
});
