import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, RunLog } from '../../src/train/run-log.js';

const OLD_HEADER = 'kind,epoch,batch,lr,loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,seconds,examples_per_second';
const m = { epoch: 3, loss: 0.5, trainAccuracy: 0.75, validationLoss: 0.65, validationAccuracy: 0.72, testLoss: 0.6, testAccuracy: 0.7, lr: 0.1, seconds: 4 };

describe('one naming of the log fields', () => {
  it("the CSV header is the JSON line's keys, in camel case, every one of them", () => {
    const record = RunLog.epoch(m, 1000);
    expect([...CSV_COLUMNS].filter((c) => c !== 'batch')).toEqual(Object.keys(record));
    expect(CSV_COLUMNS.every((c) => /^[a-z][a-zA-Z]*$/.test(c))).toBe(true);
  });

  it('appending to a CSV written with the old snake-case header adds no second header, and each value stays under its old name', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'old.csv');
    writeFileSync(path, `${OLD_HEADER}\nepoch,1,,0.2,0.9,0.5,,,0.8,0.55,2,500\n`);
    const log = new RunLog({ csv: path });
    log.record(RunLog.epoch(m, 1000));
    log.close();
    const [header, , row] = readFileSync(path, 'utf8').trim().split('\n');
    expect(header).toBe(OLD_HEADER);
    const cells = Object.fromEntries(row.split(',').map((c, i) => [OLD_HEADER.split(',')[i], c]));
    expect(cells).toMatchObject({ epoch: '3', train_accuracy: '0.75', validation_loss: '0.65', test_accuracy: '0.7', examples_per_second: '250' });
  });
});
