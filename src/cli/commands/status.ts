import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  outputOptions,
  PathsArgs,
  pathsOperand,
  repeatable,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  warner,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { printable, Reporter, StopSignal, writeOut } from '../output.js';
import { FileResult, forEachResult, loadCertificates, statusTree } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  cert?: string[];
}

const COLUMNS = ['STATE', 'FS', 'XATTRS', 'APPENDED', 'TYPE', 'ALGO', 'KEYID', 'VERIFIED', 'PATH'] as const;
const WIDTHS = [13, 12, 7, 8, 7, 9, 9, 9];

function row(cells: string[]): string {
  return cells
    .map((c, i) => (i < WIDTHS.length ? c.padEnd(WIDTHS[i]!) : c))
    .join(' ')
    .trimEnd();
}

function tableRow(r: FileResult): string {
  const d = r.details ?? {};
  const v = r.decoded;
  const type = v ? (v.kind === 'signature' ? `sig-v${v.version}` : 'digest') : '-';
  const verified = d.verified as Record<string, string> | undefined;
  const ver = verified ? (Object.values(verified).every((x) => x === 'ok') ? 'ok' : 'FAILED') : '-';
  const line = row([
    r.status,
    String(d.filesystem ?? '-'),
    d.xattrs === undefined ? '-' : d.xattrs ? 'yes' : 'no',
    d.appended ? 'yes' : d.appendedProblem ? 'invalid' : 'no',
    type,
    v?.algo.name ?? '-',
    v?.kind === 'signature' ? v.keyid : '-',
    ver,
    printable(r.path),
  ]);
  return r.reason ? `${line}\n    ${r.reason}` : line;
}

export const statusCommand: CommandModule<GlobalArgs, Args> = {
  command: 'status <paths..>',
  describe: "Show where each file's signature lives and whether sidecar and xattr agree",
  builder: (y: Argv<GlobalArgs>) => {
    const own = pathsOperand(y).option('cert', {
      alias: 'c',
      ...repeatable,
      describe: 'Also verify each carrier against these certificates',
    });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = a.cert?.length ? await loadCertificates(a.cert, warner(a)) : undefined;
    const stop = new StopSignal();
    stop.install();
    const out = outputOptions(a);
    const reporter = new Reporter(out);
    const results = statusTree(paths, treeOptions(a, stop), { xattrName: a.xattr, suffix: a.suffix, certs });
    if (out.json) {
      await reporter.consume(results);
    } else {
      if (!a.quiet) writeOut(row([...COLUMNS]) + '\n');
      await forEachResult(results, (r) => {
        reporter.counter.add(r);
        if (!a.quiet || r.failed) writeOut(tableRow(r) + '\n');
      });
    }
    process.exitCode = reporter.finish(stop);
  },
};
