#!/usr/bin/env node
// Fails (exit 1) when a .ts file under src/, recipes/ or soak/ is over MAX_LINES lines, naming each
// such file and its line count. The project's rule: no source file over 400 lines (tests, bench
// and examples are not held to it). Run from anywhere: paths are relative to the package root.
// Usage: node scripts/check-sizes.mjs [--max N]
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['src', 'recipes', 'soak'];
const maxArg = process.argv.indexOf('--max');
const MAX_LINES = maxArg >= 0 ? Number(process.argv[maxArg + 1]) : 400;
if (!Number.isInteger(MAX_LINES) || MAX_LINES < 1) {
  console.error(`check-sizes: --max needs a positive integer, got ${process.argv[maxArg + 1]}`);
  process.exit(2);
}

/** Every .ts file under `dir` (recursively), sorted. */
function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** Lines as an editor numbers them: a final newline does not start another line. */
function lineCount(file) {
  const text = readFileSync(file, 'utf8');
  if (text.length === 0) return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}

const files = DIRS.flatMap((d) => tsFiles(join(ROOT, d)));
const over = files.map((f) => ({ file: relative(ROOT, f), lines: lineCount(f) })).filter((r) => r.lines > MAX_LINES);
if (over.length > 0) {
  for (const r of over) console.error(`${r.file}: ${r.lines} lines (max ${MAX_LINES})`);
  console.error(`check-sizes: ${over.length} of ${files.length} source files over ${MAX_LINES} lines`);
  process.exit(1);
}
console.log(`check-sizes: ${files.length} source files in ${DIRS.join('/, ')}/, none over ${MAX_LINES} lines`);
