/**
 * Strict JSON syntax check (RFC 8259) with a position and a reason in words, for `.json` configs: the engine's
 * `JSON.parse` messages ("Unexpected token '}', ... is not valid JSON") name no line and read like a crash.
 * YAML parsing (which accepts every JSON text's structure) still builds the document; this only refuses what JSON
 * does not allow (comments, single quotes, trailing commas, unquoted keys, …).
 */

/** The first syntax error of a JSON text: its character offset and what is wrong. */
export interface JsonSyntaxError {
  offset: number;
  message: string;
}

/** Deepest nesting accepted (a config nests 3 deep; this only keeps hostile input bounded). */
const MAX_DEPTH = 1000;

class Fail extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** How a character is named in a message. */
function shown(ch: string | undefined): string {
  if (ch === undefined) return 'the end of the text';
  if (ch === '\n') return 'a line break';
  if (ch === '\t') return 'a tab';
  return `'${ch}'`;
}

/**
 * Checks `text` against the JSON grammar.
 * @returns undefined when it is one JSON value (surrounded by whitespace only), else the first error.
 */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else break;
    }
  };
  const expectValue = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new Fail(i, `values are nested more than ${MAX_DEPTH} deep`);
    ws();
    const c = text[i];
    if (c === '{') return object(depth + 1);
    if (c === '[') return array(depth + 1);
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const w of ['true', 'false', 'null']) {
      if (text.startsWith(w, i)) {
        i += w.length;
        return;
      }
    }
    if (c === "'") throw new Fail(i, 'strings must be in double quotes (") in JSON');
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) throw new Fail(i, 'JSON does not allow comments');
    throw new Fail(i, `expected a value, found ${shown(c)}`);
  };
  const object = (depth: number): void => {
    const open = i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === undefined) throw new Fail(open, 'the object opened here is never closed with }');
      if (text[i] === '}') throw new Fail(i, "a trailing comma before '}' is not allowed in JSON");
      if (text[i] !== '"') throw new Fail(i, `expected a key in double quotes, found ${shown(text[i])}`);
      string();
      ws();
      if (text[i] !== ':') throw new Fail(i, `expected ':' after the key, found ${shown(text[i])}`);
      i++;
      expectValue(depth);
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      if (text[i] === undefined) throw new Fail(open, 'the object opened here is never closed with }');
      throw new Fail(i, `expected ',' or '}' after a member, found ${shown(text[i])}`);
    }
  };
  const array = (depth: number): void => {
    const open = i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === undefined) throw new Fail(open, 'the array opened here is never closed with ]');
      if (text[i] === ']') throw new Fail(i, "a trailing comma before ']' is not allowed in JSON");
      expectValue(depth);
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      if (text[i] === undefined) throw new Fail(open, 'the array opened here is never closed with ]');
      throw new Fail(i, `expected ',' or ']' after an element, found ${shown(text[i])}`);
    }
  };
  const string = (): void => {
    const open = i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c === '\n') throw new Fail(open, 'the string opened here is never closed with "');
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') throw new Fail(i, 'a control character (such as a tab) must be escaped inside a JSON string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, 'an escape \\u must be followed by 4 hex digits');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, `invalid escape \\${e ?? ''} in a string`);
        i += 2;
        continue;
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) throw new Fail(i, `invalid number starting with ${shown(text[i])}`);
    const after = text[i + m[0].length];
    if (after !== undefined && /[0-9.eE]/.test(after))
      throw new Fail(i, `invalid number ${text.slice(i, i + m[0].length + 1)}… (JSON numbers have no leading zeros and need digits after '.')`);
    i += m[0].length;
  };
  try {
    expectValue(0);
    ws();
    if (i < text.length) throw new Fail(i, `unexpected ${shown(text[i])} after the end of the JSON value`);
    return undefined;
  } catch (e) {
    if (e instanceof Fail) return { offset: e.offset, message: e.message };
    throw e;
  }
}
