/** The command table of `attention-paths`: one entry per subcommand, in the order the help lists them. */
import type { Command } from '../command';
import { analyze } from './analyze';
import { sweep } from './sweep';
import { inspect } from './inspect';
import { prune } from './prune';
import { train } from './train';

export const COMMANDS: readonly Command[] = [analyze, sweep, inspect, prune, train];
