import type { CommandModule } from 'yargs';
import { hashCommand } from './hash.js';
import { inspectCommand } from './inspect.js';
import { keyidCommand } from './keyid.js';
import { signCommand } from './sign.js';
import { verifyCommand } from './verify.js';

/** Every command, in the order --help lists them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [signCommand, verifyCommand, hashCommand, inspectCommand, keyidCommand];
