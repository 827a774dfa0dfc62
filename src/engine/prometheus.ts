// Prometheus text exposition format (version 0.0.4): metric families with HELP/TYPE lines and
// labelled samples. Label values are escaped (backslash, quote, newline); numbers as JS prints them.

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function value(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** The families as one exposition text, each sample `name{labels} value` on its own line. */
export function formatMetrics(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const text = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escape(String(v))}"`).join(',')}}`;
      lines.push(`${f.name}${text} ${value(s.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}
