import { Command, CommanderError, type Help, type Option } from 'commander';
import { trainCommand } from './train.js';
import { evaluateCommand } from './evaluate.js';
import { gradcheckCommand } from './gradcheck.js';
import { gradCommand, protectExpression } from './grad.js';
import { benchCommand } from './bench.js';
import { infoCommand } from './info.js';
import { datasetsCommand } from './datasets.js';
import { exportCommand } from './export.js';
import { compareCommand } from './compare.js';
import { predictCommand } from './predict.js';
import { learnersCommand } from './learners.js';
import { lrFindCommand } from './lr-find.js';
import { summaryCommand } from './summary.js';
import { ERROR_PREFIX, EXIT, InterruptedError, isUserError, reportError, RunFailedError, signalExitCode, UsageError } from './errors.js';
import { examples } from './options.js';
import { expandConfig } from './train-config.js';
import { packageVersion } from '../io/provenance.js';

/** 0.2 as 0.2, 0.00001 as 1e-5. */
const number = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x));

/**
 * How --help describes an option: its text, then the values it takes (from
 * commander's Option.choices) and its default, written the same way for every
 * option: `(choices: a, b; default: a)`. Flags (on/off) show no default.
 */
export function optionDescription(o: Option): string {
  const extra: string[] = [];
  if (o.argChoices) extra.push(`choices: ${o.argChoices.join(', ')}`);
  const d: unknown = o.defaultValue;
  if (o.defaultValueDescription) extra.push(`default: ${o.defaultValueDescription}`);
  else if (d !== undefined && typeof d !== 'boolean') extra.push(`default: ${Array.isArray(d) ? d.join(',') : typeof d === 'number' ? number(d) : String(d)}`);
  return extra.length ? `${o.description} (${extra.join('; ')})` : o.description;
}

const HELP: Partial<Help> = { optionDescription, showGlobalOptions: false };

/** Errors from commander go through main's catch, which prints them one way for every command. */
function conventions(c: Command): void {
  c.exitOverride((err: CommanderError) => {
    throw err;
  });
  c.configureOutput({ outputError: () => {} });
  c.configureHelp(HELP);
  for (const sub of c.commands) conventions(sub);
}
import { ioReason, WriteFailedError } from '../base/atomic.js';

export function program(): Command {
  const p = new Command('backprop').description('Hand-written matrix backpropagation for small neural networks, checked against TensorFlow.js').enablePositionalOptions().version(packageVersion());
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
  p.addCommand(summaryCommand());
  p.addCommand(learnersCommand());
  p.addCommand(lrFindCommand());
  p.addHelpText(
    'after',
    examples([
      ['train on the embedded digits (about 95% in seconds) and save the model', 'backprop train --save model.safetensors'],
      ['its accuracy and confusion matrix', 'backprop evaluate --model model.safetensors'],
      ['the hand-written gradients against three oracles', 'backprop gradcheck'],
    ]) + '\n\nEvery command takes --help, and --json for its result as JSON on stdout.',
  );
  conventions(p);
  p.hook('preAction', (_root, action) => {
    refuseEmptyValues(action);
    refuseRepeats(action, typedArgs);
  });
  return p;
}

/** The arguments as the user typed them, before --config adds its flags (which the command line's then replace). */
let typedArgs: readonly string[] = [];

/**
 * A flag given twice keeps its last value, as in most command lines (a
 * script's defaults, then the overrides after them). Not --model: evaluate
 * takes several (an ensemble), so `predict --model a --model b` reads as a
 * request for one, and predicted with b alone, silently. Refused there, one
 * line, exit 2. Counted in what the user typed, before the `--` that ends the
 * options.
 */
function refuseRepeats(c: Command, argv: readonly string[]): void {
  const end = argv.indexOf('--');
  const typed = end < 0 ? argv : argv.slice(0, end);
  const model = c.options.find((o) => o.long === '--model');
  if (!model || Array.isArray(c.getOptionValue(model.attributeName()))) return;
  const times = typed.filter((a) => a === '--model' || a.startsWith('--model=')).length;
  if (times > 1) throw new UsageError(`--model is given ${times === 2 ? 'twice' : `${times} times`}: backprop ${c.name()} takes one model (evaluate takes several, as an ensemble)`);
}

/**
 * No option takes an empty string: `--save ""` would save nothing and
 * `--out ""` write into the current directory, silently. One line, exit 2.
 */
function refuseEmptyValues(c: Command): void {
  for (const o of c.options) {
    const key = o.attributeName();
    if (c.getOptionValueSource(key) === 'cli' && c.getOptionValue(key) === '') throw new UsageError(`${o.long}: expected a value, got an empty string`);
  }
}

/**
 * What happens when stdout or stderr cannot be written. `backprop … | head`
 * closes the pipe early (EPIPE): not an error, and the run goes on silently,
 * so that the files it writes (a --save model, a --report) are not lost. Any
 * other failure (a full disk under `> out.json`, EBADF, EIO) is said once on
 * the other stream, the run also goes on, and the exit code is 1 at the end
 * (unless something else already failed): a result that was not delivered is
 * a failed run. Never a stack trace. With --json, stdout holds the JSON
 * result alone: a lost stderr is said by the exit code only. An error line
 * that stderr failed to take is repeated on stdout, so that the reason for
 * the exit code is not lost with it.
 */
export function guardOutputStreams(json = false): void {
  let lost: string | undefined;
  let lastError = ''; // the last `backprop: error:` line given to stderr
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith(ERROR_PREFIX)) lastError = chunk;
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  for (const [name, s] of [
    ['stdout', process.stdout],
    ['stderr', process.stderr],
  ] as const) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      // From now on writes to it go nowhere (a destroyed stream would raise again at each one).
      s.write = (() => true) as typeof s.write;
      if (e.code === 'EPIPE' || lost) return;
      lost = name;
      if (name === 'stderr' && json) return;
      const other = name === 'stdout' ? process.stderr : process.stdout;
      const said = name === 'stderr' && lastError ? `; it said: ${lastError.slice(ERROR_PREFIX.length).trimEnd()}` : '; the run goes on so that its files are written';
      try {
        other.write(`${ERROR_PREFIX}cannot write to ${name} (${ioReason(e)}): the output is incomplete${said}\n`);
      } catch {
        // that one is gone too
      }
    });
  }
  process.on('exit', (code) => {
    if (lost && !code) process.exitCode = EXIT.failed;
  });
}

/** True when the command line asks for --json (before a `--` that ends the options). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs the CLI: every error is one line `backprop: error: …` on stderr (and a
 * JSON object after it with --json); user mistakes exit 2; nothing prints a
 * stack unless BACKPROP_DEBUG is set.
 */
export async function main(argv: string[]): Promise<void> {
  const json = wantsJson(argv);
  guardOutputStreams(json);
  typedArgs = argv;
  try {
    const p = program();
    await p.parseAsync(
      expandConfig(
        protectExpression(argv),
        p.commands.find((c) => c.name() === 'train')!,
      ),
    );
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      // commander.help: `backprop` alone, which has printed the help already.
      if (e.exitCode !== 0 && e.code !== 'commander.help') reportError(e.message.replace(/^error: /, ''), EXIT.usage, json);
      return;
    }
    if (e instanceof InterruptedError) {
      // Not an error: the user stopped the run before it did any work.
      process.exitCode = signalExitCode(e.signal);
      process.stderr.write(`${e.message}\n`);
      return;
    }
    if (isUserError(e)) {
      process.exitCode = EXIT.usage;
      reportError(e.message, EXIT.usage, json); // reportError joins a multi-line message into one line
      return;
    }
    if (e instanceof WriteFailedError || e instanceof RunFailedError) {
      process.exitCode = EXIT.failed;
      reportError(e.message.split('\n')[0], EXIT.failed, json);
      return;
    }
    const io = e as NodeJS.ErrnoException;
    if (io?.syscall && io.code && !process.env.BACKPROP_DEBUG) {
      // The operating system said no (a full disk, a vanished directory, ...): one line, not a stack.
      process.exitCode = EXIT.failed;
      reportError(`${io.path ? `${io.path}: ` : ''}${io.syscall} failed (${ioReason(io)})`, EXIT.failed, json);
      return;
    }
    const err = e as Error;
    process.exitCode = EXIT.failed;
    reportError(`internal error: ${err?.message ?? String(e)}${process.env.BACKPROP_DEBUG ? '' : ' (set BACKPROP_DEBUG=1 for the stack)'}`, EXIT.failed, json);
    if (process.env.BACKPROP_DEBUG) process.stderr.write(`${err?.stack}\n`);
  }
}
