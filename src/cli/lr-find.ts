import { Command } from 'commander';
import { checkOutputFile, WriteFailedError } from '../base/atomic.js';
import { safeText, shellArg } from '../base/terminal-safe.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import type { BackendName } from '../linalg/index.js';
import { rangeTestLines, rangeTestReport } from '../report/lr-find.js';
import { rangeTestUntil, RANGE_TEST_DEFAULTS, type RangeTestOptions, type RangeTestResult } from '../train/lr-find.js';
import { optimizerLabel } from '../train/optimizers.js';
import { TrainingRun } from '../train/run.js';
import { recordFlags, settingLabels, type SettingKey } from '../train/settings.js';
import { EXIT, InterruptedError, signalExitCode, UsageError, watchStopSignals, type SignalWatch } from './errors.js';
import { addBackendOption, addQuietOption, examples, positiveInt, positiveNumber, unitInterval } from './options.js';
import { Output, style, writeOrRescue } from './output.js';
import { addDtypeOption, providerForDtype } from './precision.js';
import { addSettingOptions, planRun, type RunPlan, type TrainOptions } from './train.js';

/** The run settings lr-find has no use for: it sweeps η over mini-batches, with no epochs, schedule, validation or saved model. */
const NOT_FOR_LR_FIND: readonly SettingKey[] = ['lr', 'epochs', 'validation', 'valData', 'schedule', 'earlyStop', 'saveEvery', 'saveBest'];

interface LrFindOptions extends RangeTestOptions, TrainOptions {
  report?: string;
}

export function lrFindCommand(): Command {
  const cmd = new Command('lr-find').description(
    "the learning-rate range test (Smith 2017): train mini-batches with η growing exponentially, plot the loss against η and suggest η where it falls fastest; takes train's network, data and optimizer flags",
  );
  addSettingOptions(cmd, NOT_FOR_LR_FIND);
  const d = RANGE_TEST_DEFAULTS;
  cmd
    .option('--start-lr <eta>', 'η of the first mini-batch', positiveNumber, d.startLr)
    .option('--end-lr <eta>', 'η of the last mini-batch', positiveNumber, d.endLr)
    .option('--steps <n>', 'mini-batches, η growing by the same factor each (fewer when the loss diverges first)', positiveInt, d.steps)
    .option('--smoothing <beta>', 'β of the moving average of the loss', unitInterval, d.smoothing)
    .option('--divergence <k>', 'stop once the smoothed loss is k times its lowest', positiveNumber, d.divergence)
    .option('--report <file.html>', 'write a self-contained HTML page with the loss against η')
    .option('--json', 'print one JSON result on stdout (human text goes to stderr)', false);
  addQuietOption(cmd);
  addBackendOption(cmd);
  addDtypeOption(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['the 784-100-10 ReLU net with plain SGD on the embedded digits', 'backprop lr-find'],
      ['Adam on Fashion-MNIST, with the chart in an HTML page', 'backprop lr-find --data fashion-mnist --hidden 256,128 --optimizer adam --start-lr 1e-6 --end-lr 1 --report lr.html'],
    ]),
  );
  return cmd.action(async function (this: Command, opts: LrFindOptions) {
    if (!(opts.startLr < opts.endLr)) throw new UsageError(`--start-lr ${opts.startLr}: it must be below --end-lr ${opts.endLr}`);
    if (opts.steps < 2) throw new UsageError(`--steps ${opts.steps}: the test needs at least 2 mini-batches`);
    if (!(opts.divergence > 1)) throw new UsageError(`--divergence ${opts.divergence}: give a factor above 1`);
    // SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (the terminal closed) stop the test at its next yield;
    // the curve so far is still printed and written, and the exit code is 128 + the signal's number.
    const stops = watchStopSignals();
    try {
      process.exitCode = await lrFind(opts, (k) => this.getOptionValueSource(k) === 'cli', stops);
    } finally {
      stops.release();
    }
  });
}

/**
 * Builds the network and data as `train` would (planRun), runs the range test
 * until it ends or a signal stops it, prints the chart and the suggestion,
 * writes --report (rescued if it cannot be) and the JSON result. Returns the exit code.
 */
async function lrFind(opts: LrFindOptions, given: (key: string) => boolean, stops: SignalWatch): Promise<number> {
  const out = new Output(opts.json, opts.quiet);
  const t0 = performance.now();
  if (opts.report) checkOutputFile(opts.report, '--report'); // a path that cannot be written costs no work
  const plan = planRun({ ...opts, epochs: 1, schedule: 'constant', warmup: 0, monitorMetric: 'val-loss', overwrite: false, monitor: false }, given);
  const provider = await providerForDtype({ backend: plan.record.backend as BackendName }, plan.net.dtype, out);
  plan.record.backend = provider.name;
  const trainer = new TrainingRun({ ...plan, kernels: provider.kernels }).trainer;
  out.note(heading(plan, opts, provider.name));
  await stops.settle(); // a signal while the data loaded
  if (stops.signal) throw new InterruptedError(stops.signal, 'before the first mini-batch: nothing was run, so no curve or report was written');
  const result = await rangeTestUntil(trainer, plan.ds.train, plan.rng, opts, () => stops.signal !== undefined);
  for (const l of rangeTestLines(result)) out.note(l);
  if (result.interrupted) out.line(style.warn(interruptedLine(stops.signal ?? 'SIGINT', result, opts)));
  const failures: string[] = []; // outputs that could not be written: reported after every other output
  const report = opts.report ? writeOrRescue(opts.report, '--report', 'the report was', await reportHtml(plan, opts, result), (m) => failures.push(m)) : undefined;
  if (report && report === opts.report) out.note(`report written to ${shellArg(report)}`);
  out.line(outcome(result));
  const { save: _save, ...options } = plan.record;
  out.result({
    command: 'lr-find',
    data: plan.ds.name,
    architecture: { ...plan.net.arch, init: plan.record.init, parameters: plan.net.parameterCount },
    test: { startLr: opts.startLr, endLr: opts.endLr, steps: opts.steps, smoothing: opts.smoothing, divergence: opts.divergence },
    suggestedLr: result.steepest?.lr ?? null, // null: no suggestion (the loss never fell, or too few mini-batches ran)
    steepest: result.steepest,
    lowest: result.lowest,
    stopped: result.stopped,
    points: result.points,
    seconds: (performance.now() - t0) / 1000,
    report,
    interrupted: result.interrupted === true,
    signal: result.interrupted ? (stops.signal ?? null) : null,
    // train's flags for this network and optimizer at the suggested η (epochs and the like are train's to choose).
    config: { ...recordFlags(plan.record), ...(result.steepest ? { lr: result.steepest.lr } : {}), epochs: undefined },
    ...jsonProvenance(provenance(provider, plan.net.dtype, plan.record.seed, options)),
  });
  await stops.settle(); // one that came while the report was written is still counted
  if (failures.length) throw new WriteFailedError(failures.join('; ')); // after the JSON: the numbers are on stdout whatever became of the file
  return stops.signal ? signalExitCode(stops.signal) : EXIT.ok;
}

/** The line of a test stopped by a signal: how far it got, and what the curve and the suggestion below are of. */
function interruptedLine(sig: NodeJS.Signals, r: RangeTestResult, o: LrFindOptions): string {
  const last = r.points.at(-1);
  return (
    `interrupted${sig === 'SIGINT' ? '' : ` by ${sig}`} after ${r.points.length} of ${o.steps} mini-batches` +
    (last ? ` (η up to ${last.lr.toPrecision(2)})` : '') +
    ': the curve and the suggestion are of those'
  );
}

function heading(plan: RunPlan, o: LrFindOptions, kernels: string): string {
  const { record: run, ds, net } = plan;
  const a = net.arch;
  return (
    style.bold('backprop lr-find') +
    ` ${ds.name}: ${ds.train.count} train · ${a.sizes.join('-')} ${a.activation}→${a.outputActivation}, ${a.cost}, init ${run.init}` +
    (run.initFrom ? ` · from ${safeText(run.initFrom.file)}` : '') +
    ` · ${run.optimizer && run.optimizer.name !== 'sgd' ? `${optimizerLabel(run.optimizer)} ` : ''}${settingLabels(run, ['lr', 'epochs'])}` +
    ` · η from ${o.startLr} to ${o.endLr} over ${o.steps} mini-batches, loss smoothed with β ${o.smoothing}, stop at ${o.divergence}× its lowest · seed ${run.seed} · ${kernels} kernels`
  );
}

/** The result line: the suggested η, the lowest loss, and where the test stopped. */
function outcome(r: RangeTestResult): string {
  const low = r.lowest ? `; lowest smoothed loss ${r.lowest.smoothed.toPrecision(3)} at η ${r.lowest.lr.toPrecision(2)}` : '';
  const stop = r.stopped ? `; the loss ${r.stopped.why === 'diverged' ? 'diverged' : 'was not finite'} at η ${r.stopped.lr.toPrecision(2)} (mini-batch ${r.stopped.step})` : '';
  if (!r.steepest && r.interrupted) return style.warn(`no suggestion: the ${r.points.length} mini-batches run before the interruption show no fall of the smoothed loss yet${low}`);
  if (!r.steepest) return style.warn(`no suggestion: the smoothed loss never fell (${r.points.length} mini-batches)${low}${stop}; try a lower --start-lr`);
  return `${style.good(`suggested η ${r.steepest.lr.toPrecision(2)}`)} (steepest descent of the smoothed loss, mini-batch ${r.steepest.step})${low}${stop}`;
}

/** The --report page: the chart of the points run, the settings and the suggestion. */
function reportHtml(plan: RunPlan, o: LrFindOptions, r: RangeTestResult): Promise<string> {
  const a = plan.net.arch;
  return rangeTestReport(
    `backprop lr-find ${plan.ds.name}`,
    `${a.sizes.join('-')} ${a.activation}→${a.outputActivation}, ${a.cost} · ${plan.ds.train.count} training examples`,
    [
      ['optimizer', `${optimizerLabel(plan.record.optimizer)} ${settingLabels(plan.record, ['lr', 'epochs'])}`],
      ['η', `from ${o.startLr} to ${o.endLr} over ${o.steps} mini-batches (${r.points.length} run${r.interrupted ? ', then interrupted' : ''})`],
      [
        'suggested η',
        r.steepest
          ? `${r.steepest.lr.toPrecision(2)} (steepest descent of the smoothed loss)`
          : r.interrupted
            ? 'none yet: the smoothed loss had not fallen when the test was interrupted'
            : 'none: the smoothed loss never fell',
      ],
      ['seed', String(plan.record.seed)],
    ],
    r,
  );
}
