import { Command, CommanderError } from 'commander';
import { trainCommand } from './train.js';
import { evaluateCommand } from './evaluate.js';
import { gradcheckCommand } from './gradcheck.js';
import { gradCommand } from './grad.js';
import { benchCommand } from './bench.js';
import { infoCommand } from './info.js';
import { datasetsCommand } from './datasets.js';
import { exportCommand } from './export.js';
import { compareCommand } from './compare.js';
import { predictCommand } from './predict.js';
import { learnersCommand } from './learners.js';
import { EXIT, isUserError } from './errors.js';

export function program(): Command {
  const p = new Command('backprop')
    .description('Hand-written matrix backpropagation for small neural networks, checked against TensorFlow.js')
    .enablePositionalOptions()
    .version('0.1.0')
    .configureOutput({ outputError: (str, write) => write(`backprop: ${str.replace(/^error: /, 'error: ')}`) })
    .exitOverride((err: CommanderError) => {
      throw err;
    });
  p.addCommand(trainCommand());
  p.addCommand(evaluateCommand());
  p.addCommand(gradcheckCommand());
  p.addCommand(gradCommand());
  p.addCommand(compareCommand());
  p.addCommand(benchCommand());
  p.addCommand(infoCommand());
  p.addCommand(datasetsCommand());
  p.addCommand(predictCommand());
  p.addCommand(exportCommand());
  p.addCommand(learnersCommand());
  for (const c of p.commands) {
    c.exitOverride((err: CommanderError) => {
      throw err;
    });
    c.configureOutput({ outputError: (str, write) => write(`backprop ${c.name()}: ${str}`) });
  }
  return p;
}

/** Runs the CLI: user mistakes print one line and exit 2; nothing prints a stack unless BACKPROP_DEBUG is set. */
export async function main(argv: string[]): Promise<void> {
  // `backprop ... | head` closes the pipe early: that is not an error.
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (isUserError(e)) {
      process.stderr.write(`backprop: error: ${e.message.split('\n')[0]}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const err = e as Error;
    process.stderr.write(`backprop: internal error: ${err?.message ?? String(e)}${process.env.BACKPROP_DEBUG ? '\n' + err?.stack : ' (set BACKPROP_DEBUG=1 for the stack)'}\n`);
    process.exitCode = EXIT.failed;
  }
}
