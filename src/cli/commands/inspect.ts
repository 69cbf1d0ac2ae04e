import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  ownOptionsFirst,
  outputOptions,
  repeatable,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { Reporter } from '../output.js';
import { FileResult, InspectSource, UsageError, describeValue, inspect } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs {
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
  builder: (y: Argv<GlobalArgs>) => {
    const own = ownOptionsFirst(y.positional('things', { type: 'string', array: true, describe: 'Sidecar files' }))
      .option('xattr-of', { ...repeatable, describe: 'Decode the xattr of this file' })
      .option('hex', { ...repeatable, describe: 'Decode this hex value' })
      .check((a) => {
        if (!a.things?.length && !a['xattr-of']?.length && !a.hex?.length)
          throw new UsageError('nothing to inspect: give sidecar files, --xattr-of FILE or --hex VALUE');
        return true;
      });
    return globalOptions(xattrOptions(own)) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const sources: InspectSource[] = [
      ...(a.things ?? []).map((p) => ({ kind: 'sidecar' as const, path: String(p) })),
      ...(a['xattr-of'] ?? []).map((p) => ({ kind: 'xattr' as const, path: String(p), xattrName: a.xattr })),
      ...(a.hex ?? []).map((h) => ({ kind: 'hex' as const, hex: String(h) })),
    ];
    const reporter = new Reporter({ ...outputOptions(a), progress: false }, peopleLines);
    for (const s of sources) reporter.report(await inspect(s));
    process.exitCode = reporter.finish();
  },
};
