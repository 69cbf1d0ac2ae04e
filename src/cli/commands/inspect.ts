import type { Argv, CommandModule } from 'yargs';
import { describeValue } from '../../codec/ima-value.js';
import { inspect, InspectSource } from '../../ops/inspect.js';
import { FileResult } from '../../ops/result.js';
import { checkXattrName, GlobalArgs, outputOptions } from '../common.js';
import { repeatable } from '../common.js';
import { Reporter } from '../output.js';
import { ConfigError } from '../../errors.js';

interface Args extends GlobalArgs {
  things?: string[];
  'xattr-of'?: string[];
  hex?: string[];
}

function peopleLines(r: FileResult): string {
  if (!r.decoded) return `${r.status}`;
  const d = describeValue(r.decoded);
  const lines = [`${r.status}, ${r.value!.length} bytes`];
  for (const [k, v] of Object.entries(d)) lines.push(`  ${k}: ${v}`);
  for (const w of r.warnings ?? []) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export const inspectCommand: CommandModule<GlobalArgs, Args> = {
  command: 'inspect [things..]',
  describe: "Decode a security.ima value from sidecar files, a file's xattr (--xattr-of) or hex (--hex)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('things', { type: 'string', array: true, describe: 'Sidecar files' })
      .option('xattr-of', { ...repeatable, describe: 'Decode the xattr of this file' })
      .option('hex', { ...repeatable, describe: 'Decode this hex value' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const xattrName = checkXattrName(a.xattr);
    const sources: InspectSource[] = [
      ...(a.things ?? []).map((p) => ({ kind: 'sidecar' as const, path: String(p) })),
      ...(a['xattr-of'] ?? []).map((p) => ({ kind: 'xattr' as const, path: String(p), xattrName })),
      ...(a.hex ?? []).map((h) => ({ kind: 'hex' as const, hex: String(h) })),
    ];
    if (sources.length === 0)
      throw new ConfigError('nothing to inspect: give sidecar files, --xattr-of FILE or --hex VALUE');
    const reporter = new Reporter({ ...outputOptions(a), progress: false }, peopleLines);
    for (const s of sources) reporter.report(await inspect(s));
    process.exitCode = reporter.finish();
  },
};
