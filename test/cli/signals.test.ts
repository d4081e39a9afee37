import { afterEach, describe, expect, it, vi } from 'vitest';
import { InterruptedError, signalExitCode, STOP_SIGNALS, watchStopSignals } from '../../src/cli/errors.js';

// The one signal watch of `train` and `learners` (their runs end to end are in
// test/cli/resume.test.ts, test/cli/faults.test.ts and test/learners/faults.test.ts).
describe('watchStopSignals', () => {
  afterEach(() => vi.restoreAllMocks());

  it('notes the first signal, exits 128 + n on the second, and release() restores the handlers that were there', () => {
    const before = STOP_SIGNALS.map((s) => process.listenerCount(s));
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const watch = watchStopSignals();
    expect(STOP_SIGNALS.map((s) => process.listenerCount(s))).toEqual(before.map((n) => n + 1));
    expect(watch.signal).toBeUndefined();
    process.emit('SIGTERM', 'SIGTERM');
    expect(watch.signal).toBe('SIGTERM');
    expect(exit).not.toHaveBeenCalled();
    expect(() => process.emit('SIGINT', 'SIGINT')).toThrow('exit 143'); // a second signal: out at once, with the code of the first
    expect(exit).toHaveBeenCalledWith(143);
    expect(watch.signal).toBe('SIGTERM');
    watch.release();
    expect(STOP_SIGNALS.map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('settle() lets a signal that was raised during synchronous work reach the watch', async () => {
    const watch = watchStopSignals();
    try {
      setImmediate(() => process.emit('SIGHUP', 'SIGHUP')); // delivered at the next turn of the event loop, like a real signal after sync work
      expect(watch.signal).toBeUndefined();
      await watch.settle();
      expect(watch.signal).toBe('SIGHUP');
    } finally {
      watch.release();
    }
  });

  it('exit codes and messages name the signal as a shell would', () => {
    expect(STOP_SIGNALS.map(signalExitCode)).toEqual([130, 143, 129]);
    expect(new InterruptedError('SIGINT', 'before the first batch').message).toBe('interrupted before the first batch');
    expect(new InterruptedError('SIGTERM', 'before the first batch').message).toBe('interrupted by SIGTERM before the first batch');
  });
});
