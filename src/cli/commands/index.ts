import type { CommandModule } from 'yargs';
import { clearCommand } from './clear.js';
import { doctorCommand } from './doctor.js';
import { exportCommand } from './export.js';
import { hashCommand } from './hash.js';
import { importCommand } from './import.js';
import { statusCommand } from './status.js';
import { inspectCommand } from './inspect.js';
import { kexecCommand } from './kexec.js';
import { migrateCommand } from './migrate.js';
import { modsigCommand } from './modsig.js';
import { keyidCommand } from './keyid.js';
import { signCommand } from './sign.js';
import { verifyCommand } from './verify.js';

/** Every command, in the order --help lists them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  signCommand,
  verifyCommand,
  importCommand,
  exportCommand,
  statusCommand,
  clearCommand,
  migrateCommand,
  modsigCommand,
  kexecCommand,
  hashCommand,
  inspectCommand,
  keyidCommand,
  doctorCommand,
];
