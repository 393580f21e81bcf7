import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

import MarkdownIt from 'markdown-it';

import { PROJECT_ROOT } from '../../shared/paths';

/**
 * Every relative link and anchor of the project's Markdown leads somewhere: a file that exists and,
 * with `#anchor`, a heading of that file as GitHub names it (github-slugger 1.x, the CommonJS
 * release of GitHub's own slug rules). Links to other sites are not fetched: CI has no network.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const GithubSlugger = require('github-slugger') as new () => { slug(text: string): string };

const markdown = new MarkdownIt({ html: true });

/** README, CONTRIBUTING, docs/ and the dated benchmark figures: what readers follow links in. */
function documents(): string[] {
  const docs = readdirSync(join(PROJECT_ROOT, 'docs')).map((name) => join('docs', name));
  const bench = existsSync(join(PROJECT_ROOT, 'bench', 'out'))
    ? readdirSync(join(PROJECT_ROOT, 'bench', 'out'))
        .filter((name) => /^20.*\.md$/.test(name))
        .map((name) => join('bench', 'out', name))
    : [];
  return ['README.md', 'CONTRIBUTING.md', ...docs, ...bench].filter((file) => file.endsWith('.md'));
}

interface Link {
  readonly href: string;
  readonly line: number;
}

function linksOf(file: string): Link[] {
  const links: Link[] = [];
  const visit = (tokens: MarkdownIt.Token[], line: number) => {
    for (const token of tokens) {
      const at = token.map ? token.map[0] + 1 : line;
      const href =
        token.type === 'link_open'
          ? token.attrGet('href')
          : token.type === 'image'
            ? token.attrGet('src')
            : null;
      if (href !== null) links.push({ href: String(href), line: at });
      if (token.children) visit(token.children, at);
    }
  };
  visit(markdown.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8'), {}), 1);
  return links;
}

/** The anchors GitHub gives the file's headings. */
function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const tokens = markdown.parse(readFileSync(file, 'utf8'), {});
  const anchors = new Set<string>();
  tokens.forEach((token, i) => {
    if (token.type === 'heading_open')
      anchors.add(slugger.slug(tokens[i + 1].children!.map((t) => t.content).join('')));
  });
  return anchors;
}

/** Why `link` in `file` leads nowhere, or undefined when it leads somewhere. */
function brokenLink(file: string, { href }: Link): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return undefined; // https:, mailto:
  const [path, anchor] = href.split('#');
  const target =
    path === '' ? join(PROJECT_ROOT, file) : resolve(PROJECT_ROOT, dirname(file), decodeURI(path));
  if (!existsSync(target)) return `${relative(PROJECT_ROOT, target)} does not exist`;
  if (anchor === undefined || statSync(target).isDirectory()) return undefined;
  if (!target.endsWith('.md')) return undefined;
  return anchorsOf(target).has(anchor)
    ? undefined
    : `${relative(PROJECT_ROOT, target)} has no heading #${anchor}`;
}

test.each(documents())('every relative link and anchor in %s leads somewhere', (file) => {
  const broken = linksOf(file)
    .map((link) => ({ link, problem: brokenLink(file, link) }))
    .filter(({ problem }) => problem !== undefined)
    .map(({ link, problem }) => `${file}:${link.line}: (${link.href}) ${problem}`);
  expect(broken).toEqual([]);
});

test('the checker finds a missing file and a missing anchor, and passes a heading that exists', () => {
  // GIVEN links as docs/operations.md would hold them
  const from = 'docs/operations.md';
  expect(brokenLink(from, { href: 'nowhere.md', line: 1 })).toBe('docs/nowhere.md does not exist');
  expect(brokenLink(from, { href: '../README.md#no-such-heading', line: 1 })).toBe(
    'README.md has no heading #no-such-heading',
  );
  expect(brokenLink(from, { href: '../README.md#quick-start', line: 1 })).toBeUndefined();
  expect(brokenLink(from, { href: '#stack-outputs', line: 1 })).toBeUndefined();
  expect(brokenLink(from, { href: 'https://example.com/x', line: 1 })).toBeUndefined();
});
