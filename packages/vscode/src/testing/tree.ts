/**
 * The Test Explorer's model: the tests of `test list --json` grouped by file, with stable ids.
 *
 * Plain TypeScript; the controller mirrors it into `vscode.TestItem`s.
 */

import * as path from 'node:path';
import type { ListedEntry, RunResult } from './results';

/** One test (a YAML test file holds one; several are kept apart by name). */
export interface TestNode {
  id: string;
  name: string;
  file: string;
  /** 0-based line of the test's `name:` key. */
  line: number;
  tags: string[];
  sourceTrace: string | null;
  model: string | null;
}

/** One test file and its tests, or the reason it did not load. */
export interface FileNode {
  id: string;
  file: string;
  /** The file's path relative to the root given to {@link buildTree} (its name when outside). */
  label: string;
  tests: TestNode[];
  /** Set when the file failed to load: the message and its 0-based line. */
  error?: { message: string; line: number };
}

/** Id of a file's item. */
export function fileId(file: string): string {
  return `file:${file}`;
}

/** Id of a test's item: its file and its name. */
export function testId(file: string, name: string): string {
  return `test:${file}#${name}`;
}

/** Id of the test a run result is about. */
export function resultTestId(result: RunResult): string {
  return testId(result.file, result.name);
}

function label(file: string, root: string | undefined): string {
  if (root !== undefined) {
    const relative = path.relative(root, file);
    if (relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)) {
      return relative.split(path.sep).join('/');
    }
  }
  return path.basename(file);
}

/**
 * Group listed entries by file, files sorted by path and tests by line. A file listed with an
 * error keeps that error (and any tests also listed for it).
 */
export function buildTree(entries: readonly ListedEntry[], root?: string): FileNode[] {
  const files = new Map<string, FileNode>();
  const node = (file: string): FileNode => {
    let found = files.get(file);
    if (found === undefined) {
      found = { id: fileId(file), file, label: label(file, root), tests: [] };
      files.set(file, found);
    }
    return found;
  };
  for (const entry of entries) {
    const fileNode = node(entry.file);
    if (entry.kind === 'fileError') {
      fileNode.error = { message: entry.error, line: Math.max(0, (entry.line ?? 1) - 1) };
      continue;
    }
    const id = testId(entry.file, entry.name);
    if (fileNode.tests.some((t) => t.id === id)) {
      continue; // a duplicate name: the first one wins, as ids must be unique
    }
    fileNode.tests.push({
      id,
      name: entry.name,
      file: entry.file,
      line: Math.max(0, entry.line - 1),
      tags: entry.tags,
      sourceTrace: entry.source_trace,
      model: entry.model,
    });
  }
  const sorted = [...files.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const fileNode of sorted) {
    fileNode.tests.sort((a, b) => a.line - b.line || a.name.localeCompare(b.name));
  }
  return sorted;
}

/** What a run request selected: a whole file or one test in it. */
export interface Selected {
  id: string;
  file: string;
}

/**
 * The paths to pass to `test run` for a selection: each selected file once, sorted.
 * `undefined` (no selection: the whole tree) gives `[]`, which runs every test.
 * Excluded ids that remove a whole file remove it from the paths.
 */
export function runPaths(include: readonly Selected[] | undefined, exclude: readonly Selected[] = []): string[] {
  if (include === undefined) {
    return [];
  }
  const excludedFiles = new Set(exclude.filter((s) => s.id === fileId(s.file)).map((s) => s.file));
  return [...new Set(include.map((s) => s.file))].filter((f) => !excludedFiles.has(f)).sort();
}
