import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { decimal } from '../../src/data/csv.js';
import { parseAugment } from '../../src/data/augment.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, sizeList, unitInterval } from '../../src/cli/options.js';

// Every number a user types is a decimal number: Number() alone reads 0x10 as 16, 0b11 as 3, 0o7 as 7,
// Infinity, and '' or '  ' as 0. The flags' parsers, --augment's values and CSV cells share decimal().

const NOT_DECIMAL = ['0x10', '0X1A', '0b11', '0o7', 'Infinity', '-Infinity', 'NaN', '', '  ', '1_000', '1,5', '--1', '1e', '.', 'e3', '١٢'];

describe('decimal(): the numbers a user may type', () => {
  it.each([
    ['3', 3],
    ['-0.5', -0.5],
    ['+2', 2],
    ['.25', 0.25],
    ['1.', 1],
    ['1e-3', 0.001],
    ['2E+2', 200],
    [' 7 ', 7],
  ])('%j is %d', (s, x) => expect(decimal(s)).toBe(x));
  it.each(NOT_DECIMAL)('%j is NaN', (s) => expect(decimal(s)).toBeNaN());
});

describe("the flags' parsers refuse what is not decimal", () => {
  const parsers = { positiveNumber, nonNegativeNumber, positiveInt, nonNegativeInt, unitInterval, sizeList: (v: string) => sizeList(`784,${v},10`) };
  for (const [name, parse] of Object.entries(parsers))
    it(`${name}: ${NOT_DECIMAL.length} forms refused with an InvalidArgumentError`, () => {
      for (const s of NOT_DECIMAL.filter((s) => name !== 'sizeList' || s !== '1,5')) expect(() => parse(s), JSON.stringify(s)).toThrow(InvalidArgumentError); // 1,5 is a list of two sizes
    });
  it('an integer beyond 2^53 − 1 is not one a double holds exactly: refused (--batch-size 1e20 was printed as m=100000000000000000000)', () => {
    expect(positiveInt('9007199254740991')).toBe(2 ** 53 - 1);
    for (const s of ['9007199254740993', '1e20']) expect(() => positiveInt(s), s).toThrow('expected a positive integer (at most 2^53 − 1).');
  });
  it('and read the decimal forms', () => {
    expect([positiveInt('16'), positiveInt('1e3'), nonNegativeInt('0'), positiveNumber('.5'), nonNegativeNumber('0'), unitInterval('0.9')]).toEqual([16, 1000, 0, 0.5, 0, 0.9]);
    expect(sizeList('784, 30 ,10')).toEqual([784, 30, 10]);
  });
  it('--augment values too (shift=0x2 was a shift of 2)', () => {
    expect(parseAugment('shift=2').shift).toBe(2);
    for (const v of ['shift=0x2', 'rotate=0b1', 'scale=Infinity', 'elastic=0x22:4']) expect(() => parseAugment(v), v).toThrow();
  });
});
