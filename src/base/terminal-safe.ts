/**
 * Text from a file, a server or a checkpoint on its way to a terminal.
 *
 * A terminal obeys what it prints: ESC [ … (CSI: move the cursor, clear the
 * screen, colour), ESC ] … BEL (OSC: set the window title, write the
 * clipboard, hyperlinks), C1 controls (U+0080–U+009F, which some terminals
 * take as ESC + a letter), a carriage return that rewrites the line, and
 * Unicode's invisible formatting (bidi overrides U+202A–U+202E and
 * U+2066–U+2069 that reorder what is shown, zero-width characters, line and
 * paragraph separators). A model whose metadata holds `\x1b]0;…\x07` or
 * `\r$ rm -rf ~` would set the window title or forge a line.
 *
 * `safeText` makes every such character visible instead, as the escape a
 * programmer would type (`\x1b`, `\u202e`, `\n`), so that nothing is hidden
 * and nothing is obeyed; printable text, including non-Latin letters and
 * emoji, is left as it is. JSON output keeps the exact value and only spells
 * the same characters as JSON escapes (`safeJson`), so it stays valid JSON.
 */

/** Controls (Cc: C0, DEL, C1), invisible formatting (Cf: bidi, zero-width, BOM, …), line and paragraph separators, and lone surrogates. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const c = ch.codePointAt(0)!;
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : c <= 0xffff ? `\\u${c.toString(16).padStart(4, '0')}` : `\\u{${c.toString(16)}}`;
}

/** Longest value quoted whole in a message; a longer one is cut (see `shorten`). */
export const QUOTE_LIMIT = 200;

/**
 * At most `max` characters of text: a longer text keeps its start and says
 * how much was cut, e.g. `aaaa… (5242880 characters)`. Never cuts a
 * character in half (a surrogate pair stays whole).
 */
export function shorten(text: string, max = QUOTE_LIMIT): string {
  if (text.length <= max) return text;
  let end = max;
  if (/[\uD800-\uDBFF]/.test(text[end - 1])) end--;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/**
 * Text safe to print on a terminal: every control, invisible formatting
 * character or separator shown as its escape (ESC as `\x1b`, U+202E as
 * `\u202e`, a newline as `\n`), then cut to `max` characters when given.
 */
export function safeText(text: unknown, max?: number): string {
  const s = String(text);
  const cut = max === undefined ? s : shorten(s, max);
  return cut.replace(UNSAFE, visible);
}

/**
 * The colour codes (SGR: ESC [ n m) that our own `style` (cli/output.ts) has chalk write, at every colour level:
 * bold 1 and dim 2 (ended by 22), red 31, green 32 and yellow 33 (ended by 39). The only escape sequences a line
 * of ours may carry: a value that brings others (conceal 8, which hides the rest of the line; 256 colours;
 * black on black) has them escaped even when colours are on. test/security/prints.test.ts checks that `style`
 * writes nothing else.
 */
export const OUR_COLOURS = /(\x1b\[(?:1|2|22|31|32|33|39)m)/;

/**
 * A line of a command's own text, which may quote names and values from
 * anywhere (a file name, a server's URL, an environment variable, metadata):
 * what safeText escapes is escaped here too, but for the line breaks and tabs
 * of the text itself and, when `colours` is set, the colour codes of our own
 * style (OUR_COLOURS). A value's own colour code is a sequence like any other
 * when colours are off, and when they are on unless it is one of those five,
 * which can colour text but not hide or move it. The last line of defence:
 * every line an Output prints passes here.
 */
export function safeLine(text: string, colours: boolean): string {
  const keep = (s: string) => s.replace(UNSAFE, (ch) => (ch === '\n' || ch === '\t' ? ch : visible(ch)));
  if (!colours || !text.includes('\x1b')) return keep(text);
  return text
    .split(OUR_COLOURS)
    .map((part, i) => (i % 2 === 1 ? part : keep(part)))
    .join('');
}

/**
 * A path or argument as a user can paste it into a POSIX shell, in a suggested command (`continue with: backprop
 * train --resume DIR`) or a line that names a file: bare when it holds only characters no shell treats specially,
 * else in single quotes (each ' as '\''), so that a directory named `a b;echo PWNED` is one argument, not a
 * second command; then neutralised as safeText does (a newline in it shows as \n, forging no line).
 */
export function shellArg(arg: string): string {
  return safeText(/^[\w./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
}

/**
 * JSON.stringify, then the characters JSON allows raw but a terminal obeys
 * (DEL, C1 controls, bidi and other invisible formatting, U+2028/U+2029) spelt
 * as \uXXXX: the same value for a JSON reader, nothing for a terminal to obey.
 */
export function safeJson(value: unknown, indent?: number): string {
  const s = JSON.stringify(value, null, indent);
  if (s === undefined) return s;
  // (The only raw newlines JSON.stringify writes are its indentation's: kept.)
  return s.replace(UNSAFE, (ch) => (ch === '\n' ? ch : Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')));
}
