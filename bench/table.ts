/** One measured figure beside its target. `met` is undefined where no target applies. */
export interface BenchRow {
  readonly metric: string;
  readonly value: string;
  readonly target?: string;
  readonly met?: boolean;
}

/** What each bench module returns: a titled table and the notes a reader needs to trust it. */
export interface BenchSection {
  readonly title: string;
  readonly rows: readonly BenchRow[];
  readonly notes?: readonly string[];
}

export function formatSection(section: BenchSection): string {
  const header = ['metric', 'value', 'target', 'met'];
  const body = section.rows.map((r) => [
    r.metric,
    r.value,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    `## ${section.title}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
    ...(section.notes?.length ? ['', ...section.notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}

/** Wall time and the peak RSS that the OS reports for a child process. */
export interface ProcessMeasurement {
  readonly wallMs: number;
  /** User plus system CPU time of the process and the children it waited for. */
  readonly cpuMs: number;
  readonly peakRssMiB: number;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
